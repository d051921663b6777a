"""Aligned price panels, returns and volatility estimates.

Everything here works on a panel: arrays of shape ``(T, N)`` (time down the rows, one
column per symbol) with NaN where a symbol has no bar that day. The event detectors, the
correlation engine and the pipelines all build on these functions; none of them does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from axiom.domain.models import DateArray, FloatArray, PriceBars
from axiom.errors import InputError

TRADING_DAYS = 252
_MAD_TO_SIGMA = 1.4826  # a Gaussian's sigma from its median absolute deviation


@dataclass(frozen=True, slots=True, eq=False)
class PricePanel:
    """Daily OHLCV bars of many symbols on one calendar of dates.

    Built by the events and correlations pipelines (usually with :meth:`from_bars`) and
    passed to the detectors in :mod:`axiom.analytics.events`. Guarantees after
    construction: ``dates`` is ``datetime64[D]``, strictly increasing, of length ``T``;
    every price array is float64 of shape ``(T, N)`` with ``N == len(symbols)``; symbols
    are unique; a missing bar is NaN in every field. A violation raises
    :class:`~axiom.errors.InputError`.
    """

    symbols: tuple[str, ...]
    dates: DateArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    simulated: bool = False

    def __post_init__(self) -> None:
        shape = (self.dates.shape[0], len(self.symbols))
        if self.dates.ndim != 1 or self.dates.dtype != np.dtype("datetime64[D]"):
            raise InputError("panel dates must be a 1-D datetime64[D] array")
        if shape[0] > 1 and not bool(np.all(self.dates[1:] > self.dates[:-1])):
            raise InputError("panel dates must be strictly increasing")
        if len(set(self.symbols)) != len(self.symbols):
            raise InputError("panel symbols must be unique")
        for name in ("open", "high", "low", "close", "volume"):
            arr = getattr(self, name)
            if arr.shape != shape or arr.dtype != np.float64:
                raise InputError(f"panel {name} must be float64 of shape {shape}, got {arr.shape}")

    @property
    def shape(self) -> tuple[int, int]:
        """``(T, N)``: number of dates, number of symbols."""
        return self.dates.shape[0], len(self.symbols)

    @classmethod
    def from_bars(cls, bars: Sequence[PriceBars]) -> PricePanel:
        """Align per-symbol bars on the union of their dates.

        Called by pipelines that read bars per symbol from the warehouse. Days on which a
        symbol has no bar become NaN in its column. The panel is marked simulated if any
        input is. Raises InputError on duplicate symbols.
        """
        dates = np.unique(np.concatenate([b.dates for b in bars])) if bars else np.array([])
        dates = dates.astype("datetime64[D]")
        t, n = dates.shape[0], len(bars)
        fields = {k: np.full((t, n), np.nan) for k in ("open", "high", "low", "close", "volume")}
        for j, b in enumerate(bars):
            rows = np.searchsorted(dates, b.dates)
            for key, arr in fields.items():
                arr[rows, j] = getattr(b, key)
        return cls(
            symbols=tuple(b.symbol for b in bars),
            dates=dates,
            simulated=any(b.simulated for b in bars),
            **fields,
        )


def _as_float(a: npt.ArrayLike) -> FloatArray:
    return np.asarray(a, dtype=np.float64)


def log_returns(close: npt.ArrayLike) -> FloatArray:
    """Log returns ``log(close_t / close_{t-1})`` along axis 0.

    Called by the detectors and the correlation pipeline. For ``(T, N)`` input the result
    is ``(T-1, N)``; row ``k`` is the return into day ``k+1``. It is NaN wherever either
    price is missing, non-finite or non-positive, so a gap in the data never produces a
    spurious return spanning several days.
    """
    c = _as_float(close)
    with np.errstate(divide="ignore", invalid="ignore"):
        logp = np.log(np.where(c > 0, c, np.nan))
    return np.diff(logp, axis=0)


def simple_returns(close: npt.ArrayLike) -> FloatArray:
    """Simple returns ``close_t / close_{t-1} - 1`` with the same NaN rules as log_returns."""
    c = _as_float(close)
    c = np.where(c > 0, c, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        return c[1:] / c[:-1] - 1.0


def annualised_vol(
    returns: npt.ArrayLike, *, periods_per_year: int = TRADING_DAYS, min_periods: int = 2
) -> FloatArray:
    """Annualised volatility per column: sample std (ddof=1) of the valid returns x sqrt(ppy).

    Used for reports and for scaling shocks. Columns with fewer than ``min_periods`` valid
    returns get NaN instead of a number that would look meaningful.
    """
    r = _as_float(returns)
    valid = np.isfinite(r)
    n = valid.sum(axis=0)
    x = np.where(valid, r, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = x.sum(axis=0) / n
        dev = np.where(valid, r - mean, 0.0)
        var = (dev * dev).sum(axis=0) / (n - 1)
    out: FloatArray = np.sqrt(var) * np.sqrt(periods_per_year)
    return np.where(n >= max(min_periods, 2), out, np.nan)


def ewma_volatility(
    returns: npt.ArrayLike,
    *,
    lam: float = 0.94,
    clip: float = 4.0,
    warmup: int = 20,
    floor: float = 1e-4,
) -> FloatArray:
    """Robust RiskMetrics-style EWMA of daily volatility, known *before* each return.

    Called by the jump and gap detectors. Row ``t`` of the result is the sigma estimated
    from returns ``0..t-1`` only, so ``returns[t] / sigma[t]`` is an honest out-of-sample
    z-score. Each update ``s2 <- lam*s2 + (1-lam)*min(r^2, clip^2*s2)`` caps a return at
    ``clip`` sigmas, so a jump barely moves the estimate and the next jump is still seen.
    A column is seeded once it has ``warmup`` valid returns (median-based scale, then the
    clipped mean square of those returns); before that, and for columns that never get
    there, the result is NaN, which the detectors treat as "no signal". Missing returns
    leave the estimate unchanged. Sigma never drops below ``floor`` so a stale price
    series does not make the next ordinary move look infinite.
    """
    if not 0.0 < lam < 1.0 or clip <= 0 or warmup < 2 or floor <= 0:
        raise InputError("ewma_volatility needs 0 < lam < 1, clip > 0, warmup >= 2, floor > 0")
    r = _as_float(returns)
    squeeze = r.ndim == 1
    r2d = r[:, None] if squeeze else r
    t_len, n = r2d.shape
    valid = np.isfinite(r2d)
    x2 = np.where(valid, r2d * r2d, 0.0)
    decay = np.where(valid, lam, 1.0)
    gain = 1.0 - decay
    seeds = _warmup_seeds(r2d, valid, clip, warmup, floor)
    c2, floor2 = clip * clip, floor * floor
    s2 = np.full(n, np.inf)
    out = np.empty((t_len, n))
    cap = np.empty(n)
    for t in range(t_len):
        out[t] = s2
        np.multiply(s2, c2, out=cap)
        np.minimum(x2[t], cap, out=cap)
        cap *= gain[t]
        s2 *= decay[t]
        s2 += cap
        np.maximum(s2, floor2, out=s2)
        seed = seeds.get(t)
        if seed is not None:
            s2[seed[0]] = seed[1]
    out[np.isinf(out)] = np.nan
    sigma: FloatArray = np.sqrt(out)
    return sigma[:, 0] if squeeze else sigma


def _warmup_seeds(
    r: FloatArray, valid: npt.NDArray[np.bool_], clip: float, warmup: int, floor: float
) -> dict[int, tuple[npt.NDArray[np.intp], FloatArray]]:
    """Initial variance per column, keyed by the row of that column's ``warmup``-th return."""
    if r.shape[0] < warmup:
        return {}
    # the common case: the first `warmup` rows are complete, no per-row counting needed
    head = valid[:warmup].all(axis=0)
    cols = [np.flatnonzero(head)]
    rows = [np.full(cols[0].size, warmup - 1, dtype=np.intp)]
    samples = [r[:warmup, head]]
    late = np.flatnonzero(~head & (valid.sum(axis=0) >= warmup))
    if late.size:
        count = np.cumsum(valid[:, late], axis=0, dtype=np.int32)
        first = valid[:, late] & (count <= warmup)
        t_idx, j_idx = np.nonzero(first)
        buf = np.empty((warmup, late.size))
        buf[count[t_idx, j_idx] - 1, j_idx] = r[t_idx, late[j_idx]]
        cols.append(late)
        rows.append(np.argmax(count >= warmup, axis=0).astype(np.intp))
        samples.append(buf)
    col, seed_row, sample = np.concatenate(cols), np.concatenate(rows), np.hstack(samples)
    scale = _MAD_TO_SIGMA * np.median(np.abs(sample), axis=0)
    s2 = np.mean(np.minimum(sample * sample, (clip * scale) ** 2), axis=0)
    s2 = np.maximum(s2, floor * floor)
    seeds: dict[int, tuple[npt.NDArray[np.intp], FloatArray]] = {}
    for row in np.unique(seed_row):
        sel = seed_row == row
        seeds[int(row)] = (col[sel], s2[sel])
    return seeds
