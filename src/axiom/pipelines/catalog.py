"""The pipeline catalog: every pipeline, its tasks' module and its order, declared once.

The CLI runner (``axiom demo``, ``axiom run``), the Airflow DAGs and the API trigger all
read this; none hard-codes a pipeline list.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from axiom.domain.topics import (
    COMPANY_FUNDAMENTALS,
    CORRELATION_UPDATES,
    GRAPH_MUTATIONS,
    MARKET_EVENTS,
    PRICE_UPDATES,
    RISK_SCORES,
)
from axiom.errors import UnknownPipelineError
from axiom.pipelines.base import PipelineContext, PipelineResult, execute


@dataclass(frozen=True, slots=True)
class PipelineSpec:
    """A pipeline: where its tasks live, what it needs first, what it publishes.

    ``reads`` names the stores (ports) it reads: before it starts, the consumers writing
    those stores must have caught up with everything published so far.
    """

    name: str
    module: str
    description: str
    depends_on: tuple[str, ...]
    publishes: tuple[str, ...]
    reads: tuple[str, ...] = ("warehouse",)

    def runner(self) -> Callable[[PipelineContext], PipelineResult]:
        """The pipeline's ``run`` function (imported on demand)."""
        fn: Callable[[PipelineContext], PipelineResult] = importlib.import_module(self.module).run
        return fn


#: In dependency order: each pipeline reads what the ones before it published.
CATALOG: tuple[PipelineSpec, ...] = (
    PipelineSpec(
        "ingestion",
        "axiom.pipelines.ingestion",
        "universe and market data -> fundamentals and price bars",
        (),
        (COMPANY_FUNDAMENTALS, PRICE_UPDATES),
    ),
    PipelineSpec(
        "company_graph",
        "axiom.pipelines.company_graph",
        "company metadata -> knowledge-graph relationships",
        ("ingestion",),
        (GRAPH_MUTATIONS,),
    ),
    PipelineSpec(
        "events",
        "axiom.pipelines.events",
        "price history -> market events (jumps, gaps, spikes, highs/lows, drawdowns)",
        ("ingestion",),
        (MARKET_EVENTS,),
    ),
    PipelineSpec(
        "correlations",
        "axiom.pipelines.correlations",
        "return correlations -> changed correlation edges",
        ("ingestion",),
        (CORRELATION_UPDATES,),
    ),
    PipelineSpec(
        "risk",
        "axiom.pipelines.risk",
        "shock propagation (DebtRank) over the company graph",
        ("company_graph", "correlations"),
        (RISK_SCORES,),
        ("graph",),
    ),
)

PIPELINES: dict[str, PipelineSpec] = {p.name: p for p in CATALOG}


def get(name: str) -> PipelineSpec:
    """The pipeline called ``name`` (``-`` and ``_`` alike); UnknownPipelineError otherwise."""
    key = name.strip().lower().replace("-", "_")
    if key in PIPELINES:
        return PIPELINES[key]
    near = difflib.get_close_matches(key, list(PIPELINES), n=1)
    hint = f"did you mean '{near[0]}'?" if near else f"choose from: {', '.join(PIPELINES)}"
    raise UnknownPipelineError(f"unknown pipeline '{name}'; {hint}")


def levels(names: Sequence[str]) -> list[list[str]]:
    """``names`` grouped in waves: each wave depends only on earlier waves.

    Pipelines of one wave can run at the same time (dependencies outside ``names`` are
    taken as already satisfied). Order within a wave follows the catalog.
    """
    wanted = [get(n).name for n in names]
    done: set[str] = set()
    waves: list[list[str]] = []
    while len(done) < len(wanted):
        wave = [
            n
            for n in wanted
            if n not in done and all(d in done or d not in wanted for d in PIPELINES[n].depends_on)
        ]
        waves.append(wave)
        done.update(wave)
    return waves


def run_pipeline(name: str, ctx: PipelineContext) -> PipelineResult:
    """Run one pipeline with its run record and metrics."""
    spec = get(name)
    return execute(spec.name, spec.runner(), ctx)
