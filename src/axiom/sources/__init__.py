"""Where data comes from: the company universe, a simulated market, a folder of files.

Pipelines depend on the ports in :mod:`axiom.sources.base` only. Importing this package
reads nothing: the universe loads on the first :func:`load_universe` call, and the
pandas-based :class:`CsvFolderSource` is imported when first named.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from axiom.sources.base import PriceSource, UniverseSource
from axiom.sources.market import (
    REFERENCE_END,
    PlantedJump,
    SimulatedMarket,
    SimulatedReturns,
)
from axiom.sources.universe import load_universe, universe_names

if TYPE_CHECKING:
    from axiom.sources.csv_folder import CsvFolderSource

__all__ = [
    "REFERENCE_END",
    "CsvFolderSource",
    "PlantedJump",
    "PriceSource",
    "SimulatedMarket",
    "SimulatedReturns",
    "UniverseSource",
    "load_universe",
    "universe_names",
]


def __getattr__(name: str) -> Any:
    if name == "CsvFolderSource":
        from axiom.sources.csv_folder import CsvFolderSource

        return CsvFolderSource
    raise AttributeError(f"module 'axiom.sources' has no attribute {name!r}")
