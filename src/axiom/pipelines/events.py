"""Events pipeline: price history -> detected market events -> ``market-events``.

Tasks: ``fetch_prices`` -> ``detect_events`` (symbol batches on the executor) ->
``publish_events``. Detection needs the history before the run's interval (volatility,
52-week windows), so the whole stored history is read and only events inside
[start, end] are published. Event ids are natural keys: a re-run re-publishes the same
ids and the consumers' upserts change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from axiom.analytics.events import EventConfig, detect_all
from axiom.analytics.returns import PricePanel
from axiom.compute.base import batched
from axiom.domain.models import MarketEvent, PriceBars
from axiom.domain.topics import MARKET_EVENTS
from axiom.errors import PipelineError
from axiom.pipelines.base import PipelineContext, PipelineResult, publishing, universe_symbols

if TYPE_CHECKING:
    from axiom.pipelines.base import TaskProgress

NAME = "events"
SYMBOLS_PER_TASK = 250


def fetch_prices(ctx: PipelineContext) -> list[PriceBars]:
    """Stored bars of the universe's symbols, up to the run's ``end``."""
    bars = ctx.runtime.warehouse.price_bars(universe_symbols(ctx.params), end=ctx.params.end)
    if not bars:
        raise PipelineError("no price bars in the warehouse; run the ingestion pipeline first")
    return [bars[s] for s in sorted(bars)]


def detect_events(
    ctx: PipelineContext,
    bars: Sequence[PriceBars],
    config: EventConfig | None = None,
    *,
    progress: TaskProgress | None = None,
) -> list[MarketEvent]:
    """Run every detector over symbol batches in parallel; events of [start, end] only.

    ``progress`` is advanced per symbol (a new bar is opened without it).
    """
    cfg = config or EventConfig()
    batches = batched(list(bars), SYMBOLS_PER_TASK)
    bar = progress or ctx.progress.task("event detection (symbols)", len(bars))

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
    """Fetch, then detect and publish in rounds of one symbol batch per worker.

    Each round's events are flushed before the next round is detected, so the consumers
    of ``market-events`` work while the rest is still being detected. If a round fails,
    the rounds before it stay published; a re-run publishes the same event ids again,
    which the consumers' upserts absorb.
    """
    bars = fetch_prices(ctx)
    bar = ctx.progress.task("event detection (symbols)", len(bars))
    by_kind: dict[str, int] = {}
    found = 0
    with publishing(ctx, NAME) as pub:
        for part in batched(bars, SYMBOLS_PER_TASK * max(1, ctx.runtime.executor.workers)):
            events = detect_events(ctx, part, progress=bar)
            for e in events:
                pub.send(MARKET_EVENTS, e.symbol, e.to_payload())
                by_kind[e.kind] = by_kind.get(e.kind, 0) + 1
            pub.flush()
            found += len(events)
    return PipelineResult(
        NAME,
        ctx.run_id,
        pub.counts,
        {"symbols": len(bars), "events": found, "by_kind": by_kind},
    )
