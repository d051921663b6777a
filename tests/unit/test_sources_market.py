"""The simulated market: determinism, the statistics it promises, planted jumps, speed."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from datetime import date

import numpy as np
import pytest

from axiom.domain.models import Company, FloatArray, PriceBars
from axiom.errors import DateRangeError, UnknownSymbolError
from axiom.sources.base import PriceSource
from axiom.sources.market import REFERENCE_END, SimulatedMarket
from axiom.sources.simulation import stable_seed
from axiom.sources.universe import load_universe


def _excess_kurtosis(x: FloatArray) -> FloatArray:
    centred = x - x.mean(axis=1, keepdims=True)
    kurtosis: FloatArray = (centred**4).mean(axis=1) / (centred**2).mean(axis=1) ** 2 - 3.0
    return kurtosis


def _lag1_autocorr(x: FloatArray) -> FloatArray:
    a = x[:, :-1] - x[:, :-1].mean(axis=1, keepdims=True)
    b = x[:, 1:] - x[:, 1:].mean(axis=1, keepdims=True)
    rho: FloatArray = (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return rho


def _digest(bars: list[PriceBars]) -> str:
    h = hashlib.sha256()
    for b in bars:
        h.update(b.symbol.encode())
        for col in (b.dates, b.open, b.high, b.low, b.close, b.volume):
            h.update(col.tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def sp500() -> list[Company]:
    return load_universe("S&P 500")


@pytest.fixture(scope="module")
def market(sp500: list[Company]) -> SimulatedMarket:
    return SimulatedMarket(sp500)


@pytest.fixture(scope="module")
def all_bars(market: SimulatedMarket) -> list[PriceBars]:
    return list(market.bars(market.symbols(), market.start, market.end))


def test_is_a_price_source_labelled_simulated(all_bars: list[PriceBars]) -> None:
    assert SimulatedMarket.simulated is True
    assert issubclass(SimulatedMarket, PriceSource)
    assert all(b.simulated for b in all_bars)


def test_default_calendar_is_fixed_business_days(market: SimulatedMarket) -> None:
    assert market.end == REFERENCE_END == date(2025, 12, 31)
    assert market.start == date(2020, 12, 31)
    days = market.dates.astype("datetime64[D]")
    weekdays = (days.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday
    assert bool(np.all(weekdays < 5))
    assert len(days) == int(np.busday_count(date(2020, 12, 31), date(2026, 1, 1)))
    assert 1300 <= len(days) <= 1310


def test_bars_valid_and_complete(market: SimulatedMarket, all_bars: list[PriceBars]) -> None:
    assert [b.symbol for b in all_bars] == market.symbols()
    for b in all_bars:
        b.validate()
        assert len(b) == len(market.dates)
        assert bool(np.all(b.low > 0))
        assert bool(np.all(b.volume > 0))
        assert bool(np.all(b.high >= np.maximum(b.open, b.close)))
        assert bool(np.all(b.low <= np.minimum(b.open, b.close)))
        assert bool(np.all(np.round(b.close, 4) == b.close))
        assert b.close.flags.c_contiguous


def test_same_seed_same_bytes_other_seed_differs(sp500: list[Company]) -> None:
    dow = load_universe("DOW JONES")
    symbols = [c.symbol for c in dow]

    def run(seed: int) -> str:
        m = SimulatedMarket(dow, seed=seed)
        return _digest(list(m.bars(symbols, m.start, m.end)))

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_stream_does_not_depend_on_python_hash_seed() -> None:
    code = (
        "import hashlib; from axiom.sources.universe import load_universe; "
        "from axiom.sources.market import SimulatedMarket; "
        "m = SimulatedMarket(load_universe('DOW JONES')); "
        "b = next(m.bars(['AAPL'], m.start, m.end)); "
        "print(hashlib.sha256(b.close.tobytes() + b.volume.tobytes()).hexdigest())"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }
    assert len(digests) == 1
    assert stable_seed(7, "symbol", "AAPL") == stable_seed(7, "symbol", "AAPL")
    assert stable_seed(7, "symbol", "AAPL") != stable_seed(7, "symbol", "MSFT")


def test_symbol_series_independent_of_universe(
    market: SimulatedMarket, all_bars: list[PriceBars]
) -> None:
    small = SimulatedMarket(load_universe("DOW JONES"))
    in_dow = next(small.bars(["AAPL"], small.start, small.end))
    in_sp500 = next(b for b in all_bars if b.symbol == "AAPL")
    assert _digest([in_dow]) == _digest([in_sp500])
    alone = SimulatedMarket(load_universe("NASDAQ 100")).returns(["AAPL"]).log_returns[0]
    assert np.array_equal(alone, market.returns(["AAPL"]).log_returns[0])


def test_window_is_a_slice_of_the_full_series(
    market: SimulatedMarket, all_bars: list[PriceBars]
) -> None:
    window = list(market.bars(["MSFT", "AAPL", "MSFT"], date(2023, 3, 4), date(2023, 6, 30)))
    assert [b.symbol for b in window] == ["MSFT", "AAPL"]
    full = {b.symbol: b for b in all_bars}
    for b in window:
        lo = int(np.searchsorted(full[b.symbol].dates, np.datetime64("2023-03-06")))
        assert b.dates[0] == np.datetime64("2023-03-06")
        assert b.dates[-1] == np.datetime64("2023-06-30")
        assert _digest([b]) == _digest([full[b.symbol].slice(lo, lo + len(b))])


def test_bad_requests_are_one_line_errors(market: SimulatedMarket) -> None:
    with pytest.raises(UnknownSymbolError, match=r"^unknown symbol 'AAPLE'.*did you mean AAPL"):
        list(market.bars(["AAPL", "AAPLE"], market.start, market.end))
    with pytest.raises(DateRangeError, match="after end"):
        list(market.bars(["AAPL"], date(2024, 2, 1), date(2024, 1, 1)))
    with pytest.raises(DateRangeError):
        SimulatedMarket([], years=0)
    outside = list(market.bars(["AAPL"], date(1999, 1, 1), date(1999, 12, 31)))
    assert len(outside) == 1 and len(outside[0]) == 0 and outside[0].simulated


def test_returns_match_the_bars(market: SimulatedMarket, all_bars: list[PriceBars]) -> None:
    truth = market.returns(market.symbols())
    assert truth.symbols == tuple(market.symbols())
    closes = np.stack([b.close for b in all_bars])
    from_bars = np.diff(np.log(closes), axis=1)
    rounding = 0.5e-4 * (1.0 / closes[:, 1:] + 1.0 / closes[:, :-1]) + 1e-12
    assert bool(np.all(np.abs(from_bars - truth.log_returns[:, 1:]) <= rounding))


def test_fat_tails(market: SimulatedMarket) -> None:
    truth = market.returns(market.symbols())
    idio = _excess_kurtosis(truth.idiosyncratic)
    clean = _excess_kurtosis(truth.log_returns - truth.jumps)
    print(
        f"excess kurtosis: idiosyncratic median {np.median(idio):.2f}, total {np.median(clean):.2f}"
    )
    assert np.median(idio) > 1.0
    assert np.mean(idio > 0.5) > 0.9
    assert np.median(clean) > 1.0


def test_volatility_clusters(market: SimulatedMarket, all_bars: list[PriceBars]) -> None:
    truth = market.returns(market.symbols())
    idio = _lag1_autocorr(truth.idiosyncratic**2)
    closes = np.stack([b.close for b in all_bars])
    observed = np.diff(np.log(closes), axis=1) - truth.jumps[:, 1:]
    seen = _lag1_autocorr(observed**2)
    print(
        f"lag-1 autocorrelation of squared returns: idio {idio.mean():.3f}, bars {seen.mean():.3f}"
    )
    assert idio.mean() > 0.05
    assert seen.mean() > 0.03


def test_sector_structure(market: SimulatedMarket, sp500: list[Company]) -> None:
    truth = market.returns(market.symbols())
    corr: FloatArray = np.asarray(np.corrcoef(truth.log_returns - truth.jumps))
    sector = {c.symbol: c.sector for c in sp500}
    labels = np.array([sector[s] for s in truth.symbols])
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    within, across = corr[same & off_diagonal].mean(), corr[~same].mean()
    print(f"mean pairwise correlation: within sector {within:.3f}, across {across:.3f}")
    assert within > across + 0.05
    assert across > 0.02


def test_planted_jumps(market: SimulatedMarket, all_bars: list[PriceBars]) -> None:
    jumps = market.planted_jumps()
    years = (len(market.dates) - 60) / 252
    rate = len(jumps) / (len(market.symbols()) * years)
    print(f"{len(jumps)} planted jumps = {rate:.3f} per symbol-year")
    assert 0.9 < rate < 1.1
    assert jumps == sorted(jumps, key=lambda j: (j.symbol, j.day))
    first_allowed = market.dates[60].item()
    truth = market.returns(market.symbols())
    row = {s: i for i, s in enumerate(truth.symbols)}
    day = {d.item(): t for t, d in enumerate(market.dates)}
    bars = {b.symbol: b for b in all_bars}
    gaps = 0
    for j in jumps:
        assert j.day >= first_allowed
        assert 10.0 <= abs(j.size) / j.sigma <= 20.0
        i, t = row[j.symbol], day[j.day]
        assert truth.jumps[i, t] == j.size
        assert truth.sigma[i, t] == pytest.approx(j.sigma)
        b = bars[j.symbol]
        move = np.log(b.close[t] / b.close[t - 1])
        assert abs(move) > 4.0 * j.sigma and np.sign(move) == np.sign(j.size)
        gap = np.log(b.open[t] / b.close[t - 1])
        gaps += abs(gap) > abs(np.log(b.close[t] / b.open[t]))
    assert gaps / len(jumps) > 0.6
    assert int(np.count_nonzero(truth.jumps)) == len(jumps)
    signs = np.sign([j.size for j in jumps])
    assert 0.4 < np.mean(signs > 0) < 0.6


def test_volume_reacts_to_big_moves(market: SimulatedMarket, all_bars: list[PriceBars]) -> None:
    jumps = {(j.symbol, j.day) for j in market.planted_jumps()}
    on_jump, ratio = [], []
    for b in all_bars:
        days = [d.item() for d in b.dates]
        marks = np.array([(b.symbol, d) in jumps for d in days])
        if marks.any():
            on_jump.append(float(np.median(b.volume[marks]) / np.median(b.volume)))
        ratio.append(float(b.volume.max() / np.median(b.volume)))
    assert np.median(on_jump) > 2.0
    assert np.median(ratio) > 5.0


def test_fundamentals(market: SimulatedMarket, all_bars: list[PriceBars]) -> None:
    items = market.fundamentals(date(2024, 6, 28))
    assert len(items) == len(market.symbols())
    by_symbol = {f.company.symbol: f for f in items}
    aapl = by_symbol["AAPL"]
    bars = next(b for b in all_bars if b.symbol == "AAPL")
    t = int(np.searchsorted(bars.dates, np.datetime64("2024-06-28")))
    assert aapl.simulated and aapl.as_of == date(2024, 6, 28)
    assert aapl.extra["close"] == bars.close[t]
    assert aapl.extra["market_cap"] == pytest.approx(
        bars.close[t] * aapl.extra["shares_outstanding"]
    )
    assert 0.05 < aapl.extra["volatility_60d"] < 2.0
    assert aapl.company.revenue == 416e9


def test_full_universe_five_years_timing() -> None:
    companies = load_universe()
    started = time.perf_counter()
    market = SimulatedMarket(companies)
    count = bars_total = 0
    for b in market.bars(market.symbols(), market.start, market.end):
        count += 1
        bars_total += len(b)
    elapsed = time.perf_counter() - started
    print(f"full universe: {count} symbols, {bars_total:,} bars in {elapsed:.2f} s")
    assert count == len(companies)
    assert bars_total == count * len(market.dates)
