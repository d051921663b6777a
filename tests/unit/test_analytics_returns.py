from __future__ import annotations

import numpy as np
import pytest

from axiom.analytics.returns import (
    PricePanel,
    annualised_vol,
    ewma_volatility,
    log_returns,
    simple_returns,
)
from axiom.domain.models import PriceBars
from axiom.errors import InputError


def _reference_ewma(
    r: np.ndarray, lam: float, clip: float, warmup: int, floor: float
) -> np.ndarray:
    """Scalar, one-column-at-a-time statement of the estimator."""
    out = np.full(r.shape, np.nan)
    for j in range(r.shape[1]):
        seen: list[float] = []
        s2: float | None = None
        for t in range(r.shape[0]):
            if s2 is not None:
                out[t, j] = np.sqrt(max(s2, floor**2))
            x = r[t, j]
            if not np.isfinite(x):
                continue
            if s2 is None:
                seen.append(x)
                if len(seen) == warmup:
                    a = np.array(seen)
                    scale = 1.4826 * np.median(np.abs(a))
                    s2 = max(float(np.mean(np.minimum(a * a, (clip * scale) ** 2))), floor**2)
                continue
            s2 = max(lam * s2 + (1 - lam) * min(x * x, clip * clip * s2), floor**2)
    return out


def test_log_returns_shape_values_and_missing_prices() -> None:
    close = np.array([[100.0, 10.0], [110.0, np.nan], [99.0, 12.0], [0.0, 12.0], [50.0, 6.0]])
    r = log_returns(close)
    assert r.shape == (4, 2)
    assert r[0, 0] == pytest.approx(np.log(1.1))
    assert r[1, 0] == pytest.approx(np.log(99 / 110))
    # a missing or non-positive price blanks both returns that touch it
    assert np.isnan(r[0, 1]) and np.isnan(r[1, 1])
    assert np.isnan(r[2, 0]) and np.isnan(r[3, 0])
    assert r[2, 1] == 0.0
    assert r[3, 1] == pytest.approx(np.log(0.5))


def test_simple_returns_agree_with_log_returns() -> None:
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, (50, 4)), axis=0))
    close[10, 2] = np.nan
    s, r = simple_returns(close), log_returns(close)
    np.testing.assert_allclose(s, np.expm1(r), rtol=1e-12, atol=1e-15)
    assert np.array_equal(np.isnan(s), np.isnan(r))


def test_annualised_vol_matches_numpy_and_blanks_short_columns() -> None:
    rng = np.random.default_rng(4)
    r = rng.normal(0, 0.01, (300, 3))
    r[:, 2] = np.nan
    r[5, 2] = 0.01
    vol = annualised_vol(r)
    np.testing.assert_allclose(vol[:2], r[:, :2].std(axis=0, ddof=1) * np.sqrt(252), rtol=1e-12)
    assert np.isnan(vol[2])


def test_ewma_matches_scalar_reference_with_gaps_and_late_listing() -> None:
    rng = np.random.default_rng(5)
    r = rng.standard_t(5, (200, 6)) * 0.01
    r[:70, 1] = np.nan  # listed late
    r[rng.random(r.shape) < 0.05] = np.nan
    r[120, 3] = 0.5  # a jump
    r[:, 5] = np.nan
    r[:10, 5] = 0.01  # never reaches the warm-up
    got = ewma_volatility(r, lam=0.94, clip=4.0, warmup=20, floor=1e-4)
    want = _reference_ewma(r, 0.94, 4.0, 20, 1e-4)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=1e-12, equal_nan=True)
    assert np.isnan(got[:, 5]).all()
    assert np.isnan(got[:90, 1]).sum() >= 70


def test_ewma_uses_only_past_returns() -> None:
    rng = np.random.default_rng(6)
    r = rng.normal(0, 0.01, (100, 1))
    base = ewma_volatility(r)
    bumped = r.copy()
    bumped[60, 0] = 0.03
    after = ewma_volatility(bumped)
    np.testing.assert_array_equal(base[:61], after[:61])
    assert after[61, 0] > base[61, 0]
    assert np.isnan(base[:20, 0]).all() and np.isfinite(base[20:, 0]).all()


def test_ewma_is_robust_to_a_jump() -> None:
    r = np.full(200, 0.01)
    r[::2] = -0.01
    r[100] = 0.5  # 50 sigma
    sig = ewma_volatility(r, lam=0.94, clip=4.0)
    before, after = sig[100], sig[101]
    assert before == pytest.approx(0.01, rel=1e-9)
    # the clipped update bounds the jump's effect to sqrt(lam + (1 - lam) * clip^2)
    assert after / before == pytest.approx(np.sqrt(0.94 + 0.06 * 16), rel=1e-9)
    assert after / before < 1.4


def test_ewma_floor_for_stale_prices() -> None:
    r = np.zeros(400)
    r[:20] = 0.01 * np.array([1, -1] * 10)
    sig = ewma_volatility(r, floor=1e-4)
    assert sig[-1] == pytest.approx(1e-4)
    assert np.all(sig[21:] >= 1e-4)


def test_ewma_rejects_bad_parameters() -> None:
    with pytest.raises(InputError):
        ewma_volatility(np.zeros((10, 2)), lam=1.0)


def _bars(symbol: str, days: list[str], closes: list[float]) -> PriceBars:
    c = np.array(closes)
    return PriceBars(
        symbol,
        np.array(days, dtype="datetime64[D]"),
        c,
        c * 1.01,
        c * 0.99,
        c,
        np.full(len(c), 1000.0),
    )


def test_panel_from_bars_aligns_on_union_of_dates() -> None:
    a = _bars("AAA", ["2024-01-02", "2024-01-03", "2024-01-05"], [1.0, 2.0, 3.0])
    b = _bars("BBB", ["2024-01-03", "2024-01-04"], [10.0, 11.0])
    panel = PricePanel.from_bars([a, b])
    assert panel.shape == (4, 2)
    assert panel.symbols == ("AAA", "BBB")
    assert (
        panel.dates.tolist()
        == np.array(
            ["2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"], dtype="datetime64[D]"
        ).tolist()
    )
    np.testing.assert_array_equal(panel.close[:, 0], [1.0, 2.0, np.nan, 3.0])
    np.testing.assert_array_equal(panel.close[:, 1], [np.nan, 10.0, 11.0, np.nan])
    np.testing.assert_array_equal(panel.high[:, 1], [np.nan, 10.1, 11.11, np.nan])
    assert not panel.simulated


def test_panel_validation() -> None:
    dates = np.array(["2024-01-03", "2024-01-02"], dtype="datetime64[D]")
    x = np.ones((2, 1))
    with pytest.raises(InputError, match="increasing"):
        PricePanel(("A",), dates, x, x, x, x, x)
    with pytest.raises(InputError, match="shape"):
        PricePanel(("A", "B"), dates[::-1].copy(), x, x, x, x, x)
    with pytest.raises(InputError, match="unique"):
        PricePanel(("A", "A"), dates[::-1].copy(), *[np.ones((2, 2))] * 5)
