"""Validation: which extracted claims may reach the graph, and why the others may not.

Called by the ``validate`` node of the company-graph workflow after entity resolution.
A claim is accepted only when its relation is in the vocabulary, its evidence occurs in
the document (found verbatim, or after normalising whitespace, quotes and dashes), its
confidence reaches the threshold, and its counterparty is not the subject itself. Every
rejection carries one reason from :data:`REASONS`; nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    """A validated relation with the ``[start, end)`` span of its evidence in the document."""

    claim: Claim
    span: tuple[int, int]

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
    """The span of ``evidence`` in ``text``, or None when it does not occur there.

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


def validate(claim: Claim, min_confidence: float) -> Accepted | Rejected:
    """Accept or reject one claim (see the module docstring for the rules, in order)."""
    c = claim.candidate
    if not is_known(c.relation):
        return Rejected(claim, "unknown_relation")
    span = evidence_span(claim.doc.text, c.evidence)
    if span is None:
        return Rejected(claim, "evidence_not_found")
    if c.confidence < min_confidence:
        return Rejected(claim, "low_confidence")
    if claim.resolution.node_id == claim.subject_id:
        return Rejected(claim, "self_reference")
    return Accepted(claim, span)
