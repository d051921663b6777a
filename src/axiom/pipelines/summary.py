"""The demo summary: what landed in the stores after a full run, read back from them."""

from __future__ import annotations

from collections import Counter
from typing import Any

from axiom.pipelines.base import PipelineContext
from axiom.pipelines.orchestrate import OrchestrationResult


def demo_summary(ctx: PipelineContext, run: OrchestrationResult) -> dict[str, Any]:
    """Figures of a finished demo, from the stores (not from what was published)."""
    rt = ctx.runtime
    wh = rt.warehouse
    counts = wh.counts()
    events = Counter(e.kind for e in wh.events())
    graph = rt.graph.counts()
    by_name = {r.pipeline: r for r in run.results}
    ingestion = by_name["ingestion"].detail if "ingestion" in by_name else {}
    risk = dict(by_name["risk"].detail) if "risk" in by_name else {}
    if risk:
        names = {c.symbol: c.name for c in wh.companies([r["symbol"] for r in risk["top"]])}
        stored = {s.symbol: s.loss for s in wh.risk_scores(risk["scenario_id"])}
        risk["top"] = [
            {**r, "name": names.get(r["symbol"], ""), "stored_loss": stored.get(r["symbol"])}
            for r in risk["top"]
        ]
    companies = counts.get("companies", 0)
    minutes = run.elapsed_s / 60 if run.elapsed_s else float("nan")
    return {
        "universe": ctx.params.universe,
        "companies": companies,
        "price_bars": counts.get("prices", 0),
        "events": {"total": sum(events.values()), "by_kind": dict(sorted(events.items()))},
        "correlation_edges": counts.get("correlation_edges", 0),
        "graph": {
            "nodes": graph.total_nodes,
            "relationships": graph.total_relationships,
            "nodes_by_label": graph.nodes,
            "relationships_by_type": graph.relationships,
        },
        "risk": risk,
        "elapsed_s": round(run.elapsed_s, 3),
        "companies_per_min": round(companies / minutes, 1) if companies else 0.0,
        "simulated": bool(ingestion.get("simulated", True)),
        "date_range": [ingestion.get("start"), ingestion.get("end")],
        "stages": {k: round(v, 3) for k, v in run.stage_seconds.items()},
        "published": {r.pipeline: r.published for r in run.results},
        "consumers": {
            n: {
                "records": s.records,
                "written": s.written,
                "dead_lettered": s.dead_lettered,
                "batches": s.batches,
                "seconds": round(s.seconds, 3),
            }
            for n, s in run.consumers.items()
        },
        "backends": rt.settings.backend_urls(),
    }
