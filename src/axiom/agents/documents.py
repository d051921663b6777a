"""Documents the company-graph agent reads, and where their sentences are.

A document is a ``.txt`` or ``.md`` file about one company. The company is given by front
matter (``company: AAPL`` between ``---`` lines; optional ``date: 2024-05-01`` = the time
the statements are valid from, and ``title:``) or else by the file name
(``AAPL.txt``, ``AAPL-2024-q1.md`` -> ``AAPL``). ``content_hash`` is the key of the
extraction cache: a document whose text did not change is never sent to an LLM again.
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
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)", re.M)


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
        """sha256 of the text (front matter excluded): the cache key of its extraction."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def sentences(self) -> list[Sentence]:
        """The sentences with their spans, split on ``.!?`` and line ends.

        Abbreviations such as ``Inc.`` stay inside their sentence.
        """
        out: list[Sentence] = []
        buf_start: int | None = None
        for m in _SENTENCE.finditer(self.text):
            start, end = m.start(), m.end()
            if buf_start is None:
                buf_start = start
            chunk = self.text[buf_start:end]
            if re.search(r"\b(?:Inc|Corp|Co|Ltd|No|vs|St|Mr|Ms|Dr|N\.V|S\.A)\.$", chunk.rstrip()):
                continue  # an abbreviation, not a sentence end
            text = chunk.strip()
            if text:
                lead = len(chunk) - len(chunk.lstrip())
                out.append(Sentence(text, buf_start + lead, buf_start + lead + len(text)))
            buf_start = None
        return out


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
    """Every ``.txt``/``.md`` under ``folder`` (recursive), sorted by path.

    Raises InputError when the folder does not exist or holds no document.
    """
    if not folder.is_dir():
        raise InputError(f"documents folder '{folder}' does not exist")
    paths = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
    if not paths:
        raise InputError(f"no .txt or .md documents in '{folder}'")
    return [parse(p, folder) for p in paths]
