"""Small deterministic domain objects for the warehouse contract suite."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

from axiom.domain.models import (
    Company,
    CorrelationEdge,
    KeyPerson,
    MarketEvent,
    PriceBars,
    RiskScore,
)
from axiom.stores.base import PipelineRun, SymbolStats

T0 = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)


def bars(
    symbol: str,
    start: str = "2024-01-01",
    n: int = 5,
    base: float = 100.0,
    *,
    step: int = 1,
    simulated: bool = False,
) -> PriceBars:
    """``n`` valid bars every ``step`` days from ``start``; closes base, base+1, ..."""
    dates = np.datetime64(start, "D") + np.arange(n) * step
    close = base + np.arange(n, dtype=np.float64) + 0.123456789012
    open_ = close - 0.25
    return PriceBars(
        symbol,
        dates,
        open_,
        close + 0.5,
        open_ - 0.5,
        close,
        np.full(n, 1000.0) + np.arange(n),
        simulated,
    ).validate()


def company(symbol: str, name: str | None = None) -> Company:
    return Company(
        symbol=symbol,
        name=name or f"{symbol} Holdings",
        isin=f"US{symbol:0>9}0",
        country="US",
        sector="Technology",
        industries=("Software", "Cloud"),
        indices=("S&P 500",),
        hq_city="Springfield",
        hq_country="US",
        key_people=(KeyPerson("Ada Lovelace", ("CEO", "Director")), KeyPerson("Bob")),
        currency="USD",
        revenue=1.25e9,
        revenue_currency="USD",
        employees=12_000,
        website=f"https://{symbol.lower()}.example",
    )


def event(symbol: str, day: date, kind: str = "jump", magnitude: float = 0.05) -> MarketEvent:
    return MarketEvent(symbol, day, kind, magnitude, {"z": 4.5, "ret": magnitude}, True)


def edge(a: str, b: str, rho: float = 0.8, method: str = "pearson") -> CorrelationEdge:
    return CorrelationEdge(a, b, rho, date(2024, 6, 28), 252, method)


def score(scenario: str, symbol: str, loss: float, rnd: int = 1) -> RiskScore:
    return RiskScore(scenario, symbol, loss, rnd, shocked=rnd == 0)


def stats(symbol: str, last_close: float = 101.5, ret_1d: float = 0.01) -> SymbolStats:
    return SymbolStats(symbol, date(2024, 6, 28), last_close, 252, ret_1d, 0.3, 120.0, 90.0, -0.15)


def run(
    run_id: str,
    pipeline: str = "ingestion",
    minutes: int = 0,
    status: str = "running",
    finished: bool = False,
) -> PipelineRun:
    started = T0 + timedelta(minutes=minutes)
    return PipelineRun(
        run_id=run_id,
        pipeline=pipeline,
        trigger="cli",
        status=status,
        started_at=started,
        finished_at=started + timedelta(seconds=42.5) if finished else None,
        records=1800 if finished else 0,
        errors=0,
        duration_s=42.5 if finished else 0.0,
        detail="done" if finished else "",
    )
