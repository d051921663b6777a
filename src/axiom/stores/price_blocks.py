"""Columnar price blocks: a symbol's bars of one calendar year in one row.

``prices`` holds one row per bar: the table SQL users query, the truth the checksums
cover. Readers of whole histories (the events and correlations pipelines, the API's
charts) would pay for 2.3 million row fetches for the full universe; they read
``price_blocks`` instead, where each (symbol, year) keeps its days and fields as
little-endian arrays. :meth:`SqlWarehouse.upsert_prices` writes both in one transaction,
so a block always equals the rows it summarises; the migration that created the table
filled it from the rows already stored.

Blob layout: ``days`` int32 days since 1970-01-01, one float64 per bar in each of
``open``/``high``/``low``/``close``/``volume``, one uint8 per bar in ``simulated``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import select, tuple_

from axiom.domain.models import PriceBars
from axiom.stores.sql_codec import PRICE_FIELDS, PriceColumns
from axiom.stores.sql_schema import price_blocks

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Row

FIELDS = PRICE_FIELDS
_EPOCH = np.datetime64("1970-01-01", "D")
_YEAR0 = 1970


@dataclass(frozen=True, slots=True)
class Block:
    """The bars of one symbol in one year: ``days`` (int days since 1970) ascending."""

    days: npt.NDArray[np.int64]
    values: dict[str, npt.NDArray[np.float64]]
    simulated: npt.NDArray[np.bool_]

    def merged(self, newer: Block) -> Block:
        """This block with ``newer``'s bars added; on a shared day ``newer`` wins."""
        days = np.concatenate((newer.days, self.days))
        # np.unique keeps the first occurrence of each day: newer bars come first.
        uniq, first = np.unique(days, return_index=True)
        return Block(
            uniq,
            {f: np.concatenate((newer.values[f], self.values[f]))[first] for f in FIELDS},
            np.concatenate((newer.simulated, self.simulated))[first],
        )

    def to_row(self, symbol: str, year: int) -> dict[str, Any]:
        """The ``price_blocks`` row of this block."""
        row: dict[str, Any] = {
            "symbol": symbol,
            "year": year,
            "bars": int(self.days.shape[0]),
            "days": self.days.astype("<i4").tobytes(),
            "simulated": self.simulated.astype(np.uint8).tobytes(),
        }
        for f in FIELDS:
            row[f] = np.ascontiguousarray(self.values[f], dtype="<f8").tobytes()
        return row

    @classmethod
    def from_row(cls, row: Row[Any]) -> Block:
        """Decode a ``price_blocks`` row."""
        m = row._mapping
        return cls(
            np.frombuffer(m["days"], dtype="<i4").astype(np.int64),
            {f: np.frombuffer(m[f], dtype="<f8") for f in FIELDS},
            np.frombuffer(m["simulated"], dtype=np.uint8).astype(bool),
        )


def by_year(
    days: npt.NDArray[np.int64],
    values: dict[str, npt.NDArray[np.float64]],
    simulated: npt.NDArray[np.bool_],
) -> Iterator[tuple[int, Block]]:
    """Ascending bars of one symbol (``days`` since 1970) cut into (year, block)."""
    years = days.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + _YEAR0
    cuts = np.flatnonzero(np.diff(years)) + 1
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(days)], strict=True):
        part = Block(days[lo:hi], {f: values[f][lo:hi] for f in FIELDS}, simulated[lo:hi])
        yield int(years[lo]), part


def blocks_of(bars: Sequence[PriceBars]) -> dict[tuple[str, int], Block]:
    """The bars cut into (symbol, year) blocks; for a repeated key the later bar wins."""
    out: dict[tuple[str, int], Block] = {}
    for b in bars:
        if len(b) == 0:
            continue
        days = (np.asarray(b.dates, dtype="datetime64[D]") - _EPOCH).astype(np.int64)
        values = {f: np.asarray(getattr(b, f), dtype=np.float64) for f in FIELDS}
        for year, part in by_year(days, values, np.full(len(days), bool(b.simulated))):
            key = (b.symbol, year)
            out[key] = out[key].merged(part) if key in out else part
    return out


def stored(conn: Connection, keys: Iterable[tuple[str, int]]) -> dict[tuple[str, int], Block]:
    """The stored blocks of ``keys`` (absent keys are left out)."""
    t = price_blocks
    keys = list(keys)
    out: dict[tuple[str, int], Block] = {}
    for i in range(0, len(keys), 500):
        part = keys[i : i + 500]
        stmt = select(t).where(tuple_(t.c.symbol, t.c.year).in_(part))
        for row in conn.execute(stmt):
            out[(row.symbol, int(row.year))] = Block.from_row(row)
    return out


def merged_rows(conn: Connection, bars: Sequence[PriceBars]) -> list[dict[str, Any]]:
    """The ``price_blocks`` rows to upsert after ``bars`` (stored blocks merged in)."""
    incoming = blocks_of(bars)
    old = stored(conn, incoming)
    return [(old[k].merged(blk) if k in old else blk).to_row(*k) for k, blk in incoming.items()]


def read_columns(
    conn: Connection,
    fields: Sequence[str],
    symbols: Sequence[str] | None,
    start: date | None,
    end: date | None,
    *,
    with_simulated: bool,
    sort_key: Any = None,
) -> PriceColumns:
    """Prices of ``symbols`` in [start, end] as columns, from the blocks (one query).

    ``sort_key`` orders the symbols (the dialect's code-point collation of the column).
    """
    t = price_blocks
    cols = [t.c.symbol, t.c.year, t.c.days, *(t.c[f] for f in fields)]
    if with_simulated:
        cols.append(t.c.simulated)
    stmt = select(*cols)
    if symbols is not None:
        stmt = stmt.where(t.c.symbol.in_(sorted(set(symbols))))
    if start is not None:
        stmt = stmt.where(t.c.year >= start.year)
    if end is not None:
        stmt = stmt.where(t.c.year <= end.year)
    stmt = stmt.order_by(sort_key if sort_key is not None else t.c.symbol, t.c.year)
    lo = None if start is None else (np.datetime64(start, "D") - _EPOCH).astype(np.int64)
    hi = None if end is None else (np.datetime64(end, "D") - _EPOCH).astype(np.int64)
    names: list[str] = []
    counts: list[int] = []
    days: list[npt.NDArray[np.int64]] = []
    values: dict[str, list[npt.NDArray[np.float64]]] = {f: [] for f in fields}
    sims: list[npt.NDArray[np.bool_]] = []
    for row in conn.execute(stmt):
        d = np.frombuffer(row.days, dtype="<i4")
        keep = slice(
            0 if lo is None else int(np.searchsorted(d, lo, "left")),
            len(d) if hi is None else int(np.searchsorted(d, hi, "right")),
        )
        n = keep.stop - keep.start
        if n <= 0:
            continue
        if not names or names[-1] != row.symbol:
            names.append(row.symbol)
            counts.append(0)
        counts[-1] += n
        days.append(d[keep])
        for f in fields:
            values[f].append(np.frombuffer(row._mapping[f], dtype="<f8")[keep])
        if with_simulated:
            sims.append(np.frombuffer(row.simulated, dtype=np.uint8)[keep].astype(bool))
    flat_days = (np.concatenate(days) if days else np.zeros(0, np.int32)).astype(np.int64)
    return PriceColumns.from_days(
        names,
        counts,
        flat_days.astype("datetime64[D]"),
        (np.concatenate(sims) if sims else np.zeros(0, bool)) if with_simulated else None,
        {f: np.concatenate(v) if v else np.zeros(0) for f, v in values.items()},
    )
