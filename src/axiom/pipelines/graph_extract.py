"""Company-graph extraction from documents: the agent over a folder, fanned out.

Called by ``axiom graph extract --docs DIR`` (and usable from a DAG task). Documents are
grouped by company; each company is one job of the executor — a thread pool of
``AXIOM_LLM_CONCURRENCY`` workers locally, or an actor pool of ``AXIOM_AGENT_ACTORS``
Ray actors when ``AXIOM_EXECUTOR`` is ``ray://…`` — so a company's relations are
published together or not at all. The run is recorded in ``pipeline_runs`` as
``company_graph_agent``: ``success``, or ``partial`` when the LLM budget stopped it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from axiom.agents.costs import CostGovernor, book_metrics
from axiom.agents.documents import Document, load_folder
from axiom.agents.worker import (
    PIPELINE,
    AgentFactory,
    AgentResources,
    CompanyJob,
    CompanyOutcome,
)
from axiom.compute.base import Executor
from axiom.domain.topics import GRAPH_MUTATIONS
from axiom.pipelines.base import PipelineContext, PipelineResult, execute

NAME = PIPELINE


def jobs_for(documents: list[Document]) -> list[CompanyJob]:
    """One job per company, its documents in path order; companies sorted by symbol."""
    by_company: dict[str, list[Document]] = defaultdict(list)
    for d in documents:
        by_company[d.company].append(d)
    return [CompanyJob(sym, tuple(by_company[sym])) for sym in sorted(by_company)]


def _executor(ctx: PipelineContext) -> tuple[Executor, AgentFactory]:
    settings = ctx.runtime.settings
    if settings.executor.startswith("ray"):
        from axiom.registry import open_backend

        ray_exec: Executor = open_backend("executor", settings.executor, settings)
        return ray_exec, AgentFactory(settings, shares=settings.agent_actors)
    from axiom.compute.local import LocalExecutor

    governor = CostGovernor.from_settings(settings, PIPELINE)
    shared = AgentResources(settings, governor)
    return LocalExecutor(settings.llm_concurrency), AgentFactory(settings, shared=shared)


def _book_remote(llm: str, outcomes: list[CompanyOutcome]) -> None:
    model = llm.split(":", 1)[1] if ":" in llm else llm
    for o in outcomes:
        if o.calls:
            book_metrics(model, PIPELINE, o.calls, o.input_tokens, o.output_tokens, o.cost_usd)


def summarise(outcomes: list[CompanyOutcome]) -> dict[str, Any]:
    """The run's report: what was added, rejected and spent (the CLI prints it).

    ``relations_accepted`` counts distinct edges (two companies asserting the same
    symmetric relation make one); ``relations_added`` those the graph did not hold.
    """
    status = Counter(o.status for o in outcomes)
    rejected = Counter(r["reason"] for o in outcomes for r in o.rejected)
    stopped = next((o.message for o in outcomes if o.status == "budget"), "")
    keys: dict[tuple[str, str, str], bool] = {}
    for a in (a for o in outcomes for a in o.accepted):
        key = (a["src"], a["relation"], a["dst"])
        keys[key] = keys.get(key, False) or a["new"]
    return {
        "companies": len(outcomes),
        "companies_by_status": dict(sorted(status.items())),
        "documents": sum(o.documents for o in outcomes),
        "documents_cached": sum(o.cached_docs for o in outcomes),
        "relations_accepted": len(keys),
        "relations_added": len({k for k, new in keys.items() if new}),
        "rejected": dict(sorted(rejected.items())),
        "mutations_published": sum(o.published for o in outcomes),
        "llm": {
            "calls": sum(o.calls for o in outcomes),
            "retries": sum(o.retries for o in outcomes),
            "input_tokens": sum(o.input_tokens for o in outcomes),
            "output_tokens": sum(o.output_tokens for o in outcomes),
            "cost_usd": round(sum(o.cost_usd for o in outcomes), 6),
        },
        "cost_by_company": {o.symbol: round(o.cost_usd, 6) for o in outcomes if o.cost_usd},
        "stopped": stopped,
        "failed": {o.symbol: o.message for o in outcomes if o.status != "done"},
        "relations": [a for o in outcomes for a in o.accepted],
        "workers": len({o.worker for o in outcomes}),
    }


def run(ctx: PipelineContext, docs: Path) -> PipelineResult:
    """Extract, resolve, validate and publish the relations of every document in ``docs``."""
    jobs = jobs_for(load_folder(docs))
    executor, factory = _executor(ctx)
    bar = ctx.progress.task("companies", len(jobs))
    try:
        outcomes = executor.map_workers(factory, jobs, on_done=lambda _i: bar.advance())
    finally:
        executor.close()
        if factory.shared is not None:
            factory.shared.close()
    if factory.shared is None:  # spent in Ray actors: book it in this process's metrics
        _book_remote(ctx.runtime.settings.llm, outcomes)
    report = summarise(outcomes)
    not_done = len(jobs) - report["companies_by_status"].get("done", 0)
    message = report["stopped"] or (
        f"{not_done} of {len(jobs)} companies not processed" if not_done else ""
    )
    return PipelineResult(
        NAME,
        ctx.run_id,
        {GRAPH_MUTATIONS: report["mutations_published"]},
        report,
        status="partial" if report["stopped"] else "success",
        errors=not_done,
        message=message,
    )


def run_extraction(ctx: PipelineContext, docs: Path) -> PipelineResult:
    """:func:`run` recorded in ``pipeline_runs`` with metrics (the CLI's entry point)."""
    return execute(NAME, lambda c: run(c, docs), ctx)


def extract_with_consumers(
    ctx: PipelineContext, docs: Path, *, wait_timeout_s: float = 600.0
) -> PipelineResult:
    """:func:`run_extraction` with the graph builder running until it caught up."""
    from axiom.consumers.fleet import ConsumerFleet

    fleet = ConsumerFleet(ctx.runtime.settings, ["graph-builder"]).start()
    try:
        result = run_extraction(ctx, docs)
        fleet.wait_caught_up(wait_timeout_s)
    finally:
        fleet.stop()
    return result
