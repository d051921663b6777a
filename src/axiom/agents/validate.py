"""Validation: which extracted claims may reach the graph, and why the others may not.

Called by the ``validate`` node of the company-graph workflow after entity resolution.
A claim is accepted only when its relation is in the vocabulary, its evidence occurs in
the document (found verbatim, or after normalising whitespace, quotes and dashes), its
confidence reaches the threshold, and its counterparty is not the subject itself. Every
rejection carries one reason from :data:`REASONS`; nothing is dropped silently.

An accepted claim cites whole sentences: the span of what the model quoted (at least 8
characters) is widened to the sentence of :meth:`Document.sentences` that contains it, or
to the run of sentences it covers when the quote crosses a boundary. So the stored
evidence is always ``doc.text[start:end]`` of complete sentences, never a fragment.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from axiom.agents.documents import Document
from axiom.agents.extractors.base import Candidate
from axiom.agents.resolve import Resolution
from axiom.agents.vocabulary import is_known

#: Why a claim was rejected (also the ``outcome`` label ``rejected_<reason>`` of the metric).
REASONS = ("unknown_relation", "evidence_not_found", "low_confidence", "self_reference")

_TRANSLATE = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                            "\u2013": "-", "\u2014": "-", "\u00a0": " "})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Claim:
    """A candidate of one document after resolution, before validation."""

    doc: Document
    candidate: Candidate
    subject_id: str
    resolution: Resolution


@dataclass(frozen=True, slots=True)
class Accepted:
    """A validated relation and the ``[start, end)`` span of the sentence(s) it cites.

    ``span`` covers whole sentences of ``claim.doc.text`` (see the module docstring), so
    :attr:`evidence` is what provenance stores and ``text[start:end]`` reproduces it.
    """

    claim: Claim
    span: tuple[int, int]

    @property
    def evidence(self) -> str:
        """The cited sentence(s): exactly ``claim.doc.text[span[0]:span[1]]``."""
        return self.claim.doc.text[self.span[0] : self.span[1]]

    @property
    def key(self) -> tuple[str, str, str]:
        """(subject, relation, counterparty): edges always start at the asserting subject.

        Symmetric relations are not folded into one edge per pair: "Disney competes with
        Netflix" in Disney's filing and the same claim in Netflix's are two edges, each
        with its own evidence, so companies processed in parallel never overwrite each
        other's provenance (queries read them in both directions).
        """
        return self.claim.subject_id, self.claim.candidate.relation, self.claim.resolution.node_id


@dataclass(frozen=True, slots=True)
class Rejected:
    """A claim that did not pass, with the reason."""

    claim: Claim
    reason: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for the CLI report."""
        c = self.claim.candidate
        return {
            "doc": self.claim.doc.doc_id,
            "relation": c.relation,
            "counterparty": c.counterparty,
            "reason": self.reason,
            "confidence": c.confidence,
        }


def _normalise(text: str) -> tuple[str, list[int]]:
    """``text`` with runs of whitespace collapsed and typographic marks made plain.

    Returns the normalised string and, for each of its characters, the index of the
    character of ``text`` it came from (to map a match back to a span of the original).
    """
    out: list[str] = []
    where: list[int] = []
    prev_space = True
    for i, ch in enumerate(text.translate(_TRANSLATE)):
        if ch.isspace():
            if prev_space:
                continue
            ch = " "
            prev_space = True
        else:
            prev_space = False
        out.append(ch)
        where.append(i)
    while out and out[-1] == " ":
        out.pop()
        where.pop()
    return "".join(out), where


def evidence_span(text: str, evidence: str) -> tuple[int, int] | None:
    """The span of the quote ``evidence`` itself in ``text``, or None when it is not there.

    Exact match first; then a match insensitive to whitespace runs, curly quotes and
    dashes (models re-flow lines). Evidence shorter than 8 characters never matches: a
    word is not evidence.
    """
    ev = evidence.strip()
    if len(ev) < 8:
        return None
    at = text.find(ev)
    if at >= 0:
        return at, at + len(ev)
    norm_text, where = _normalise(text)
    norm_ev, _ = _normalise(ev)
    if len(norm_ev) < 8:
        return None
    at = norm_text.find(norm_ev)
    if at < 0:
        return None
    return where[at], where[at + len(norm_ev) - 1] + 1


@lru_cache(maxsize=64)
def _sentence_bounds(doc: Document) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Starts and ends of ``doc``'s sentences (cached: a document has many claims)."""
    sentences = doc.sentences()
    return tuple(x.start for x in sentences), tuple(x.end for x in sentences)


def sentence_span(doc: Document, span: tuple[int, int]) -> tuple[int, int]:
    """``span`` widened to the whole sentences of ``doc`` it touches.

    Called by :func:`validate` with the span of a found quote. The sentences are those of
    :meth:`Document.sentences` (the document's own splitter: ``.!?`` before white space,
    and line ends), so a quote inside one sentence gives that sentence and a quote that
    crosses boundaries gives the sentences from the first it touches to the last. The
    result always contains ``span``; a span touching no sentence (only white space, which
    a found quote never is) is returned unchanged.
    """
    starts, ends = _sentence_bounds(doc)
    first = bisect_right(ends, span[0])  # the first sentence ending after the span starts
    last = bisect_left(starts, span[1]) - 1  # the last sentence starting before it ends
    if first > last:
        return span
    return min(starts[first], span[0]), max(ends[last], span[1])


def validate(claim: Claim, min_confidence: float) -> Accepted | Rejected:
    """Accept or reject one claim (see the module docstring for the rules, in order).

    Called by the workflow's ``validate`` node for every resolved claim; pure. The evidence
    is located with :func:`evidence_span` (a quote that occurs more than once cites its
    first occurrence) and the accepted span is that of :func:`sentence_span`.
    """
    c = claim.candidate
    if not is_known(c.relation):
        return Rejected(claim, "unknown_relation")
    found = evidence_span(claim.doc.text, c.evidence)
    if found is None:
        return Rejected(claim, "evidence_not_found")
    if c.confidence < min_confidence:
        return Rejected(claim, "low_confidence")
    if claim.resolution.node_id == claim.subject_id:
        return Rejected(claim, "self_reference")
    return Accepted(claim, sentence_span(claim.doc, found))
