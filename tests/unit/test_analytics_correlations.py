from __future__ import annotations

from dataclasses import replace
from datetime import date
from itertools import combinations

import numpy as np
import pandas as pd
import pytest

from axiom.analytics.correlations import (
    diff_edges,
    edges_from_matrix,
    ledoit_wolf,
    pearson,
    rolling,
)
from axiom.domain.models import CorrelationEdge
from axiom.errors import InputError

END = date(2024, 6, 28)


def _factor_returns(t: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    market = rng.normal(0, 0.01, (t, 1))
    sector = rng.normal(0, 0.01, (t, 4))[:, rng.integers(0, 4, n)]
    return market * rng.uniform(0.5, 1.5, n) + sector + rng.normal(0, 0.015, (t, n))


def _naive_ledoit_wolf(x: np.ndarray) -> tuple[np.ndarray, float]:
    """The 2004 formula term by term: O(N^2 T) outer products, no algebraic shortcuts."""
    t, n = x.shape
    z = (x - x.mean(axis=0)) / x.std(axis=0)
    s = np.zeros((n, n))
    for row in z:
        s += np.outer(row, row)
    s /= t
    mu = np.trace(s) / n
    d2 = np.sum((s - mu * np.eye(n)) ** 2) / n
    b2_bar = 0.0
    for row in z:
        b2_bar += np.sum((np.outer(row, row) - s) ** 2) / n
    b2_bar /= t * t
    delta = min(b2_bar, d2) / d2
    sigma = delta * mu * np.eye(n) + (1 - delta) * s
    d = np.sqrt(np.diag(sigma))
    return sigma / np.outer(d, d), delta


def test_pearson_equals_corrcoef_on_complete_data() -> None:
    x = _factor_returns(400, 60, seed=1)
    c = pearson(x)
    assert np.max(np.abs(c - np.corrcoef(x, rowvar=False))) < 1e-9
    assert np.array_equal(c, c.T)
    assert np.all(np.diag(c) == 1.0)
    assert c.min() >= -1.0 and c.max() <= 1.0


def test_pearson_constant_column_and_short_panel_are_nan() -> None:
    x = _factor_returns(50, 5, seed=2)
    x[:, 3] = 0.02
    c = pearson(x)
    assert np.isnan(c[3]).all() and np.isnan(c[:, 3]).all()
    keep = [0, 1, 2, 4]
    np.testing.assert_allclose(c[np.ix_(keep, keep)], np.corrcoef(x[:, keep], rowvar=False))
    assert np.isnan(pearson(x[:1])).all()


def test_pearson_pairwise_complete_matches_pandas() -> None:
    rng = np.random.default_rng(3)
    x = _factor_returns(250, 40, seed=3)
    x[rng.random(x.shape) < 0.15] = np.nan
    x[:200, 7] = np.nan  # a late listing: only 50 rows
    c = pearson(x, min_periods=60)
    want = pd.DataFrame(x).corr(min_periods=60).to_numpy()
    assert np.array_equal(np.isnan(c), np.isnan(want))
    assert np.nanmax(np.abs(c - want)) < 1e-12
    assert np.isnan(c[7]).all()
    np.testing.assert_array_equal(c, c.T)
    x[:, 9] = np.where(np.isnan(x[:, 9]), np.nan, 0.03)  # constant where present
    c = pearson(x, min_periods=60)
    assert np.isnan(c[9]).all() and np.isnan(c[:, 9]).all()
    others = np.delete(np.arange(40), [7, 9])
    assert np.all(np.diag(c)[others] == 1.0)


def test_pearson_treats_inf_as_missing() -> None:
    x = _factor_returns(100, 4, seed=4)
    y = x.copy()
    y[10, 1] = np.inf
    x[10, 1] = np.nan
    np.testing.assert_array_equal(pearson(y), pearson(x))


def test_ledoit_wolf_matches_naive_formula() -> None:
    for t, n, seed in ((40, 12, 5), (25, 30, 6), (200, 8, 7)):
        x = _factor_returns(t, n, seed)
        corr, delta = ledoit_wolf(x)
        want, want_delta = _naive_ledoit_wolf(x)
        assert abs(delta - want_delta) < 1e-10
        assert np.max(np.abs(corr - want)) < 1e-10


def test_ledoit_wolf_is_positive_definite_when_n_exceeds_t() -> None:
    x = _factor_returns(30, 120, seed=8)
    corr, delta = ledoit_wolf(x)
    assert 0.0 < delta <= 1.0
    assert np.linalg.eigvalsh(corr).min() > 1e-6
    assert np.linalg.eigvalsh(pearson(x)).min() < 1e-8  # the sample matrix is singular
    assert np.array_equal(corr, corr.T)
    assert np.all(np.diag(corr) == 1.0)


def test_ledoit_wolf_tends_to_sample_correlation_as_t_grows() -> None:
    deltas, gaps = [], []
    for t in (50, 500, 20000):
        x = _factor_returns(t, 20, seed=9)
        corr, delta = ledoit_wolf(x)
        assert 0.0 <= delta <= 1.0
        deltas.append(delta)
        gaps.append(np.max(np.abs(corr - pearson(x))))
    assert deltas[0] > deltas[1] > deltas[2]
    assert deltas[2] < 0.01
    assert gaps[2] < 0.005


def test_ledoit_wolf_with_missing_values_and_degenerate_column() -> None:
    rng = np.random.default_rng(10)
    x = _factor_returns(60, 15, seed=10)
    x[rng.random(x.shape) < 0.1] = np.nan
    x[:, 4] = 0.02
    corr, delta = ledoit_wolf(x)
    assert np.isnan(corr[4]).all() and np.isnan(corr[:, 4]).all()
    sub = np.delete(np.delete(corr, 4, axis=0), 4, axis=1)
    assert np.all(np.diag(sub) == 1.0)
    assert np.linalg.eigvalsh(sub).min() > 0
    assert 0.0 <= delta <= 1.0


def test_rolling_uses_the_last_window_rows() -> None:
    x = _factor_returns(300, 10, seed=11)
    np.testing.assert_array_equal(rolling(x, 60), pearson(x[-60:]))
    np.testing.assert_array_equal(rolling(x, 60, method="ledoit_wolf"), ledoit_wolf(x[-60:])[0])
    np.testing.assert_array_equal(rolling(x, 1000), pearson(x))
    with pytest.raises(InputError, match="unknown correlation method"):
        rolling(x, 60, method="kendall")  # type: ignore[arg-type]


def _brute_edges(
    c: np.ndarray, symbols: list[str], top_k: int | None, threshold: float | None
) -> set[tuple[str, str, float]]:
    n = len(symbols)
    chosen: set[tuple[int, int]] = set()
    if top_k is not None:
        for i in range(n):
            partners = [j for j in range(n) if j != i and np.isfinite(c[i, j])]
            partners.sort(key=lambda j: -abs(c[i, j]))
            chosen |= {(min(i, j), max(i, j)) for j in partners[:top_k]}
    else:
        chosen = {(i, j) for i, j in combinations(range(n), 2) if np.isfinite(c[i, j])}
    if threshold is not None:
        chosen = {(i, j) for i, j in chosen if abs(c[i, j]) >= threshold}
    pairs = {(i, j): sorted((symbols[i], symbols[j])) for i, j in chosen}
    return {(a, b, c[i, j]) for (i, j), (a, b) in pairs.items()}


@pytest.mark.parametrize(("top_k", "threshold"), [(3, None), (None, 0.3), (4, 0.25), (1, None)])
def test_edges_match_brute_force(top_k: int | None, threshold: float | None) -> None:
    x = _factor_returns(120, 30, seed=12)
    x[:, 5] = 0.0  # NaN row and column
    c = pearson(x)
    symbols = [f"S{(7 * i) % 30:02d}" for i in range(30)]  # not in sorted order
    edges = edges_from_matrix(
        c, symbols, top_k=top_k, threshold=threshold, window_end=END, window=120, method="p"
    )
    got = {(e.a, e.b, e.rho) for e in edges}
    assert got == _brute_edges(c, symbols, top_k, threshold)
    assert all(e.a < e.b and e.window == 120 and e.window_end == END for e in edges)
    assert [(e.a, e.b) for e in edges] == sorted((e.a, e.b) for e in edges)
    assert all("S35" not in (e.a, e.b) for e in edges)  # symbol of column 5


def test_edges_top_k_union_by_hand() -> None:
    c = np.array(
        [
            [1.0, 0.9, 0.1, -0.2],
            [0.9, 1.0, 0.3, 0.0],
            [0.1, 0.3, 1.0, -0.5],
            [-0.2, 0.0, -0.5, 1.0],
        ]
    )
    edges = edges_from_matrix(
        c, ["D", "C", "B", "A"], top_k=1, threshold=None, window_end=END, window=60, method="p"
    )
    # D->C, C->D, B->A (|-0.5|), A->B: union is {C-D, A-B}
    assert [(e.a, e.b, e.rho) for e in edges] == [("A", "B", -0.5), ("C", "D", 0.9)]


def test_edges_reject_bad_arguments() -> None:
    c = np.eye(3)
    kw = {"window_end": END, "window": 60, "method": "p"}
    with pytest.raises(InputError, match="top_k, threshold"):
        edges_from_matrix(c, ["a", "b", "c"], top_k=None, threshold=None, **kw)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="does not match"):
        edges_from_matrix(c, ["a", "b"], top_k=1, threshold=None, **kw)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="unique"):
        edges_from_matrix(c, ["a", "b", "a"], top_k=1, threshold=None, **kw)  # type: ignore[arg-type]


def _edge(a: str, b: str, rho: float) -> CorrelationEdge:
    return CorrelationEdge(a, b, rho, END, 60, "pearson")


def test_diff_edges_rerun_on_same_data_is_empty() -> None:
    x = _factor_returns(80, 25, seed=13)
    syms = [f"X{i:02d}" for i in range(25)]
    first = edges_from_matrix(
        pearson(x), syms, top_k=3, threshold=None, window_end=END, window=80, method="pearson"
    )
    again = edges_from_matrix(
        pearson(x.copy()),
        syms,
        top_k=3,
        threshold=None,
        window_end=END,
        window=80,
        method="pearson",
    )
    assert first
    assert diff_edges(first, again) == []
    assert diff_edges([], first) == first


def test_diff_edges_new_changed_and_removed() -> None:
    prev = [_edge("A", "B", 0.5), _edge("A", "C", 0.4), _edge("B", "C", 0.3)]
    cur = [_edge("A", "B", 0.5 + 1e-8), _edge("A", "C", 0.45), _edge("C", "D", 0.7)]
    out = diff_edges(prev, cur)
    assert out == [_edge("A", "C", 0.45), replace(prev[2], removed=True), _edge("C", "D", 0.7)]
    assert diff_edges(prev, cur, tol=0.1) == [replace(prev[2], removed=True), cur[2]]


def test_diff_edges_ignores_removed_markers_and_keys_on_window() -> None:
    gone = replace(_edge("A", "B", 0.5), removed=True)
    assert diff_edges([gone], []) == []
    assert diff_edges([], [gone]) == []
    longer = replace(_edge("A", "B", 0.5), window=120)
    out = diff_edges([_edge("A", "B", 0.5)], [longer])
    assert out == [replace(_edge("A", "B", 0.5), removed=True), longer]
