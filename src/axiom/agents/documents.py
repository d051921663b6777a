"""Documents the company-graph agent reads, and where their sentences are.

A document is a ``.txt`` or ``.md`` file about one company. The company is given by front
matter (``company: AAPL`` between ``---`` lines; optional ``date: 2024-05-01`` = the time
the statements are valid from, and ``title:``) or else by the file name
(``AAPL.txt``, ``AAPL-2024-q1.md`` -> ``AAPL``). A document without ``date:`` keeps
``valid_from=None`` here; its edges fall back to the extraction date (see
:func:`axiom.agents.mutations.provenance`). ``content_hash`` is the text's part of the
extraction-cache key (with the subject company and the extractor, see
:func:`axiom.agents.workflow.cache_key`): a document whose text and company did not change
is never sent to an LLM again.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from axiom.errors import InputError

SUFFIXES = (".txt", ".md")
_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)
#: A sentence ends after ``.!?`` (and closing quotes) followed by white space, or at "\n".
_BOUNDARY = re.compile(r"[.!?]+[\"')\]\u201d\u2019]*(?=\s|$)|\n")
_ABBREVIATION = re.compile(
    r"(?:^|[^A-Za-z])(?:Inc|Corp|Co|Ltd|Bros|Jr|Sr|Mr|Mrs|Ms|Dr|St|No|vs|etc|approx|"
    r"[A-Z]\.[A-Z]|[A-Z]\.[A-Z]\.[A-Z]|e\.g|i\.e|[A-Z])\.$"
)


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a document and its ``[start, end)`` character span in ``Document.text``."""

    text: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Document:
    """One source text about one company (the subject of every relation extracted from it)."""

    doc_id: str
    company: str
    text: str
    title: str = ""
    valid_from: date | None = None

    @property
    def content_hash(self) -> str:
        """sha256 of the text (front matter excluded): the text's part of the cache key."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def sentences(self) -> list[Sentence]:
        """The sentences with their spans, split on ``.!?`` before a space, and line ends.

        A period after an abbreviation (``Inc.``, ``N.V.``, ``Bros.``, an initial) does
        not end a sentence unless a line ends there; decimals (``13.7``) and domains
        (``Amazon.com``) never split, since no space follows their period.
        """
        out: list[Sentence] = []
        start = 0
        for m in _BOUNDARY.finditer(self.text):
            end = m.end()
            if m.group(0) != "\n" and not m.group(0).endswith(("!", "?")):
                word = self.text[start : m.start() + 1].rsplit(None, 1)[-1]
                if _ABBREVIATION.search(word):
                    continue  # "Apple Inc. buys": not the end of the sentence
            _add_sentence(out, self.text, start, end)
            start = end
        _add_sentence(out, self.text, start, len(self.text))
        return out


def _add_sentence(out: list[Sentence], text: str, start: int, end: int) -> None:
    chunk = text[start:end]
    body = chunk.strip()
    if body:
        lead = len(chunk) - len(chunk.lstrip())
        out.append(Sentence(body, start + lead, start + lead + len(body)))


def parse(path: Path, root: Path | None = None) -> Document:
    """Read one document file; raises InputError naming the file when it has no company."""
    raw = path.read_text(encoding="utf-8")
    meta: dict[str, str] = {}
    text = raw
    m = _FRONT.match(raw)
    if m:
        for line in m.group(1).splitlines():
            if ":" in line:
                k, v = line.split(":", 1)
                meta[k.strip().lower()] = v.strip().strip("'\"")
        text = raw[m.end() :]
    company = meta.get("company") or meta.get("symbol") or path.stem.split("-")[0].split("_")[0]
    company = company.strip().upper()
    if not company:
        raise InputError(f"{path}: no company (add 'company: SYMBOL' front matter)")
    valid_from: date | None = None
    if "date" in meta:
        try:
            valid_from = date.fromisoformat(meta["date"])
        except ValueError:
            bad = meta["date"]
            raise InputError(f"{path}: front matter date '{bad}' is not YYYY-MM-DD") from None
    doc_id = str(path.relative_to(root)) if root is not None else path.name
    return Document(doc_id, company, text, meta.get("title", ""), valid_from)


def load_folder(folder: Path) -> list[Document]:
    """Every ``.txt``/``.md`` under ``folder`` (recursive, ``README*`` skipped), by path.

    Raises InputError when the folder does not exist or holds no document.
    """
    if not folder.is_dir():
        raise InputError(f"documents folder '{folder}' does not exist")
    paths = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.upper().startswith("README")
    )
    if not paths:
        raise InputError(f"no .txt or .md documents in '{folder}'")
    return [parse(p, folder) for p in paths]
