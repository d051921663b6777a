"""Correlations pipeline: returns over a window -> changed edges -> ``correlation-updates``.

Tasks: ``fetch_returns`` -> ``compute_edges`` -> ``publish_changes``. Only edges that are
new, changed by more than 1e-6, or gone (``removed=True``) are published, compared with
the edges the warehouse holds, so a re-run on the same data publishes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import numpy as np

from axiom.analytics.correlations import diff_edges, edges_from_matrix, rolling
from axiom.analytics.returns import log_returns
from axiom.domain.models import CorrelationEdge
from axiom.domain.topics import CORRELATION_UPDATES
from axiom.errors import PipelineError
from axiom.pipelines.base import PipelineContext, PipelineResult, publishing, universe_symbols

NAME = "correlations"
MIN_COVERAGE = 0.9
#: Calendar days read beyond the window's trading days (holidays, a late last bar).
READ_MARGIN_DAYS = 30


def fetch_returns(ctx: PipelineContext) -> tuple[list[str], np.ndarray, date]:
    """Log returns of the last ``window`` days up to ``end``: (symbols, returns, window end).

    Symbols with less than 90 % of the window's returns are left out. Reads the days
    from about ``window * 7 / 5`` calendar days before ``end`` (or today; or, when the
    data ends earlier, before its last day), and the whole history only when those hold
    fewer than ``window + 1`` days; either way the window is the last ``window + 1`` days
    of the history up to ``end``.
    """
    p = ctx.params
    symbols = universe_symbols(p)
    warehouse = ctx.runtime.warehouse
    # Only the last window + 1 days are used: read the span that holds them on a trading
    # calendar, ending at `end` (or today); when the data ends earlier, again from its
    # last day; everything only when that still holds too few days.
    span = timedelta(days=(p.window + 1) * 7 // 5 + READ_MARGIN_DAYS)
    cm = warehouse.close_matrix(
        symbols, start=(p.end or datetime.now(UTC).date()) - span, end=p.end
    )
    if 0 < cm.values.shape[0] < p.window + 1:
        last = date.fromisoformat(str(cm.dates[-1]))
        cm = warehouse.close_matrix(symbols, start=last - span, end=p.end)
    if cm.values.shape[0] < p.window + 1:
        cm = warehouse.close_matrix(symbols, end=p.end)
    if cm.values.shape[0] < 3:
        raise PipelineError("not enough price history; run the ingestion pipeline first")
    close = cm.values[-(p.window + 1) :]
    rets = log_returns(close)
    keep = np.isfinite(rets).mean(axis=0) >= MIN_COVERAGE
    window_end = date.fromisoformat(str(cm.dates[-1]))
    return [s for s, k in zip(cm.symbols, keep, strict=True) if k], rets[:, keep], window_end


def compute_edges(
    ctx: PipelineContext, symbols: Sequence[str], returns: np.ndarray, window_end: date
) -> list[CorrelationEdge]:
    """The edge set: each symbol's ``top_k`` partners with ``|rho| >= threshold``."""
    p = ctx.params
    corr = rolling(returns, p.window, method=p.method)  # type: ignore[arg-type]
    return edges_from_matrix(
        corr,
        symbols,
        top_k=p.top_k,
        threshold=p.threshold,
        window_end=window_end,
        window=p.window,
        method=p.method,
    )


def publish_changes(
    ctx: PipelineContext, edges: Sequence[CorrelationEdge]
) -> tuple[dict[str, int], int]:
    """Publish the difference with the stored edges; returns counts and changed edges."""
    previous = ctx.runtime.warehouse.correlation_edges(ctx.params.method)
    changes = diff_edges(previous, edges)
    with publishing(ctx, NAME) as pub:
        for e in changes:
            pub.send(CORRELATION_UPDATES, e.a, e.to_payload())
    return pub.counts, len(changes)


def run(ctx: PipelineContext) -> PipelineResult:
    """Fetch, compute, publish the changes."""
    symbols, rets, window_end = fetch_returns(ctx)
    edges = compute_edges(ctx, symbols, rets, window_end)
    published, changed = publish_changes(ctx, edges)
    return PipelineResult(
        NAME,
        ctx.run_id,
        published,
        {
            "symbols": len(symbols),
            "edges": len(edges),
            "changed": changed,
            "window_end": window_end.isoformat(),
            "method": ctx.params.method,
        },
    )
