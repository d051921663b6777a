"""The work of one Airflow task, free of Airflow: plan symbol batches, then do one batch.

Called by :mod:`axiom.orchestration.airflow_tasks`, one function per task, with a
:class:`~axiom.pipelines.base.PipelineContext` whose ``params.start``/``params.end`` are the
run's data interval. The functions only split and filter; the fetching, computing and
publishing are the pipelines' own task functions, so what lands in the stores is what
``axiom run`` would write for the same days.

Every function is idempotent: a batch publishes messages keyed by their natural keys and
the consumers upsert, so a retried or re-run task changes nothing in the stores. A batch
outcome is a JSON-ready dict ``{"published": {topic: messages}, "items": n}`` (it travels
as an XCom).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

from axiom.compute.base import batched
from axiom.domain.models import Company, GraphMutation
from axiom.errors import PipelineError, UnknownSymbolError
from axiom.pipelines import company_graph, events, ingestion
from axiom.pipelines.base import PipelineContext, RunParams, publishing
from axiom.pipelines.catalog import run_pipeline
from axiom.sources.base import PriceSource
from axiom.sources.csv_folder import CsvFolderSource
from axiom.sources.market import SimulatedMarket
from axiom.sources.universe import load_universe

#: Calendar of the simulated market the DAGs ingest from. Fixed, so a day's bars do not
#: depend on the interval that asked for them: any backfill of any day gives the same bars.
CALENDAR: tuple[date, date] = (date(2020, 1, 1), date(2030, 12, 31))
_COMPANY = "Company:"

Outcome = dict[str, Any]


def symbol_batches(symbols: Iterable[str], size: int) -> list[list[str]]:
    """Sorted, distinct ``symbols`` cut in batches of at most ``size`` (one mapped task each)."""
    return batched(sorted(set(symbols)), size)


def outcome(published: Mapping[str, int], items: int) -> Outcome:
    """The XCom value of one batch: messages per topic and the batch's unit count."""
    return {"published": dict(published), "items": int(items)}


def merge_outcomes(outcomes: Iterable[Mapping[str, Any]]) -> Outcome:
    """Sum of batch outcomes; called by the task that closes a run."""
    published: dict[str, int] = {}
    items = 0
    for o in outcomes:
        for topic, n in dict(o.get("published") or {}).items():
            published[topic] = published.get(topic, 0) + int(n)
        items += int(o.get("items") or 0)
    return outcome(published, items)


def _universe(params: RunParams) -> set[str] | None:
    """Symbols of the run's universe, or None for ``all``."""
    if params.universe.strip().lower() == "all":
        return None
    return {c.symbol for c in load_universe(params.universe)}


# -- ingestion -------------------------------------------------------------------------------


def plan_ingestion(ctx: PipelineContext, size: int) -> list[list[str]]:
    """Batches of the universe's symbols (UnknownUniverseError for a bad name)."""
    return symbol_batches((c.symbol for c in ingestion.fetch_universe(ctx)), size)


def interval_source(
    params: RunParams, companies: Sequence[Company]
) -> tuple[PriceSource, date, date]:
    """The price source and the days to read: the run's interval, inclusive.

    The simulated market always runs on :data:`CALENDAR` and is cut to the interval; days
    outside the calendar yield no bars. A folder source is read as it is.
    """
    start, end = params.start or CALENDAR[0], params.end or CALENDAR[1]
    if params.source == "simulated":
        market = SimulatedMarket(companies, seed=params.seed, start=CALENDAR[0], end=CALENDAR[1])
        return market, start, end
    return CsvFolderSource(Path(params.source)), start, end


def ingest_batch(ctx: PipelineContext, symbols: Sequence[str]) -> Outcome:
    """Fundamentals and the interval's price bars of ``symbols``; ``items`` counts bars.

    Everything in the interval is published (never only what the warehouse lacks), so a
    backfill of old days re-sends exactly those days. UnknownSymbolError if a symbol
    left the universe since the batches were planned.
    """
    ctx = replace(ctx, params=ctx.params.with_(full_refresh=True))
    wanted = set(symbols)
    companies = [c for c in ingestion.fetch_universe(ctx) if c.symbol in wanted]
    missing = wanted - {c.symbol for c in companies}
    if missing:
        raise UnknownSymbolError(f"not in universe '{ctx.params.universe}': {sorted(missing)}")
    source, start, end = interval_source(ctx.params, companies)
    with publishing(ctx, ingestion.NAME) as pub:
        ingestion.publish_fundamentals(pub, companies, end)
        bars = ingestion.publish_prices(ctx, pub, source, sorted(wanted), start, end)
    return outcome(pub.counts, bars)


# -- company graph ---------------------------------------------------------------------------


def plan_graph(ctx: PipelineContext, size: int) -> list[list[str]]:
    """Batches of the companies the warehouse holds (PipelineError if it holds none)."""
    return symbol_batches((c.symbol for c in company_graph.fetch_company_data(ctx)), size)


def owned_mutations(
    mutations: Sequence[GraphMutation], symbols: Iterable[str], anchor: str
) -> list[GraphMutation]:
    """The part of ``mutations`` that the batch of ``symbols`` publishes, in order.

    A relationship between companies belongs to the batch of its smallest company id; a
    node or relationship without a company (sector, city, person, city -> country) goes
    with every batch whose relationships reach it (merges are idempotent, duplicates are
    dropped when publishing); a node nothing reaches goes with the batch holding ``anchor``
    (the smallest symbol of the run). The union over all batches is ``mutations``.
    """
    batch = {_COMPANY + s for s in symbols}
    edges = [m.edge for m in mutations if m.edge is not None]
    owned: set[tuple[str, str, str]] = set()
    reached: set[str] = set()
    for e in edges:
        companies = [n for n in (e.src, e.dst) if n.startswith(_COMPANY)]
        if companies and min(companies) in batch:
            owned.add((e.src, e.type, e.dst))
            reached.update((e.src, e.dst))
    for e in edges:
        if not any(n.startswith(_COMPANY) for n in (e.src, e.dst)) and (
            e.src in reached or e.dst in reached
        ):
            owned.add((e.src, e.type, e.dst))
            reached.update((e.src, e.dst))
    referenced = {n for e in edges for n in (e.src, e.dst)}
    keeps_orphans = _COMPANY + anchor in batch
    out: list[GraphMutation] = []
    for m in mutations:
        if m.edge is not None:
            if (m.edge.src, m.edge.type, m.edge.dst) in owned:
                out.append(m)
        elif m.node is not None:
            nid = m.node.id
            if nid.startswith(_COMPANY):
                if nid in batch:
                    out.append(m)
            elif nid in reached or (keeps_orphans and nid not in referenced):
                out.append(m)
    return out


def extract_batch(ctx: PipelineContext, symbols: Sequence[str]) -> list[dict[str, Any]]:
    """Mutation payloads of one batch of companies.

    All companies are read as the context of cross-company relationships (peers, board
    interlocks); only the batch's part (:func:`owned_mutations`) is returned.
    """
    companies = company_graph.fetch_company_data(ctx)
    mutations = company_graph.extract_relationships(ctx, companies)
    anchor = min(c.symbol for c in companies)
    return [m.to_payload() for m in owned_mutations(mutations, symbols, anchor)]


def _mutation_key(m: GraphMutation) -> tuple[str, ...]:
    """Natural key of a mutation: the op and the node id or the (src, type, dst) triple."""
    if m.node is not None:
        return (m.op, m.node.id)
    if m.edge is not None:
        return (m.op, m.edge.src, m.edge.type, m.edge.dst)
    return (m.op,)


def publish_graph(ctx: PipelineContext, batches: Iterable[Iterable[Mapping[str, Any]]]) -> Outcome:
    """Publish every batch's mutations once each (duplicates dropped); items = mutations."""
    seen: set[tuple[str, ...]] = set()
    mutations: list[GraphMutation] = []
    for batch in batches:
        for payload in batch:
            m = GraphMutation.from_payload(dict(payload))
            key = _mutation_key(m)
            if key not in seen:
                seen.add(key)
                mutations.append(m)
    mutations.sort(key=lambda m: m.node is None)  # nodes before relationships
    return outcome(company_graph.update_graph(ctx, mutations), len(mutations))


# -- events ----------------------------------------------------------------------------------


def plan_events(ctx: PipelineContext, size: int) -> list[list[str]]:
    """Batches of the universe's symbols that have bars (PipelineError if none has)."""
    symbols = set(ctx.runtime.warehouse.latest_days())
    wanted = _universe(ctx.params)
    if wanted is not None:
        symbols &= wanted
    if not symbols:
        raise PipelineError(
            f"no price bars of universe '{ctx.params.universe}' in the warehouse; "
            "run the ingestion pipeline first"
        )
    return symbol_batches(symbols, size)


def detect_batch(ctx: PipelineContext, symbols: Sequence[str]) -> Outcome:
    """Events of the interval for ``symbols`` (history before it is read as context)."""
    bars = ctx.runtime.warehouse.price_bars(list(symbols), end=ctx.params.end)
    found = events.detect_events(ctx, [bars[s] for s in sorted(bars)])
    published = events.publish_events(ctx, found) if found else {}
    return outcome(published, len(found))


# -- whole pipelines -------------------------------------------------------------------------


def run_whole(ctx: PipelineContext, pipeline: str) -> Outcome:
    """Run a pipeline that is one computation (correlations, risk) with its run record.

    The record is written by :func:`~axiom.pipelines.base.execute` under ``ctx.run_id``;
    a failure is recorded there and re-raised.
    """
    result = run_pipeline(pipeline, ctx)
    return outcome(result.published, result.records)
