"""Return correlation matrices, shrinkage, edge extraction and edge diffs.

The correlations pipeline calls :func:`rolling` (or :func:`pearson` /
:func:`ledoit_wolf` directly) on a ``(T, N)`` returns panel, turns the matrix into
:class:`~axiom.domain.models.CorrelationEdge` objects with :func:`edges_from_matrix`, and
publishes only what changed since the last run, found by :func:`diff_edges`.

Missing data: the common case is a complete panel, served by one BLAS ``X.T @ X``.
When a panel has NaN, :func:`pearson` switches to pairwise-complete statistics (each pair
uses the days on which both symbols traded, as ``pandas.DataFrame.corr`` does) through
four masked matrix products. Pairs with fewer than ``min_periods`` common days, and
columns that are constant or too short, are NaN in the result; edge extraction skips NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from typing import Literal

import numpy as np
import numpy.typing as npt

from axiom.domain.models import CorrelationEdge, FloatArray
from axiom.errors import InputError

Method = Literal["pearson", "ledoit_wolf"]

# A column whose spread is below this fraction of its level is constant up to rounding:
# centring leaves ~1e-16 relative noise, which must not turn into correlations.
_RELATIVE_SPREAD = 1e-13


def _as_panel(returns: npt.ArrayLike) -> FloatArray:
    x = np.asarray(returns, dtype=np.float64)
    if x.ndim != 2:
        raise InputError(f"returns must be a (T, N) array, got shape {x.shape}")
    return x


def pearson(returns: npt.ArrayLike, *, min_periods: int = 2) -> FloatArray:
    """Pearson correlation matrix of the columns of a ``(T, N)`` returns panel.

    Called by the correlations pipeline and :func:`rolling`. Guarantees: shape ``(N, N)``,
    exactly symmetric, values in ``[-1, 1]``, diagonal exactly 1.0 for every usable column.
    On complete data it equals ``np.corrcoef(returns, rowvar=False)`` to ~1e-12 and costs
    one symmetric BLAS product. With NaN present, each pair uses its common valid rows
    (see the module docstring); a pair with fewer than ``min_periods`` of them, or with
    zero variance on them, is NaN, and so is the whole row/column of a column that has
    fewer than ``min_periods`` valid values or is constant.
    """
    x = _as_panel(returns)
    min_periods = max(min_periods, 2)
    # one reduction instead of a (T, N) mask: NaN/inf anywhere makes the sum non-finite
    if not np.isfinite(x.sum()):
        return _pearson_pairwise(x, min_periods)
    return _pearson_complete(x, min_periods)


def _varies(ss: FloatArray, mean: FloatArray, count: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Columns whose sum of squared deviations is more than rounding noise."""
    out: npt.NDArray[np.bool_] = ss > np.asarray(count) * (_RELATIVE_SPREAD * mean) ** 2
    return out


def _pearson_complete(x: FloatArray, min_periods: int) -> FloatArray:
    t_len, n = x.shape
    if t_len < min_periods:
        return np.full((n, n), np.nan)
    mean = x.mean(axis=0)
    z = x - mean
    ss = np.einsum("ij,ij->j", z, z)
    ok = _varies(ss, mean, t_len)
    z *= np.where(ok, 1.0 / np.sqrt(np.where(ok, ss, 1.0)), 0.0)
    corr: FloatArray = z.T @ z  # z.T @ z is dispatched to BLAS syrk: symmetric by construction
    np.clip(corr, -1.0, 1.0, out=corr)
    np.fill_diagonal(corr, 1.0)
    if not ok.all():
        corr[~ok, :] = np.nan
        corr[:, ~ok] = np.nan
    return corr


def _pearson_pairwise(x: FloatArray, min_periods: int) -> FloatArray:
    valid = np.isfinite(x)
    m = valid.astype(np.float64)
    count = valid.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(count > 0, np.where(valid, x, 0.0).sum(axis=0) / count, 0.0)
        # centring on each column's own mean first keeps the sums below well conditioned
        z = np.where(valid, x - mean, 0.0)
        n_common = m.T @ m
        s = z.T @ m  # s[i, j]: sum of z_i over the rows where both i and j are valid
        var = (z * z).T @ m  # sum of z_i^2 over the same rows
        corr: FloatArray = z.T @ z
        del z, m
        # in place from here on: five (N, N) arrays at most
        tmp = s * s.T
        tmp /= n_common
        corr -= tmp  # n * covariance over the common rows
        np.square(s, out=s)
        s /= n_common
        var -= s  # n * variance of i over the rows it shares with j
        del s
        np.multiply(var, var.T, out=tmp)
        bad = n_common < min_periods
        bad |= ~(tmp > 0)
        np.sqrt(tmp, out=tmp)
        corr /= tmp
    del tmp, n_common
    corr[bad] = np.nan
    np.clip(corr, -1.0, 1.0, out=corr)
    diag_ok = (count >= min_periods) & ~np.diag(bad) & _varies(np.diag(var), mean, count)
    np.fill_diagonal(corr, np.where(diag_ok, 1.0, np.nan))
    corr[~diag_ok, :] = np.nan
    corr[:, ~diag_ok] = np.nan
    return corr


def ledoit_wolf(returns: npt.ArrayLike) -> tuple[FloatArray, float]:
    """Ledoit-Wolf (2004) shrinkage correlation matrix and the shrinkage intensity.

    Called by the correlations pipeline when ``N`` is large relative to ``T``, where the
    sample matrix is singular. Returns are standardised per column (mean 0, variance 1 with
    ddof=0; a missing value becomes the column mean, i.e. 0, which keeps the estimate a
    Gram matrix and so positive semi-definite). With ``S = Z'Z / T`` the estimator is
    ``delta * mu * I + (1 - delta) * S`` where ``mu = tr(S)/N``, ``d2 = ||S - mu I||^2``,
    ``b2 = min(d2, sum_t ||z_t z_t' - S||^2 / T^2)`` (Frobenius norms divided by ``N``) and
    ``delta = b2 / d2``; as ``S`` of standardised data has a unit diagonal, so has the
    estimate, which therefore is a correlation matrix. Guarantees: ``delta`` in
    ``[0, 1]``; the matrix is exactly symmetric, has an exact unit diagonal, and is
    positive definite whenever ``delta > 0``. Columns with fewer than two valid values or zero
    variance are left out of the estimate and are NaN in the result.
    """
    x = _as_panel(returns)
    t_len, n_all = x.shape
    valid = np.isfinite(x)
    count = valid.sum(axis=0)
    xz = np.where(valid, x, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(count > 0, xz.sum(axis=0) / count, 0.0)
    z = np.where(valid, x - mean, 0.0)
    ss = np.einsum("ij,ij->j", z, z)
    use = (count >= 2) & _varies(ss, mean, count)
    if not use.any():
        return np.full((n_all, n_all), np.nan), 1.0
    # scaled so that z'z is the sample correlation S directly (unit diagonal)
    if use.all():
        z /= np.sqrt(ss)
    else:
        z = z[:, use] / np.sqrt(ss[use])
    n = z.shape[1]
    s: FloatArray = z.T @ z
    diag = np.diag(s)
    mu = float(diag.mean())
    s_norm2 = float(np.einsum("ij,ij->", s, s))
    d2 = (s_norm2 - float(diag @ diag) + float(((diag - mu) ** 2).sum())) / n
    # sum_t ||z_t z_t' - S||^2 = sum_t ||z_t||^4 - T ||S||^2 in unit-variance units
    row_norm2 = np.einsum("ij,ij->i", z, z)
    b2_bar = (float(row_norm2 @ row_norm2) - s_norm2 / t_len) / n
    b2 = min(max(b2_bar, 0.0), d2)
    delta = 1.0 if d2 <= 0 else b2 / d2
    # S has a unit diagonal up to rounding, so delta * mu * I + (1 - delta) * S already is
    # a correlation matrix; setting the diagonal to 1 only removes the rounding
    s *= 1.0 - delta
    np.clip(s, -1.0, 1.0, out=s)
    np.fill_diagonal(s, 1.0)
    if use.all():
        return s, float(delta)
    out = np.full((n_all, n_all), np.nan)
    idx = np.flatnonzero(use)
    out[np.ix_(idx, idx)] = s
    return out, float(delta)


def rolling(
    returns: npt.ArrayLike, window: int, *, method: Method = "pearson", min_periods: int = 2
) -> FloatArray:
    """Correlation over the last ``window`` rows of a returns panel.

    Called by the correlations pipeline once per window end. ``method`` is ``pearson`` or
    ``ledoit_wolf``. If fewer than ``window`` rows exist, all rows are used (the published
    edge still carries the nominal window). An unknown method raises InputError.
    """
    if window < 2:
        raise InputError(f"correlation window must be >= 2, got {window}")
    x = _as_panel(returns)[-window:]
    if method == "pearson":
        return pearson(x, min_periods=min_periods)
    if method == "ledoit_wolf":
        return ledoit_wolf(x)[0]
    raise InputError(f"unknown correlation method {method!r}; use 'pearson' or 'ledoit_wolf'")


def edges_from_matrix(
    corr: npt.ArrayLike,
    symbols: Sequence[str],
    *,
    top_k: int | None,
    threshold: float | None,
    window_end: date,
    window: int,
    method: str,
) -> list[CorrelationEdge]:
    """Turn a correlation matrix into a sparse set of edges.

    Called by the correlations pipeline before :func:`diff_edges`. With ``top_k`` each
    node keeps its ``top_k`` partners by ``|rho|`` and the edge set is the union over
    nodes; with ``threshold`` only pairs with ``|rho| >= threshold`` are kept; with both,
    an edge must pass both. NaN entries and the diagonal never become edges. Guarantees:
    ``a < b`` on every edge, at most one edge per pair, sorted by ``(a, b)``. Raises
    InputError when neither filter is given (that would publish all N^2/2 pairs), when
    shapes disagree, or when symbols repeat.
    """
    c = np.asarray(corr, dtype=np.float64)
    n = len(symbols)
    if c.shape != (n, n):
        raise InputError(f"matrix shape {c.shape} does not match {n} symbols")
    if top_k is None and threshold is None:
        raise InputError("edges_from_matrix needs top_k, threshold or both")
    if top_k is not None and top_k < 1:
        raise InputError(f"top_k must be >= 1, got {top_k}")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise InputError(f"threshold must be in [0, 1], got {threshold}")
    names = np.asarray(symbols, dtype=object)
    order = np.argsort(names)
    if n > 1 and bool(np.any(names[order][1:] == names[order][:-1])):
        raise InputError("edge symbols must be unique")
    strength = np.abs(c)
    strength[~np.isfinite(strength)] = -1.0
    np.fill_diagonal(strength, -1.0)
    if top_k is not None:
        i, j = _top_k_pairs(strength, top_k)
    else:
        i, j = np.nonzero(np.triu(strength >= threshold, 1))
    if threshold is not None:
        keep = strength[i, j] >= threshold
        i, j = i[keep], j[keep]
    rank = np.empty(n, dtype=np.intp)
    rank[order] = np.arange(n)
    swap = rank[i] > rank[j]
    i, j = np.where(swap, j, i), np.where(swap, i, j)
    pick = np.lexsort((rank[j], rank[i]))
    i, j = i[pick], j[pick]
    rho = np.clip(c[i, j], -1.0, 1.0).tolist()
    a_names, b_names = names[i].tolist(), names[j].tolist()
    return [
        CorrelationEdge(a, b, r, window_end, window, method)
        for a, b, r in zip(a_names, b_names, rho, strict=True)
    ]


def _top_k_pairs(
    strength: FloatArray, top_k: int
) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Unique unordered pairs (i < j) in the union of every row's ``top_k`` strongest."""
    n = strength.shape[0]
    k = min(top_k, n - 1)
    if k <= 0:
        empty = np.array([], dtype=np.intp)
        return empty, empty
    cols = np.argpartition(-strength, k - 1, axis=1)[:, :k]
    rows = np.repeat(np.arange(n), k)
    cols = cols.ravel()
    ok = strength[rows, cols] >= 0
    lo, hi = np.minimum(rows[ok], cols[ok]), np.maximum(rows[ok], cols[ok])
    keys = np.unique(lo.astype(np.int64) * n + hi)
    return (keys // n).astype(np.intp), (keys % n).astype(np.intp)


def diff_edges(
    previous: Sequence[CorrelationEdge],
    current: Sequence[CorrelationEdge],
    tol: float = 1e-6,
) -> list[CorrelationEdge]:
    """What to publish so that a consumer holding ``previous`` ends up holding ``current``.

    Called by the correlations pipeline with the last published edge set. Edges are
    matched on ``(a, b, window, method)``. Returns new edges, edges whose ``rho`` moved by
    more than ``tol`` (as their current version), and edges that disappeared (their last
    published version with ``removed=True``), sorted by key. Edges flagged ``removed`` in
    either input count as absent. Re-running on the same data returns ``[]``, which is
    what makes the pipeline idempotent on the bus.
    """
    prev = {_edge_key(e): e for e in previous if not e.removed}
    cur = {_edge_key(e): e for e in current if not e.removed}
    out: list[CorrelationEdge] = []
    for key in sorted(prev.keys() | cur.keys()):
        old, new = prev.get(key), cur.get(key)
        if new is None and old is not None:
            out.append(replace(old, removed=True))
        elif new is not None and (old is None or abs(new.rho - old.rho) > tol):
            out.append(new)
    return out


def _edge_key(e: CorrelationEdge) -> tuple[str, str, int, str]:
    return e.a, e.b, e.window, e.method
