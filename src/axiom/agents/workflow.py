"""The company-graph workflow as a LangGraph ``StateGraph``.

``gather -> retrieve -> extract -> resolve -> validate -> emit``, run once per company
with that company's documents. Built by :class:`~axiom.agents.worker.CompanyGraphAgent`
(one per thread or Ray actor) around the clients it holds. Guarantees:

* a document is extracted at most once per :func:`cache_key` (its text, the subject
  company it is read about, and the extractor): the answer is stored in the warehouse's
  extraction cache *before* anything else happens, so a crash, a re-run or a budget stop
  never pays for it again, and an unchanged document filed under the same company is
  never sent again;
* a company's mutations are published together in ``emit``, after every one of its
  documents was extracted and validated; if the budget runs out or the model fails on
  one document, the workflow ends before ``emit`` and nothing of that company is
  published (its finished documents stay cached for the next run).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict

import orjson
from langgraph.graph import END, START, StateGraph

from axiom.agents import mutations as mut
from axiom.agents.documents import Document
from axiom.agents.extractors.base import Candidate, Context, Extraction, Extractor, Usage
from axiom.agents.resolve import EntityResolver
from axiom.agents.validate import Accepted, Claim, Rejected, validate
from axiom.agents.vocabulary import edge_type
from axiom.domain.models import GraphMutation
from axiom.domain.topics import GRAPH_MUTATIONS
from axiom.errors import BudgetExceededError, LLMError
from axiom.observability import metrics
from axiom.stores.base import GraphStore, VectorIndex, Warehouse

NODES = ("gather", "retrieve", "extract", "resolve", "validate", "emit")
#: Vector-index collection of company profiles (written by the vector indexer consumer).
PROFILES = "companies"


class AgentState(TypedDict, total=False):
    """What flows through the workflow for one company."""

    symbol: str
    documents: list[Document]
    subject_id: str
    subject_name: str
    status: str  # running, done, unknown_company, budget, failed
    message: str
    existing: set[tuple[str, str, str]]
    contexts: dict[str, Context]
    extractions: dict[str, Extraction]
    extracted_at: dict[str, str]
    cached_docs: int
    usage: Usage
    claims: list[Claim]
    accepted: list[Accepted]
    rejected: list[Rejected]
    mutations: list[GraphMutation]
    published: int
    new: list[Accepted]


@dataclass
class AgentDeps:
    """The clients one workflow instance uses (owned by the worker that built it)."""

    extractor: Extractor
    resolver: EntityResolver
    warehouse: Warehouse
    graph: GraphStore
    vectors: VectorIndex
    send: Callable[[str, str | None, dict[str, Any]], None]
    flush: Callable[[], None]
    pipeline: str = "company_graph_agent"
    min_confidence: float = 0.6
    retrieve_k: int = 5


#: First element of every key's preimage; bump it when what :func:`cache_key` covers
#: changes, so rows written under the old rule are never read again (v1 was extractor +
#: text only, and served one company's extraction to another filed with the same body).
CACHE_KEY_VERSION = "extraction-v2"


def cache_key(extractor: Extractor, doc: Document, subject_id: str, context: Context) -> str:
    """The extraction-cache key of ``doc`` read about the subject company of ``context``.

    Called by the ``extract`` node for every document, before the cache lookup and as the
    key the answer is stored under. It is a sha256 over everything an extraction result
    depends on, so equal keys mean the cached candidates are the ones a new call would be
    asked for:

    * ``extractor.cache_key`` - the extractor, model and prompt version;
    * ``doc.content_hash`` - the text (front matter excluded: only the text is sent);
    * the subject: ``subject_id`` (``Company:<symbol>`` as the ``gather`` node resolved
      it) and the symbol and name the extractor is given in ``context``. Candidates are
      relative to the subject (direction, which names are counterparties), so the same
      body filed under another company, or a document whose ``company:`` changed, is a
      new extraction.

    ``context.known_companies`` is deliberately left out: those names are spelling hints
    from the vector index (the prompt says they are not facts; the offline extractor
    ignores them), evidence is checked against the text and counterparties are resolved
    by our own resolver. They change whenever other companies' profiles are indexed, so
    keying on them would re-send unchanged documents and break "an unchanged document is
    never sent again". Title and ``date:`` are not sent, so they are not part of it either.
    """
    parts = [
        CACHE_KEY_VERSION,
        extractor.cache_key,
        doc.content_hash,
        subject_id,
        context.subject_symbol,
        context.subject_name,
    ]
    return hashlib.sha256(orjson.dumps(parts)).hexdigest()


def _timed(deps: AgentDeps, name: str, fn: Callable[[AgentState], AgentState]) -> Any:
    def node(state: AgentState) -> AgentState:
        t0 = time.perf_counter()
        try:
            return fn(state)
        finally:
            metrics.AGENT_CALLS.labels(agent=name, pipeline=deps.pipeline).inc()
            metrics.AGENT_SECONDS.labels(agent=name).observe(time.perf_counter() - t0)

    return node


def build_workflow(deps: AgentDeps) -> Any:
    """The compiled LangGraph workflow over ``deps`` (call ``.invoke(state)``)."""

    def gather(state: AgentState) -> AgentState:
        symbol = state["symbol"]
        subject = deps.resolver.resolve_subject(symbol)
        if subject is None:
            return {"status": "unknown_company", "message": f"'{symbol}' is not a known company"}
        sid = f"Company:{subject.symbol}"
        _, edges = deps.graph.subgraph([sid], 1, mut.AGENT_EDGE_TYPES)
        existing = {(e.src, e.type, e.dst) for e in edges if sid in (e.src, e.dst)}
        return {"status": "running", "subject_id": sid, "subject_name": subject.name,
                "existing": existing}  # fmt: skip

    def retrieve(state: AgentState) -> AgentState:
        contexts: dict[str, Context] = {}
        for doc in state["documents"]:
            hits = deps.vectors.query(PROFILES, doc.text[:2000], k=deps.retrieve_k)
            names = [h.document.split(" (", 1)[0] for h in hits if h.id != state["symbol"]]
            contexts[doc.doc_id] = Context(state["symbol"], state["subject_name"], tuple(names))
        return {"contexts": contexts}

    def extract(state: AgentState) -> AgentState:
        usage, cached = Usage(), 0
        out: dict[str, Extraction] = {}
        when: dict[str, str] = {}
        for doc in state["documents"]:
            context = state["contexts"][doc.doc_id]
            key = cache_key(deps.extractor, doc, state["subject_id"], context)
            hit = deps.warehouse.cached_extraction(key)
            if hit is not None:
                metrics.AGENT_CACHE.labels(result="hit").inc()
                cached += 1
                out[doc.doc_id] = Extraction(
                    [Candidate.from_dict(c) for c in hit["candidates"]], Usage(), hit["model"]
                )
                when[doc.doc_id] = str(hit["extracted_at"])
                continue
            metrics.AGENT_CACHE.labels(result="miss").inc()
            try:
                got = deps.extractor.extract(doc, context)
            except BudgetExceededError as exc:
                return {"status": "budget", "message": str(exc), "usage": usage}
            except LLMError as exc:
                return {"status": "failed", "message": f"{doc.doc_id}: {exc}", "usage": usage}
            usage.add(got.usage)
            schema_rejects = int(getattr(got, "rejected_schema", 0))
            if schema_rejects:
                metrics.AGENT_RELATIONS.labels(outcome="rejected_schema").inc(schema_rejects)
            stamp = datetime.now(UTC).isoformat(timespec="seconds")
            deps.warehouse.store_extraction(
                key,
                doc_id=doc.doc_id,
                company=state["symbol"],
                extractor=deps.extractor.cache_key,
                payload={
                    "candidates": [c.to_dict() for c in got.candidates],
                    "model": got.model,
                    "extracted_at": stamp,
                    "usage": {"input_tokens": got.usage.input_tokens,
                              "output_tokens": got.usage.output_tokens,
                              "cost_usd": got.usage.cost_usd},
                },
            )  # fmt: skip
            out[doc.doc_id] = got
            when[doc.doc_id] = stamp
        return {"extractions": out, "extracted_at": when, "cached_docs": cached, "usage": usage}

    def resolve(state: AgentState) -> AgentState:
        claims = [
            Claim(doc, cand, state["subject_id"], deps.resolver.resolve(cand.counterparty))
            for doc in state["documents"]
            for cand in state["extractions"][doc.doc_id].candidates
        ]
        return {"claims": claims}

    def check(state: AgentState) -> AgentState:
        accepted: list[Accepted] = []
        rejected: list[Rejected] = []
        for claim in state["claims"]:
            verdict = validate(claim, deps.min_confidence)
            if isinstance(verdict, Accepted):
                accepted.append(verdict)
                metrics.AGENT_RELATIONS.labels(outcome="accepted").inc()
            else:
                rejected.append(verdict)
                metrics.AGENT_RELATIONS.labels(outcome=f"rejected_{verdict.reason}").inc()
        return {"accepted": mut.best_per_key(accepted), "rejected": rejected}

    def emit(state: AgentState) -> AgentState:
        models = {d: e.model for d, e in state["extractions"].items()}
        muts = mut.build(state["accepted"], models, state["extracted_at"])
        for m in muts:
            key = m.node.id if m.node is not None else state["subject_id"]
            deps.send(GRAPH_MUTATIONS, key, m.to_payload())
        deps.flush()
        new = [a for a in state["accepted"] if _graph_key(a) not in state["existing"]]
        return {"status": "done", "mutations": muts, "published": len(muts), "new": new}

    def running(state: AgentState) -> str:
        return "next" if state.get("status") == "running" else "stop"

    g: StateGraph[AgentState] = StateGraph(AgentState)
    for name, fn in zip(NODES, (gather, retrieve, extract, resolve, check, emit), strict=True):
        g.add_node(name, _timed(deps, name, fn))
    g.add_edge(START, "gather")
    g.add_conditional_edges("gather", running, {"next": "retrieve", "stop": END})
    g.add_edge("retrieve", "extract")
    g.add_conditional_edges("extract", running, {"next": "resolve", "stop": END})
    g.add_edge("resolve", "validate")
    g.add_edge("validate", "emit")
    g.add_edge("emit", END)
    return g.compile()


def _graph_key(a: Accepted) -> tuple[str, str, str]:
    """The natural key of ``a``'s edge in the graph store (edge types are upper case)."""
    src, rel, dst = a.key
    return src, edge_type(rel), dst
