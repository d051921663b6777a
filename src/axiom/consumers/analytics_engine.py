"""Analytics engine: rolling per-symbol statistics from the price stream.

Keeps the last 252 bars of each symbol in memory, merged by day with each new message
(so a re-delivered message changes nothing), and upserts :class:`SymbolStats`. After a
restart the tail of a symbol is re-read from the warehouse the first time the symbol is
seen, if the new bars do not already hold a full year.
"""

from __future__ import annotations

import math
from datetime import date
from typing import TYPE_CHECKING

import numpy as np

from axiom.consumers.runner import Batch, Sink
from axiom.domain.models import PriceBars
from axiom.domain.topics import PRICE_UPDATES
from axiom.stores.base import SymbolStats

if TYPE_CHECKING:
    from axiom.stores.base import Warehouse

YEAR = 252


def _merge(tail: PriceBars | None, new: PriceBars) -> PriceBars:
    if tail is None or len(tail) == 0:
        merged = new
    else:
        keep = ~np.isin(tail.dates, new.dates)  # the new bars replace same-day ones

        dates = np.concatenate([tail.dates[keep], new.dates])
        order = np.argsort(dates, kind="stable")

        def col(name: str) -> np.ndarray:
            return np.concatenate([getattr(tail, name)[keep], getattr(new, name)])[order]

        merged = PriceBars(
            new.symbol,
            dates[order],
            col("open"),
            col("high"),
            col("low"),
            col("close"),
            col("volume"),
            new.simulated,
        )
    return merged.slice(max(0, len(merged) - YEAR - 1), len(merged))


def compute_stats(bars: PriceBars) -> SymbolStats:
    """Statistics of the last year of ``bars`` (at least one bar)."""
    close = bars.close
    rets = np.diff(np.log(close))
    last20 = rets[-20:]
    peak = float(close.max())
    return SymbolStats(
        symbol=bars.symbol,
        last_day=date.fromisoformat(str(bars.dates[-1])),
        last_close=float(close[-1]),
        bars=len(bars),
        ret_1d=float(rets[-1]) if rets.size else 0.0,
        vol_20d=float(last20.std(ddof=1) * math.sqrt(YEAR)) if last20.size > 1 else 0.0,
        high_52w=peak,
        low_52w=float(close.min()),
        drawdown=float(close[-1] / peak - 1.0),
    )


class AnalyticsEngine(Sink):
    """Maintains ``symbol_stats`` in the warehouse from ``price-updates``."""

    name = "analytics-engine"
    database = "warehouse"
    topics = (PRICE_UPDATES,)
    #: The statistics cover the last year: a year of returns needs YEAR + 1 bars.
    price_tail = YEAR + 1

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self._tails: dict[str, PriceBars] = {}

    def _tail(self, new: PriceBars) -> PriceBars | None:
        tail = self._tails.get(new.symbol)
        if tail is None and len(new) < YEAR + 1:
            found = self.warehouse.price_bars([new.symbol])
            tail = found.get(new.symbol)
        return tail

    def write(self, batch: Batch) -> int:
        """Merge each message into its symbol's tail and upsert the new statistics."""
        touched: dict[str, PriceBars] = {}
        for bars in batch.of(PRICE_UPDATES):
            if len(bars) == 0:
                continue
            merged = _merge(touched.get(bars.symbol) or self._tail(bars), bars)
            touched[bars.symbol] = merged
        self._tails.update(touched)
        if not touched:
            return 0
        return self.warehouse.upsert_symbol_stats([compute_stats(b) for b in touched.values()])
