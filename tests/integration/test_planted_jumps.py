"""The jump detector against the simulated market's planted jumps (ground truth).

Measured on 300 real universe companies x 5 years; the figures are printed for the
record (``pytest -s``) and must reach >= 95 % recall at >= 90 % precision.
"""

from __future__ import annotations

import numpy as np

from axiom.analytics.correlations import pearson
from axiom.analytics.events import detect_jumps
from axiom.analytics.returns import PricePanel, log_returns
from axiom.sources.market import SimulatedMarket
from axiom.sources.universe import load_universe


def test_planted_jumps_found_with_precision() -> None:
    companies = load_universe("all")[:300]
    market = SimulatedMarket(companies, seed=11, years=5)
    bars = list(market.bars([c.symbol for c in companies], market.start, market.end))
    found = {(e.symbol, e.day) for e in detect_jumps(PricePanel.from_bars(bars))}
    planted = {(j.symbol, j.day) for j in market.planted_jumps()}
    assert len(planted) > 1000
    hits = len(found & planted)
    recall, precision = hits / len(planted), hits / max(1, len(found))
    print(
        f"planted {len(planted)}, detected {len(found)}, "
        f"recall {recall:.3f}, precision {precision:.3f}"
    )
    assert recall >= 0.95
    assert precision >= 0.90


def test_pearson_equals_corrcoef_on_simulated_returns() -> None:
    companies = load_universe("S&P 500")
    market = SimulatedMarket(companies, seed=3, years=5)
    bars = list(market.bars([c.symbol for c in companies], market.start, market.end))
    panel = PricePanel.from_bars(bars)
    rets = log_returns(panel.close)
    rets = rets[:, np.isfinite(rets).all(axis=0)]
    assert rets.shape[1] > 400
    diff = np.abs(pearson(rets) - np.corrcoef(rets, rowvar=False)).max()
    assert diff <= 1e-9
