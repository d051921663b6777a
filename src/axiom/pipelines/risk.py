"""Risk pipeline: shock scenario -> DebtRank over the company graph -> ``risk-scores``.

Tasks: ``fetch_graph`` -> ``propagate`` -> ``publish_scores``. The impact graph is built
from the company-to-company relationships of the graph store, each type with its own
weight (:data:`TYPE_WEIGHTS`). Without explicit shocks the default scenario shocks the
three most connected companies by 50 %. The scenario id is derived from the shocks, so
the same scenario re-run replaces its scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from axiom.analytics.risk import DebtRankResult, ImpactGraph, debtrank
from axiom.domain.models import RiskScore, stable_id
from axiom.domain.topics import RISK_SCORES
from axiom.errors import PipelineError, UnknownSymbolError
from axiom.pipelines.base import PipelineContext, PipelineResult, publishing

NAME = "risk"
COMPANY = "Company:"
#: Impact per unit of edge weight, by relationship type (0 switches a type off).
TYPE_WEIGHTS: dict[str, float] = {
    "CORRELATED_WITH": 0.5,  # weight |rho|
    "PEER_OF": 0.3,  # weight Jaccard of industries
    "BOARD_INTERLOCK": 0.1,  # weight shared people
    "SUPPLIER_OF": 0.6,  # supplier distress hurts the customer
    "CUSTOMER_OF": 0.4,
    "SUBSIDIARY_OF": 0.8,
    "PARTNER_OF": 0.2,
}
SYMMETRIC = ("CORRELATED_WITH", "PEER_OF", "BOARD_INTERLOCK", "PARTNER_OF")
DEFAULT_SHOCK = 0.5
TOP = 10


def fetch_graph(ctx: PipelineContext) -> ImpactGraph:
    """Company nodes and their weighted, typed relationships as an impact graph."""
    edges = [
        e
        for e in ctx.runtime.graph.edges(list(TYPE_WEIGHTS))
        if e.src.startswith(COMPANY) and e.dst.startswith(COMPANY)
    ]
    companies = ctx.runtime.graph.counts().nodes.get("Company", 0)
    if not companies:
        raise PipelineError("the graph has no companies; run the company_graph pipeline first")
    ids = sorted({e.src for e in edges} | {e.dst for e in edges})
    index = {n: i for i, n in enumerate(ids)}
    return ImpactGraph.from_edges(
        ids,
        np.array([index[e.src] for e in edges], dtype=np.int64),
        np.array([index[e.dst] for e in edges], dtype=np.int64),
        np.array([e.weight for e in edges], dtype=np.float64),
        [e.type for e in edges],
        TYPE_WEIGHTS,
        symmetric_types=SYMMETRIC,
    )


def default_shocks(graph: ImpactGraph, n: int = 3) -> dict[str, float]:
    """The ``n`` companies with the largest outbound impact lose :data:`DEFAULT_SHOCK`."""
    outbound = np.asarray(graph.inbound.sum(axis=0)).ravel()
    order = np.lexsort((np.arange(graph.n), -outbound))[:n]
    return {graph.node_ids[i].removeprefix(COMPANY): DEFAULT_SHOCK for i in order.tolist()}


def propagate(graph: ImpactGraph, shocks: Mapping[str, float]) -> DebtRankResult:
    """Run DebtRank for ``shocks`` (symbol -> loss fraction)."""
    unknown = [s for s in shocks if COMPANY + s not in graph.node_ids]
    if unknown:
        raise UnknownSymbolError(
            f"unknown symbol(s) {', '.join(sorted(unknown))}: not connected in the company graph"
        )
    return debtrank(graph, graph.shock_vector({COMPANY + s: v for s, v in shocks.items()}))


def scores(graph: ImpactGraph, result: DebtRankResult, scenario_id: str) -> list[RiskScore]:
    """One score per company with a loss."""
    return [
        RiskScore(
            scenario_id,
            graph.node_ids[i].removeprefix(COMPANY),
            min(1.0, float(result.h[i])),
            int(result.first_round[i]),
            shocked=bool(result.first_round[i] == 0),
        )
        for i in np.flatnonzero(result.h > 0).tolist()
    ]


def publish_scores(ctx: PipelineContext, risk: list[RiskScore]) -> dict[str, int]:
    """One message per affected company, keyed by symbol."""
    with publishing(ctx, NAME) as pub:
        for s in risk:
            pub.send(RISK_SCORES, s.symbol, s.to_payload())
    return pub.counts


def run(ctx: PipelineContext) -> PipelineResult:
    """Build the impact graph, propagate the scenario, publish the scores."""
    graph = fetch_graph(ctx)
    shocks = dict(ctx.params.shocks) or default_shocks(graph)
    result = propagate(graph, shocks)
    scenario_id = stable_id(*sorted(f"{s}={v:.6f}" for s, v in shocks.items()))
    risk = scores(graph, result, scenario_id)
    top = sorted((s for s in risk if not s.shocked), key=lambda s: (-s.loss, s.symbol))[:TOP]
    detail: dict[str, Any] = {
        "scenario_id": scenario_id,
        "shocks": {s: -v for s, v in shocks.items()},
        "debtrank": result.debtrank,
        "total_loss": result.total_loss,
        "rounds": len(result.rounds) - 1,
        "per_round": [
            {"round": r.round, "newly_distressed": r.newly_distressed, "loss": r.loss}
            for r in result.rounds
        ],
        "affected": len(risk),
        "top": [{"symbol": s.symbol, "loss": s.loss, "round": s.round} for s in top],
        "graph": {"nodes": graph.n, "impacts": int(graph.inbound.nnz)},
    }
    return PipelineResult(NAME, ctx.run_id, publish_scores(ctx, risk), detail)
