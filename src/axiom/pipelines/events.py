"""Events pipeline: price history -> detected market events -> ``market-events``.

Tasks: ``fetch_prices`` -> ``detect_events`` (symbol batches on the executor) ->
``publish_events``. Detection needs the history before the run's interval (volatility,
52-week windows), so the whole stored history is read and only events inside
[start, end] are published. Event ids are natural keys: a re-run re-publishes the same
ids and the consumers' upserts change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from axiom.analytics.events import EventConfig, detect_all
from axiom.analytics.returns import PricePanel
from axiom.compute.base import batched
from axiom.domain.models import MarketEvent, PriceBars
from axiom.domain.topics import MARKET_EVENTS
from axiom.errors import PipelineError
from axiom.pipelines.base import PipelineContext, PipelineResult, publishing, universe_symbols

NAME = "events"
SYMBOLS_PER_TASK = 250


def fetch_prices(ctx: PipelineContext) -> list[PriceBars]:
    """Stored bars of the universe's symbols, up to the run's ``end``."""
    bars = ctx.runtime.warehouse.price_bars(universe_symbols(ctx.params), end=ctx.params.end)
    if not bars:
        raise PipelineError("no price bars in the warehouse; run the ingestion pipeline first")
    return [bars[s] for s in sorted(bars)]


def detect_events(
    ctx: PipelineContext, bars: Sequence[PriceBars], config: EventConfig | None = None
) -> list[MarketEvent]:
    """Run every detector over symbol batches in parallel; events of [start, end] only."""
    cfg = config or EventConfig()
    batches = batched(list(bars), SYMBOLS_PER_TASK)
    bar = ctx.progress.task("event detection (symbols)", len(bars))

    def work(batch: list[PriceBars]) -> list[MarketEvent]:
        return detect_all(PricePanel.from_bars(batch), cfg)

    found = ctx.runtime.executor.map(work, batches, on_done=lambda i: bar.advance(len(batches[i])))
    start, end = ctx.params.start, ctx.params.end
    return [
        e
        for events in found
        for e in events
        if (start is None or e.day >= start) and (end is None or e.day <= end)
    ]


def publish_events(ctx: PipelineContext, events: Sequence[MarketEvent]) -> dict[str, int]:
    """One message per event, keyed by symbol."""
    with publishing(ctx, NAME) as pub:
        for e in events:
            pub.send(MARKET_EVENTS, e.symbol, e.to_payload())
    return pub.counts


def run(ctx: PipelineContext) -> PipelineResult:
    """Fetch, detect, publish."""
    bars = fetch_prices(ctx)
    events = detect_events(ctx, bars)
    by_kind: dict[str, int] = {}
    for e in events:
        by_kind[e.kind] = by_kind.get(e.kind, 0) + 1
    return PipelineResult(
        NAME,
        ctx.run_id,
        publish_events(ctx, events),
        {"symbols": len(bars), "events": len(events), "by_kind": by_kind},
    )
