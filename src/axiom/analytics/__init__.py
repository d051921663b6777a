"""Pure numerics of Axiom: returns, correlations, event detection and risk propagation.

No I/O happens here; pipelines read data, call these functions and publish the results.
Only numpy and scipy are used, so everything runs the same in a Ray worker or a test.
"""

from __future__ import annotations

from axiom.analytics.correlations import (
    diff_edges,
    edges_from_matrix,
    ledoit_wolf,
    pearson,
    rolling,
)
from axiom.analytics.events import (
    EventConfig,
    detect_52w_extremes,
    detect_all,
    detect_drawdowns,
    detect_gaps,
    detect_jumps,
    detect_volume_spikes,
    prior_sigma,
)
from axiom.analytics.returns import (
    PricePanel,
    annualised_vol,
    ewma_volatility,
    log_returns,
    simple_returns,
)
from axiom.analytics.risk import (
    DebtRankResult,
    DebtRankRound,
    ImpactGraph,
    debtrank,
)

__all__ = [
    "DebtRankResult",
    "DebtRankRound",
    "EventConfig",
    "ImpactGraph",
    "PricePanel",
    "annualised_vol",
    "debtrank",
    "detect_52w_extremes",
    "detect_all",
    "detect_drawdowns",
    "detect_gaps",
    "detect_jumps",
    "detect_volume_spikes",
    "diff_edges",
    "edges_from_matrix",
    "ewma_volatility",
    "ledoit_wolf",
    "log_returns",
    "pearson",
    "prior_sigma",
    "rolling",
    "simple_returns",
]
