"""A deterministic simulated market: the price source that needs no internet.

Every price it yields is made up and says so (``PriceBars.simulated`` is True). The model
is built so that the analytics downstream have something real to find:

* **factor structure** - the daily log return of symbol *i* is
  ``mu_i + beta_i * market_t + gamma_i * sector_t + delta_i * industry_t + eps_it``,
  so returns correlate more within a sector (and more again within an industry);
* **fat tails and volatility clustering** - ``eps`` and every factor are GARCH(1,1) with
  Student-t(5) innovations (per-symbol persistence 0.97-0.99, long-run daily vol 1-3 %);
* **planted jumps** - about one per symbol-year, 10-20 times that day's total conditional
  sigma, random sign, never in the first 60 days, mostly overnight (so they gap). The
  ground truth is :meth:`SimulatedMarket.planted_jumps`, for testing event detectors.

Same seed, same calendar -> byte-identical data, in any process. A symbol's series depends
only on (seed, symbol, calendar), not on which other companies are simulated with it.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from axiom.domain.models import Company, DateArray, FloatArray, Fundamentals, PriceBars
from axiom.errors import DateRangeError, UnknownSymbolError
from axiom.sources.base import PriceSource, business_days, check_range, empty_bars
from axiom.sources.simulation import (
    JUMP_SIGMAS,
    TRADING_DAYS,
    SymbolDraws,
    assemble_ohlcv,
    draw_symbols,
    garch_params,
    garch_paths,
    rng_for,
    t_innovations,
    uniform,
)

#: Last day of the default calendar; fixed so that two runs months apart agree.
REFERENCE_END = date(2025, 12, 31)
_CHUNK = 512  # symbols simulated together; bounds memory at ~100 MB for 5 years
#: (long-run daily vol, persistence) of the market, sector and industry factors.
_FACTOR_SPECS = {"market": (0.009, 0.985), "sector": (0.007, 0.98), "industry": (0.005, 0.975)}


@dataclass(frozen=True, slots=True)
class PlantedJump:
    """A jump the simulator added: ``size`` is the log return added on ``day``.

    ``sigma`` is the symbol's total conditional daily sigma that day, so ``abs(size) /
    sigma`` lies in [10, 20].
    """

    symbol: str
    day: date
    size: float
    sigma: float


@dataclass(frozen=True, slots=True)
class SimulatedReturns:
    """The model's ground truth for some symbols over the market calendar, ``(N, T)``.

    ``log_returns`` are close-to-close and include ``jumps``; ``idiosyncratic`` is the
    GARCH-t part ``eps`` alone; ``sigma`` is the total conditional daily sigma.
    """

    symbols: tuple[str, ...]
    dates: DateArray
    log_returns: FloatArray
    idiosyncratic: FloatArray
    sigma: FloatArray
    jumps: FloatArray


@dataclass(frozen=True, slots=True)
class _Chunk:
    symbols: list[str]
    returns: FloatArray  # (n, T)
    eps: FloatArray
    sigma: FloatArray
    jumps: FloatArray
    draws: SymbolDraws


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a non-leap target year
        return day.replace(year=day.year - years, day=28)


class SimulatedMarket(PriceSource):
    """Seeded multi-factor price simulator over a fixed business-day calendar.

    Built by the CLI, the demo and the tests from a list of companies (usually
    :func:`~axiom.sources.universe.load_universe`). The calendar is Mon-Fri from ``start``
    to ``end``; by default the ``years`` years up to :data:`REFERENCE_END`. ``bars`` always
    simulates the whole calendar and then cuts out ``[start, end]``, so a slice equals the
    same days of a longer request. Nothing is cached except factor paths and the planted
    jumps, so memory stays flat however many symbols are asked for.
    """

    simulated = True

    def __init__(
        self,
        companies: Sequence[Company],
        *,
        seed: int = 7,
        start: date | None = None,
        end: date | None = None,
        years: int = 5,
    ) -> None:
        if years < 1:
            raise DateRangeError(f"years must be at least 1, got {years}")
        self.seed = seed
        self.end = end or REFERENCE_END
        self.start = start or _years_before(self.end, years)
        check_range(self.start, self.end)
        self.dates: DateArray = business_days(self.start, self.end)
        self._companies: dict[str, Company] = {}
        for company in companies:
            self._companies.setdefault(company.symbol, company)
        self._factors: dict[tuple[str, str], tuple[FloatArray, FloatArray]] = {}
        self._jumps: list[PlantedJump] | None = None

    def symbols(self) -> list[str]:
        """Every simulated symbol, sorted."""
        return sorted(self._companies)

    def _check_symbols(self, symbols: Sequence[str]) -> None:
        for symbol in symbols:
            if symbol not in self._companies:
                near = difflib.get_close_matches(symbol, list(self._companies), n=3)
                hint = f"; did you mean {', '.join(near)}?" if near else ""
                raise UnknownSymbolError(
                    f"unknown symbol {symbol!r}: not among the {len(self._companies)} "
                    f"simulated companies{hint}"
                )

    # --- factors ------------------------------------------------------------------------

    def _ensure_factors(self, keys: set[tuple[str, str]]) -> None:
        """Simulate the missing factor paths, all in one vectorised GARCH loop."""
        missing = sorted(keys - self._factors.keys())
        if not missing:
            return
        z = np.empty((len(missing), len(self.dates)))
        vol = np.empty(len(missing))
        persistence = np.empty(len(missing))
        for j, (kind, name) in enumerate(missing):
            rng = rng_for(self.seed, "factor", kind, name)
            level, base_persistence = _FACTOR_SPECS[kind]
            u = rng.random(2)
            vol[j] = level * uniform(u[0], 0.8, 1.2)
            persistence[j] = base_persistence + uniform(u[1], -0.005, 0.005)
            z[j] = t_innovations(rng, len(self.dates))
        omega, alpha, beta = garch_params(vol, persistence, np.full(len(missing), 0.08))
        eps, h = garch_paths(z, omega, alpha, beta)
        for j, key in enumerate(missing):
            self._factors[key] = (eps[j], h[j])

    def _factor_rows(self, keys: list[tuple[str, str] | None]) -> tuple[FloatArray, FloatArray]:
        """``(returns, variances)`` of each key's factor, ``(len(keys), T)``; None -> zeros."""
        unique = sorted({k for k in keys if k is not None})
        zero = np.zeros(len(self.dates))
        ret = np.stack([self._factors[k][0] for k in unique] + [zero])
        var = np.stack([self._factors[k][1] for k in unique] + [zero])
        row = {k: i for i, k in enumerate(unique)}
        idx = np.array([row[k] if k is not None else len(unique) for k in keys], dtype=np.intp)
        return ret[idx], var[idx]

    # --- simulation ---------------------------------------------------------------------

    def _simulate(self, symbols: list[str]) -> _Chunk:
        """Returns, sigmas and jumps of one chunk of symbols, ``(n, T)``."""
        companies = [self._companies[s] for s in symbols]
        sector_keys: list[tuple[str, str] | None] = [
            ("sector", c.sector or "Other") for c in companies
        ]
        industry_keys: list[tuple[str, str] | None] = [
            ("industry", c.industries[0]) if c.industries else None for c in companies
        ]
        self._ensure_factors(
            {k for k in [("market", "market"), *sector_keys, *industry_keys] if k is not None}
        )
        market, market_var = self._factor_rows([("market", "market")])
        sector, sector_var = self._factor_rows(sector_keys)
        industry, industry_var = self._factor_rows(industry_keys)

        draws = draw_symbols(self.seed, symbols, len(self.dates))
        p = draws.params.T  # (_PARAMS, n)
        beta_i = uniform(p[0], 0.6, 1.4)[:, None]
        gamma_i = uniform(p[1], 0.5, 1.2)[:, None]
        delta_i = uniform(p[2], 0.3, 1.0)[:, None]
        omega, alpha, beta = garch_params(
            uniform(p[3], 0.01, 0.03), uniform(p[4], 0.97, 0.99), uniform(p[5], 0.05, 0.10)
        )
        eps, h = garch_paths(draws.z, omega, alpha, beta)
        sigma = np.sqrt(
            beta_i**2 * market_var + gamma_i**2 * sector_var + delta_i**2 * industry_var + h
        )
        ev = draws.jumps
        size = uniform(ev.u[0], *JUMP_SIGMAS) * sigma[ev.j, ev.t]
        jumps = np.zeros_like(sigma)
        jumps[ev.j, ev.t] = np.where(ev.u[1] < 0.5, -size, size)
        drift = uniform(p[6], -0.0001, 0.0006)[:, None]
        returns = drift + beta_i * market + gamma_i * sector + delta_i * industry + eps + jumps
        return _Chunk(symbols, returns, eps, sigma, jumps, draws)

    def _chunks(self, symbols: Sequence[str]) -> Iterator[_Chunk]:
        unique = list(dict.fromkeys(symbols))
        for i in range(0, len(unique), _CHUNK):
            yield self._simulate(unique[i : i + _CHUNK])

    def returns(self, symbols: Sequence[str]) -> SimulatedReturns:
        """The model's ground truth for ``symbols`` (deduplicated) over the whole calendar.

        Called by tests and benchmarks that check analytics against what was planted;
        raises UnknownSymbolError for a symbol not in the market.
        """
        self._check_symbols(symbols)
        parts = list(self._chunks(symbols))
        names = tuple(s for c in parts for s in c.symbols)

        def _stack(field: str) -> FloatArray:
            if not parts:
                return np.empty((0, len(self.dates)))
            return np.vstack([getattr(c, field) for c in parts])

        return SimulatedReturns(
            names,
            self.dates,
            _stack("returns"),
            _stack("eps"),
            _stack("sigma"),
            _stack("jumps"),
        )

    def bars(self, symbols: Sequence[str], start: date, end: date) -> Iterator[PriceBars]:
        """Yield simulated, validated bars of each symbol for business days in [start, end].

        Called by the ingestion pipeline. Unknown symbols raise before anything is yielded;
        days outside the market calendar are simply absent (an empty overlap yields empty
        bars).
        """
        check_range(start, end)
        self._check_symbols(symbols)
        lo = int(np.searchsorted(self.dates, np.datetime64(start, "D"), side="left"))
        hi = int(np.searchsorted(self.dates, np.datetime64(end, "D"), side="right"))
        if lo >= hi:
            for symbol in dict.fromkeys(symbols):
                yield empty_bars(symbol, simulated=True)
            return
        for chunk in self._chunks(symbols):
            yield from self._bars_of(chunk, lo, hi)

    def _bars_of(self, chunk: _Chunk, lo: int, hi: int) -> Iterator[PriceBars]:
        p = chunk.draws.params.T
        companies = [self._companies[s] for s in chunk.symbols]
        yen = np.array([100.0 if c.currency == "JPY" else 1.0 for c in companies])
        start_price = np.exp(uniform(p[7], math.log(8.0), math.log(400.0))) * yen
        volume_level = np.exp(uniform(p[8], math.log(1e5), math.log(2e7)))
        ohlcv = assemble_ohlcv(
            chunk.returns, chunk.jumps, chunk.sigma, start_price, volume_level, chunk.draws
        )
        dates = self.dates[lo:hi]
        for j, symbol in enumerate(chunk.symbols):
            yield PriceBars(
                symbol,
                dates,
                ohlcv.open[j, lo:hi],
                ohlcv.high[j, lo:hi],
                ohlcv.low[j, lo:hi],
                ohlcv.close[j, lo:hi],
                ohlcv.volume[j, lo:hi],
                simulated=True,
            ).validate()

    # --- ground truth and fundamentals --------------------------------------------------

    def planted_jumps(self) -> list[PlantedJump]:
        """Every jump planted in any symbol of the market, sorted by (symbol, day).

        Computed once (by simulating all symbols) and cached.
        """
        if self._jumps is None:
            found: list[PlantedJump] = []
            for chunk in self._chunks(self.symbols()):
                rows, days = np.nonzero(chunk.jumps)
                for j, t in zip(rows.tolist(), days.tolist(), strict=True):
                    found.append(
                        PlantedJump(
                            chunk.symbols[j],
                            self.dates[t].item(),
                            float(chunk.jumps[j, t]),
                            float(chunk.sigma[j, t]),
                        )
                    )
            self._jumps = sorted(found, key=lambda jump: (jump.symbol, jump.day))
        return list(self._jumps)

    def fundamentals(self, as_of: date | None = None) -> list[Fundamentals]:
        """Each company with simulated market figures as of ``as_of`` (default: last day).

        ``extra`` holds ``close``, ``shares_outstanding``, ``market_cap`` and the annualised
        ``volatility_60d``; all are simulated, so every item is marked ``simulated=True``.
        The company's own fields (revenue, employees...) stay the real universe data.
        """
        day = as_of or self.end
        check_range(self.start, day)
        out: list[Fundamentals] = []
        for bars in self.bars(self.symbols(), self.start, day):
            if len(bars) < 2:
                continue
            u = rng_for(self.seed, "shares", bars.symbol).random()
            shares = float(round(math.exp(uniform(np.array(u), 17.7, 22.3))))
            log_moves = np.diff(np.log(bars.close[-61:]))
            close = float(bars.close[-1])
            extra = {
                "close": close,
                "shares_outstanding": shares,
                "market_cap": close * shares,
                "volatility_60d": float(np.std(log_moves) * math.sqrt(TRADING_DAYS)),
            }
            company = self._companies[bars.symbol]
            out.append(Fundamentals(company, day, simulated=True, extra=extra))
        return out
