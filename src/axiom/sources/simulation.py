"""Numerical kernels of the simulated market: seeded draws, GARCH paths, OHLCV assembly.

:class:`~axiom.sources.market.SimulatedMarket` calls these once per chunk of symbols.
Arrays are symbol-major, ``(n, T)``, so each symbol's bars come out as contiguous rows
ready for the bus; only the GARCH recursion, the one loop over days, runs on a time-major
copy so that each step touches a contiguous row and is vectorised across symbols.
Randomness is keyed, never shared: a factor's stream depends only on (seed, factor name)
and a symbol's only on (seed, symbol), through :func:`stable_seed` (BLAKE2b, stable across
processes, unlike ``hash()``). That is what makes a symbol's series identical whichever
universe it is simulated in.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Student-t degrees of freedom of every innovation (fat tails, finite variance).
T_DF = 5
_T_SCALE = math.sqrt((T_DF - 2) / T_DF)  # t(5) has variance 5/3; this makes it unit
TRADING_DAYS = 252
#: Planted jumps per symbol-year (Poisson rate), their size range in sigmas, and the
#: opening stretch of the series that stays jump-free (so detectors have a history).
JUMP_RATE = 1.0
JUMP_SIGMAS = (10.0, 20.0)
JUMP_FREE_DAYS = 60
#: Share of planted jumps that happen overnight, so they show up as an opening gap.
JUMP_OVERNIGHT_SHARE = 0.7
VOLUME_SPIKE_RATE = 0.01

_PARAMS = 12  # uniforms drawn per symbol for its parameters, in a fixed order


def stable_seed(*parts: object) -> int:
    """A 128-bit seed from ``parts`` that is the same in every process and platform."""
    raw = "\x1f".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(raw, digest_size=16).digest(), "little")


def rng_for(*parts: object) -> np.random.Generator:
    """A generator whose stream depends only on ``parts``."""
    return np.random.Generator(np.random.PCG64(stable_seed(*parts)))


def garch_paths(
    z: FloatArray, omega: FloatArray, alpha: FloatArray, beta: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """GARCH(1,1) shocks and conditional variances for unit-variance innovations ``z``.

    ``z`` is symbol-major ``(k, T)``; the parameters are ``(k,)``. The first day starts at
    the unconditional variance ``omega / (1 - alpha - beta)``. Returns ``(eps, h)``, both
    ``(k, T)`` and C-contiguous, with ``eps[:, t] = sqrt(h[:, t]) * z[:, t]``.
    """
    zt = np.ascontiguousarray(z.T)
    steps = zt.shape[0]
    h = np.empty_like(zt)
    eps = np.empty_like(zt)
    if steps:
        h[0] = omega / (1.0 - alpha - beta)
        eps[0] = np.sqrt(h[0]) * zt[0]
    for t in range(1, steps):
        h[t] = omega + alpha * eps[t - 1] * eps[t - 1] + beta * h[t - 1]
        eps[t] = np.sqrt(h[t]) * zt[t]
    return np.ascontiguousarray(eps.T), np.ascontiguousarray(h.T)


def t_innovations(rng: np.random.Generator, size: int | tuple[int, ...]) -> FloatArray:
    """Student-t(5) draws scaled to unit variance."""
    return rng.standard_t(T_DF, size) * _T_SCALE


def garch_params(
    daily_vol: FloatArray, persistence: FloatArray, alpha_share: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(omega, alpha, beta) with ``alpha + beta = persistence`` and the given long-run vol."""
    alpha = persistence * alpha_share
    beta = persistence - alpha
    omega = daily_vol**2 * (1.0 - persistence)
    return omega, alpha, beta


@dataclass(frozen=True, slots=True)
class Events:
    """Sparse per-day events of a chunk: day index ``t``, symbol column ``j``, uniforms ``u``.

    ``u`` has one row per detail drawn for each event (jumps: size, sign, overnight;
    volume spikes: magnitude).
    """

    t: npt.NDArray[np.intp]
    j: npt.NDArray[np.intp]
    u: FloatArray


@dataclass(frozen=True, slots=True)
class SymbolDraws:
    """Everything random about a chunk of ``n`` symbols over ``T`` days, ``(n, T)`` each."""

    params: FloatArray  # (n, _PARAMS) uniforms in [0, 1)
    z: FloatArray  # unit-variance t(5) innovations of the idiosyncratic part
    share: FloatArray  # uniforms: overnight share of the day's move
    up: FloatArray  # uniforms: how far the high reaches above the open-close body
    down: FloatArray  # uniforms: how far the low reaches below it
    gap: FloatArray  # normals: opening-gap noise
    volume: FloatArray  # normals: volume noise
    jumps: Events  # u rows: size, sign, overnight
    spikes: Events  # u rows: magnitude


def _events(parts: list[tuple[int, npt.NDArray[np.intp], FloatArray]], rows: int) -> Events:
    if not parts:
        return Events(np.empty(0, np.intp), np.empty(0, np.intp), np.empty((rows, 0)))
    return Events(
        np.concatenate([days for _, days, _ in parts]).astype(np.intp),
        np.concatenate([np.full(len(days), j, np.intp) for j, days, _ in parts]),
        np.concatenate([u for _, _, u in parts], axis=1),
    )


def draw_symbols(seed: int, symbols: list[str], steps: int) -> SymbolDraws:
    """Draw each symbol's randomness from its own stream, in a fixed order.

    The draws of a symbol depend only on (seed, symbol, steps), never on which other
    symbols are in the chunk. Jumps are a Poisson number (rate :data:`JUMP_RATE` per
    year) of distinct days after the first :data:`JUMP_FREE_DAYS`; volume spikes a
    Poisson number of days anywhere.
    """
    n = len(symbols)
    params = np.empty((n, _PARAMS))
    z, share, up, down, gap, volume = (np.empty((n, steps)) for _ in range(6))
    jumps: list[tuple[int, npt.NDArray[np.intp], FloatArray]] = []
    spikes: list[tuple[int, npt.NDArray[np.intp], FloatArray]] = []
    eligible = max(steps - JUMP_FREE_DAYS, 0)
    for j, symbol in enumerate(symbols):
        rng = rng_for(seed, "symbol", symbol)
        params[j] = rng.random(_PARAMS)
        z[j] = t_innovations(rng, steps)
        share[j], up[j], down[j] = rng.random((3, steps))
        gap[j], volume[j] = rng.standard_normal((2, steps))
        count = min(int(rng.poisson(JUMP_RATE * eligible / TRADING_DAYS)), eligible)
        if count:
            days = JUMP_FREE_DAYS + rng.choice(eligible, size=count, replace=False)
            jumps.append((j, days, rng.random((3, count))))
        count = int(rng.poisson(VOLUME_SPIKE_RATE * steps)) if steps else 0
        if count:
            spikes.append((j, rng.integers(0, steps, count), rng.random((1, count))))
    return SymbolDraws(
        params, z, share, up, down, gap, volume, _events(jumps, 3), _events(spikes, 1)
    )


def uniform(u: FloatArray, low: float, high: float) -> FloatArray:
    """Map uniforms in [0, 1) onto [low, high)."""
    return low + (high - low) * u


@dataclass(frozen=True, slots=True)
class Ohlcv:
    """Assembled bars of a chunk, ``(n, T)`` C-contiguous and already rounded."""

    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray


def assemble_ohlcv(
    log_returns: FloatArray,
    jumps: FloatArray,
    sigma: FloatArray,
    start_price: FloatArray,
    volume_level: FloatArray,
    draws: SymbolDraws,
) -> Ohlcv:
    """Turn close-to-close log returns ``(n, T)`` into consistent, rounded OHLCV bars.

    The return of each day is split into an overnight part (opening gap) and an intraday
    part that add up exactly, so ``close[t] = close[t-1] * exp(r[t])`` holds. Most planted
    jumps land overnight. High and low extend the open-close body by a random positive
    range that scales with the day's sigma. Volume follows the symbol's level, rises with
    volatility and with the size of the day's move, and spikes now and then. Prices are
    rounded to 4 decimals last, then high/low are widened to keep bracketing the rounded
    open and close, so :meth:`PriceBars.validate` always passes.
    """
    ev = draws.jumps
    overnight_jump = ev.u[2] < JUMP_OVERNIGHT_SHARE
    jump_gap = np.zeros_like(jumps)
    jump_gap[ev.j[overnight_jump], ev.t[overnight_jump]] = jumps[
        ev.j[overnight_jump], ev.t[overnight_jump]
    ]
    overnight = (
        uniform(draws.share, 0.15, 0.45) * (log_returns - jumps)
        + 0.25 * sigma * draws.gap
        + jump_gap
    )
    log_start = np.log(start_price)[:, None]
    log_close = log_start + np.cumsum(log_returns, axis=1)
    log_open = np.concatenate([log_start, log_close[:, :-1]], axis=1) + overnight
    log_high = np.maximum(log_open, log_close) - 0.5 * sigma * np.log1p(-draws.up)
    log_low = np.minimum(log_open, log_close) + 0.5 * sigma * np.log1p(-draws.down)

    spikes = np.zeros_like(sigma)
    spikes[draws.spikes.j, draws.spikes.t] = np.log(uniform(draws.spikes.u[0], 3.0, 8.0))
    log_volume = (
        np.log(volume_level)[:, None]
        + np.log(sigma / sigma.mean(axis=1, keepdims=True))
        + 0.35 * (np.minimum(np.abs(log_returns) / sigma, 6.0) - 0.8)
        + 0.3 * draws.volume
        + spikes
    )

    def _rounded(x: FloatArray) -> FloatArray:
        return np.maximum(np.round(np.exp(x), 4), 1e-4)

    open_, close = _rounded(log_open), _rounded(log_close)
    high = np.maximum(_rounded(log_high), np.maximum(open_, close))
    low = np.minimum(_rounded(log_low), np.minimum(open_, close))
    return Ohlcv(open_, high, low, close, np.round(np.exp(log_volume)))
