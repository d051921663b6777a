"""The analytics engine's per-symbol tail: merged by day, whatever order bars arrive in."""

from __future__ import annotations

from datetime import date

import numpy as np

from axiom.consumers.analytics_engine import _merge, compute_stats
from axiom.domain.models import PriceBars


def _bars(first: str, n: int, start_price: float) -> PriceBars:
    days = np.arange(np.datetime64(first), np.datetime64(first) + n)
    close = start_price + np.arange(n, dtype=float)
    return PriceBars("X", days, close, close + 1, close - 1, close, np.full(n, 10.0))


def test_an_older_bar_does_not_drop_newer_days() -> None:
    tail = _bars("2025-07-01", 3, 100.0)  # 07-01 .. 07-03
    again = _bars("2025-07-01", 1, 150.0)  # 07-01 re-delivered with another close
    merged = _merge(tail, again)
    assert len(merged) == 3
    stats = compute_stats(merged)
    assert stats.last_day == date(2025, 7, 3)
    assert merged.close.tolist() == [150.0, 101.0, 102.0]


def test_newer_bars_extend_and_the_window_is_one_year() -> None:
    merged = _merge(_bars("2024-01-01", 200, 10.0), _bars("2024-07-19", 200, 500.0))
    assert len(merged) == 253  # a year of returns needs 253 closes
    assert str(merged.dates[-1]) == str(np.datetime64("2024-07-19") + 199)
    assert bool(np.all(np.diff(merged.dates.astype("int64")) > 0))
