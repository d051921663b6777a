"""Ingestion pipeline: universe + market data -> ``company-fundamentals`` and ``price-updates``.

Tasks: ``fetch_universe`` -> ``publish_fundamentals`` -> ``publish_prices``. Price work is
split in symbol batches run on the executor (generate or read, then encode); the caller's
thread sends. A price message carries up to :data:`MAX_BARS_PER_MESSAGE` bars of one
symbol. Only bars after the newest stored day are published unless ``full_refresh``;
re-publishing is harmless anyway (consumers upsert).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np

from axiom.bus.serde import encode
from axiom.compute.base import batched
from axiom.domain.models import Company, Fundamentals
from axiom.domain.topics import COMPANY_FUNDAMENTALS, PRICE_UPDATES
from axiom.errors import InputError
from axiom.pipelines.base import PipelineContext, PipelineResult, Publisher, publishing
from axiom.sources.base import PriceSource
from axiom.sources.csv_folder import CsvFolderSource
from axiom.sources.market import SimulatedMarket
from axiom.sources.universe import find_companies, load_universe

NAME = "ingestion"
MAX_BARS_PER_MESSAGE = 2_000
SYMBOLS_PER_TASK = 100


def fetch_universe(ctx: PipelineContext) -> list[Company]:
    """The companies to ingest (UnknownUniverseError for a bad name).

    With a folder source, the companies are the folder's symbols: those in the universe
    keep their metadata, the others get a bare record (symbol as name).
    """
    p = ctx.params
    if p.source == "simulated":
        return load_universe(p.universe)
    symbols = CsvFolderSource(Path(p.source)).symbols()
    if not symbols:
        raise InputError(f"no <SYMBOL>.csv or <SYMBOL>.parquet files in {p.source}")
    known = find_companies(symbols)
    if p.universe != "all":
        members = {c.symbol for c in load_universe(p.universe)}
        symbols = [s for s in symbols if s in members]
    return [known.get(s) or Company(symbol=s, name=s) for s in sorted(symbols)]


def price_source(
    ctx: PipelineContext, companies: Sequence[Company]
) -> tuple[PriceSource, date, date]:
    """The configured price source and the date range to read from it."""
    p = ctx.params
    if p.source == "simulated":
        market = SimulatedMarket(companies, seed=p.seed, years=p.years, start=p.start, end=p.end)
        return market, market.start, market.end
    return CsvFolderSource(Path(p.source)), p.start or date(1900, 1, 1), p.end or date(2100, 1, 1)


def publish_fundamentals(pub: Publisher, companies: Sequence[Company], as_of: date) -> None:
    """One ``company-fundamentals`` message per company, keyed by symbol."""
    for c in companies:
        pub.send(COMPANY_FUNDAMENTALS, c.symbol, Fundamentals(c, as_of).to_payload())


def _encode_batch(
    source: PriceSource, symbols: list[str], start: date, end: date, after: dict[str, date]
) -> list[tuple[str, bytes, int]]:
    out: list[tuple[str, bytes, int]] = []
    for bars in source.bars(symbols, start, end):
        since = after.get(bars.symbol)
        if since is not None:
            first = int(np.searchsorted(bars.dates, np.datetime64(since, "D"), side="right"))
            bars = bars.slice(first, len(bars))
        for lo in range(0, len(bars), MAX_BARS_PER_MESSAGE):
            chunk = bars.slice(lo, lo + MAX_BARS_PER_MESSAGE)
            value = encode("price_bars", chunk.to_payload(), key=bars.symbol, source=NAME)
            out.append((bars.symbol, value, len(chunk)))
    return out


def publish_prices(
    ctx: PipelineContext,
    pub: Publisher,
    source: PriceSource,
    symbols: Sequence[str],
    start: date,
    end: date,
) -> int:
    """Publish the bars of ``symbols`` in [start, end]; returns bars published."""
    after = {} if ctx.params.full_refresh else ctx.runtime.warehouse.latest_days()
    bar = ctx.progress.task("prices (symbols)", len(symbols))
    batches = batched(list(symbols), SYMBOLS_PER_TASK)
    n_bars = 0

    def work(batch: list[str]) -> list[tuple[str, bytes, int]]:
        return _encode_batch(source, batch, start, end, after)

    for encoded, batch in zip(ctx.runtime.executor.map(work, batches), batches, strict=True):
        for key, value, n in encoded:
            pub.send_raw(PRICE_UPDATES, key, value)
            n_bars += n
        bar.advance(len(batch))
    return n_bars


def run(ctx: PipelineContext) -> PipelineResult:
    """Universe -> fundamentals -> prices."""
    companies = fetch_universe(ctx)
    source, start, end = price_source(ctx, companies)
    symbols = [c.symbol for c in companies]
    with publishing(ctx, NAME) as pub:
        publish_fundamentals(pub, companies, end)
        n_bars = publish_prices(ctx, pub, source, symbols, start, end)
    return PipelineResult(
        NAME,
        ctx.run_id,
        pub.counts,
        {
            "companies": len(companies),
            "price_bars": n_bars,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "simulated": source.simulated,
        },
    )
