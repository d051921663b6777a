"""The company-graph agent as a stateful worker: one per thread or per Ray actor.

The pipeline hands the executor a picklable :class:`AgentFactory` and one
:class:`CompanyJob` per company; each worker the factory builds holds its own clients —
LLM client (extractor), graph store, vector index, warehouse (extraction cache) and a bus
producer — as the seed's ``CompanyGraphActor`` does, and runs the LangGraph workflow for
each job. A job never raises for an expected failure: its :class:`CompanyOutcome` says
``done``, ``budget`` (the LLM budget stopped it before anything was published),
``failed`` (the model failed on one of its documents) or ``unknown_company``; so one
company's trouble never loses the others' results.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from axiom.agents.costs import CostGovernor
from axiom.agents.documents import Document
from axiom.agents.extractors.factory import open_extractor
from axiom.agents.resolve import EntityResolver
from axiom.agents.workflow import AgentDeps, AgentState, build_workflow
from axiom.bus.serde import encode
from axiom.domain.models import Company
from axiom.domain.topics import TOPICS
from axiom.runtime import Runtime
from axiom.settings import Settings

if TYPE_CHECKING:
    from axiom.agents.extractors.base import Extractor
    from axiom.bus.base import Producer

PIPELINE = "company_graph_agent"


@dataclass(frozen=True, slots=True)
class CompanyJob:
    """One company and its documents (the unit of work and of atomic publication)."""

    symbol: str
    documents: tuple[Document, ...]


@dataclass(slots=True)
class CompanyOutcome:
    """What the workflow did for one company (picklable: it crosses Ray processes)."""

    symbol: str
    status: str
    message: str = ""
    documents: int = 0
    cached_docs: int = 0
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    published: int = 0
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    retries: int = 0
    worker: str = ""


def universe_companies(runtime: Runtime) -> list[Company]:
    """Companies the resolver knows: the real universe plus any others in the warehouse."""
    from axiom.sources.universe import load_universe

    known = {c.symbol: c for c in load_universe("all")}
    for c in runtime.warehouse.companies():
        known.setdefault(c.symbol, c)
    return [known[s] for s in sorted(known)]


class AgentResources:
    """Clients shared by the workflows of one process (thread-safe ones only)."""

    def __init__(self, settings: Settings, governor: CostGovernor) -> None:
        self.settings = settings
        self.runtime = Runtime(settings)
        self.governor = governor
        self.extractor: Extractor = open_extractor(settings, governor)
        self.resolver = EntityResolver(universe_companies(self.runtime))

    def close(self) -> None:
        """Close the extractor and every backend."""
        self.extractor.close()
        self.runtime.close()


class CompanyGraphAgent:
    """Runs the workflow per company; see the module docstring for its guarantees."""

    def __init__(self, resources: AgentResources, *, owns: bool) -> None:
        self.resources = resources
        self._owns = owns
        rt = resources.runtime
        # One producer per thread: a threaded Ray actor runs several companies at once,
        # and each company's flush must cover only its own mutations.
        self._local = threading.local()
        self._producers: list[Producer] = []
        self._lock = threading.Lock()
        self.deps = AgentDeps(
            extractor=resources.extractor,
            resolver=resources.resolver,
            warehouse=rt.warehouse,
            graph=rt.graph,
            vectors=rt.vectors,
            send=self._send,
            flush=lambda: self._producer().flush(),
            pipeline=PIPELINE,
            min_confidence=resources.settings.llm_min_confidence,
        )
        self._workflow = build_workflow(self.deps)
        self.name = f"{threading.current_thread().name}@{os.getpid()}"

    def _producer(self) -> Producer:
        producer: Producer | None = getattr(self._local, "producer", None)
        if producer is None:
            producer = self.resources.runtime.bus.producer(client_id=PIPELINE)
            self._local.producer = producer
            with self._lock:
                self._producers.append(producer)
        return producer

    def _send(self, topic: str, key: str | None, payload: dict[str, Any]) -> None:
        value = encode(TOPICS[topic].message_type, payload, key=key, source=PIPELINE)
        self._producer().send(topic, value, key=key)

    def __call__(self, job: CompanyJob) -> CompanyOutcome:
        """Run the workflow for ``job``; never raises for an expected failure."""
        state: AgentState = self._workflow.invoke(
            {"symbol": job.symbol, "documents": list(job.documents)}
        )
        usage = state.get("usage")
        new = state.get("new", [])
        out = CompanyOutcome(
            job.symbol,
            state.get("status", "failed"),
            state.get("message", ""),
            documents=len(job.documents),
            cached_docs=state.get("cached_docs", 0),
            accepted=[_accepted_dict(a, a in new) for a in state.get("accepted", [])]
            if state.get("status") == "done"
            else [],
            rejected=[r.to_dict() for r in state.get("rejected", [])],
            published=state.get("published", 0),
            worker=self.name,
        )
        if usage is not None:
            out.calls, out.retries = usage.calls, usage.retries
            out.input_tokens, out.output_tokens = usage.input_tokens, usage.output_tokens
            out.cost_usd = usage.cost_usd
        return out

    def close(self) -> None:
        """Close the producers, and the shared clients when this worker owns them."""
        for producer in self._producers:
            producer.close()
        if self._owns:
            self.resources.close()


@dataclass
class AgentFactory:
    """Builds a :class:`CompanyGraphAgent` in the process that runs it (picklable).

    Local threads share one :class:`AgentResources` (``shared``, never pickled); a Ray
    actor builds its own, with a governor holding ``1/shares`` of the budget and limits.
    """

    settings: Settings
    shares: int = 1
    shared: AgentResources | None = None

    def __call__(self) -> CompanyGraphAgent:
        """A new worker (one per thread / actor)."""
        if self.shared is not None:
            return CompanyGraphAgent(self.shared, owns=False)
        governor = CostGovernor.from_settings(self.settings, PIPELINE)
        if self.shares > 1:
            governor = governor.share(self.shares)
        return CompanyGraphAgent(AgentResources(self.settings, governor), owns=True)

    def __getstate__(self) -> dict[str, Any]:
        return {"settings": self.settings, "shares": self.shares, "shared": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.settings = state["settings"]
        self.shares = state["shares"]
        self.shared = None


def _accepted_dict(a: Any, new: bool) -> dict[str, Any]:
    src, rel, dst = a.key
    c = a.claim.candidate
    return {
        "src": src,
        "relation": rel,
        "dst": dst,
        "counterparty": c.counterparty,
        "resolution": a.claim.resolution.method,
        "confidence": c.confidence,
        "doc": a.claim.doc.doc_id,
        "evidence": a.evidence,
        "new": new,
    }
