"""Source ports: where companies and prices come from.

A :class:`PriceSource` is what the ingestion pipeline reads bars from; a
:class:`UniverseSource` is what it reads the company list from. Adapters live next to this
module (``market.py`` simulates, ``csv_folder.py`` reads files); the pipelines depend on
these ports only, so swapping the simulated market for real files changes no pipeline code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Protocol

import numpy as np

from axiom.domain.models import Company, DateArray, PriceBars
from axiom.errors import DateRangeError


class PriceSource(ABC):
    """Daily OHLCV bars for a list of symbols.

    Guarantees every adapter gives: :meth:`bars` yields exactly one :class:`PriceBars` per
    distinct requested symbol, in the order of first request, each holding only days
    within ``[start, end]`` (Mon-Fri for the simulated market) and passing
    :meth:`PriceBars.validate`; ``bars.simulated`` equals :attr:`simulated`. A symbol the
    source does not know raises :class:`~axiom.errors.UnknownSymbolError` before anything
    is yielded; a range with ``start > end`` raises :class:`~axiom.errors.DateRangeError`.
    A range that holds no data yields empty bars rather than failing, so incremental
    fetches need no special case.
    """

    #: True when every price this source yields is made up (the simulated market).
    simulated: bool = False

    @abstractmethod
    def symbols(self) -> list[str]:
        """Every symbol this source can serve, sorted; the CLI lists these."""

    @abstractmethod
    def bars(self, symbols: Sequence[str], start: date, end: date) -> Iterator[PriceBars]:
        """Yield one validated :class:`PriceBars` per distinct symbol, days in [start, end].

        Called by the ingestion pipeline once per batch of symbols. Errors are the ones the
        class docstring names; an adapter never yields bars that fail validation.
        """


class UniverseSource(Protocol):
    """Anything that turns a universe name into companies (``load_universe`` is one).

    Called by the CLI, the API and the pipelines. Returns companies sorted by symbol with
    unique symbols; an unknown name raises :class:`~axiom.errors.UnknownUniverseError`.
    """

    def __call__(self, name: str = "all") -> list[Company]:
        """Return the companies of universe ``name``."""
        ...


def check_range(start: date, end: date) -> None:
    """Raise :class:`DateRangeError` unless ``start <= end``.

    Called by every :class:`PriceSource` adapter before it does any work, so a reversed
    range fails fast with one line naming both dates.
    """
    if start > end:
        raise DateRangeError(
            f"empty date range: start {start.isoformat()} is after end {end.isoformat()}"
        )


def business_days(start: date, end: date) -> DateArray:
    """Mon-Fri dates in ``[start, end]`` as ``datetime64[D]`` (empty when start > end).

    Used by the simulated market to build its calendar; holidays are not modelled.
    """
    if start > end:
        return np.empty(0, dtype="datetime64[D]")
    days = np.arange(np.datetime64(start, "D"), np.datetime64(end, "D") + np.timedelta64(1, "D"))
    return days[np.is_busday(days)]


def empty_bars(symbol: str, *, simulated: bool) -> PriceBars:
    """Zero-length bars for ``symbol``: what an adapter yields for a range without data."""
    nothing = np.empty(0, dtype=np.float64)
    return PriceBars(
        symbol,
        np.empty(0, dtype="datetime64[D]"),
        nothing,
        nothing.copy(),
        nothing.copy(),
        nothing.copy(),
        nothing.copy(),
        simulated,
    )
