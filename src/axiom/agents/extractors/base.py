"""The extractor port: text in, candidate relationships (with evidence) and usage out.

Called by the ``extract`` node of the company-graph workflow, once per document, possibly
from many threads or Ray actors at once (implementations must be thread-safe). A candidate
is only a claim: the ``resolve`` and ``validate`` nodes decide what reaches the graph.
Raising :class:`~axiom.errors.LLMError` fails that document (counted, the run goes on);
:class:`~axiom.errors.BudgetExceededError` stops the run cleanly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from axiom.agents.documents import Document
from axiom.lifecycle import Closable


@dataclass(frozen=True, slots=True)
class Candidate:
    """One extracted claim: ``subject --relation--> counterparty`` with its evidence."""

    relation: str
    counterparty: str
    evidence: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (cache rows, reports)."""
        return {
            "relation": self.relation,
            "counterparty": self.counterparty,
            "evidence": self.evidence,
            "confidence": self.confidence,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Candidate:
        """Inverse of :meth:`to_dict`."""
        return cls(
            str(d["relation"]), str(d["counterparty"]), str(d["evidence"]), float(d["confidence"])
        )


@dataclass(slots=True)
class Usage:
    """What one extraction cost: API calls, tokens and dollars (all 0 for offline)."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    retries: int = 0

    def add(self, other: Usage) -> None:
        """Accumulate ``other`` into this usage."""
        self.calls += other.calls
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost_usd += other.cost_usd
        self.retries += other.retries


@dataclass(slots=True)
class Extraction:
    """The result of one document: its candidates and what they cost."""

    candidates: list[Candidate]
    usage: Usage = field(default_factory=Usage)
    model: str = "offline"


@dataclass(frozen=True, slots=True)
class Context:
    """What the workflow retrieved for a document before extraction.

    ``subject_name`` is the company's name; ``known_companies`` are names of companies the
    vector index found related to the document (hints for the model, never facts).
    """

    subject_symbol: str
    subject_name: str
    known_companies: Sequence[str] = ()


class Extractor(Closable, ABC):
    """Extracts candidate relationships from one document."""

    #: ``offline`` or ``anthropic:<model>``; stored as provenance on every edge.
    name: str

    @abstractmethod
    def extract(self, doc: Document, context: Context) -> Extraction:
        """Candidates for ``doc`` (its subject is ``context.subject_symbol``)."""

    @property
    def cache_key(self) -> str:
        """Part of the content-hash cache key: a changed prompt or model is a new key."""
        return self.name

    def close(self) -> None:
        """Release clients (default: nothing to release)."""
