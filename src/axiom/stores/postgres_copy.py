"""Wire codecs of the PostgreSQL warehouse: prices as binary COPY and as per-symbol blobs.

Used only by :class:`axiom.stores.postgres.PostgresWarehouse`; nothing here touches a
connection. Both directions are vectorised with numpy structured arrays, so no Python
object is made per row:

* writes: :class:`PriceRows` holds one batch, one row per (symbol, day) with the last bar
  given winning, sorted by (symbol, day), and encodes it in PostgreSQL's binary ``COPY``
  format (:meth:`PriceRows.copy_chunks`);
* other tables: :func:`copy_values` gives the values of any table's rows as a text
  ``COPY`` takes them;
* reads: :func:`record_sql` is the SQL expression that packs one row into a fixed-width
  big-endian record; the server concatenates them per symbol (``string_agg``) and
  :func:`columns_from_blobs` turns those blobs into :class:`~axiom.stores.sql_codec.PriceColumns`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import groupby
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import orjson
from sqlalchemy import JSON
from sqlalchemy.types import TypeDecorator

from axiom.domain.models import FloatArray, PriceBars
from axiom.stores import sql_codec as codec

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Dialect

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Columns of ``prices`` in the order the COPY payload carries them.
PRICE_COLUMNS: tuple[str, ...] = ("symbol", "day", *codec.PRICE_FIELDS, "simulated")
#: Days from 1970-01-01 (numpy's epoch) to 2000-01-01 (PostgreSQL's date epoch).
PG_EPOCH_DAYS = 10957
_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
_TRAILER = b"\xff\xff"


@dataclass(frozen=True, slots=True)
class PriceRows:
    """The rows of one price write: unique (symbol, day), sorted, the last bar given wins.

    ``symbols`` are distinct and sorted; rows of ``symbols[j]`` are the ``counts[j]`` rows
    after those of the symbols before it. ``days`` counts days from 1970-01-01.
    """

    symbols: list[str]
    counts: IntArray
    days: IntArray
    values: dict[str, FloatArray]
    simulated: BoolArray

    @classmethod
    def from_bars(cls, bars: Sequence[PriceBars]) -> PriceRows:
        """Merge ``bars`` (any order, any overlap) into sorted rows, one per key.

        Called by the price writer before it streams a batch; two bars of one
        (symbol, day) keep the later one, exactly as row-by-row upserts would.
        """
        parts = [b for b in bars if len(b)]
        names = sorted({b.symbol for b in parts})
        if not parts:
            empty = np.zeros(0, dtype=np.int64)
            values = {f: np.zeros(0) for f in codec.PRICE_FIELDS}
            return cls([], empty, empty, values, np.zeros(0, dtype=bool))
        code_of = {s: i for i, s in enumerate(names)}
        codes = np.concatenate([np.full(len(b), code_of[b.symbol], np.int64) for b in parts])
        days = np.concatenate(
            [np.asarray(b.dates, dtype="datetime64[D]").astype(np.int64) for b in parts]
        )
        lo = int(days.min())
        key = codes * (int(days.max()) - lo + 1) + (days - lo)
        if key.shape[0] > 1 and not bool(np.all(key[1:] > key[:-1])):
            # First occurrence in the reversed rows = last occurrence in the given order.
            _, first = np.unique(key[::-1], return_index=True)
            pick: IntArray | slice = key.shape[0] - 1 - first
        else:
            pick = slice(None)
        values = {
            f: np.concatenate([getattr(b, f) for b in parts])[pick] for f in codec.PRICE_FIELDS
        }
        flags = np.concatenate([np.full(len(b), bool(b.simulated)) for b in parts])[pick]
        kept = codes[pick]
        counts = np.bincount(kept, minlength=len(names)).astype(np.int64)
        return cls(names, counts, days[pick], values, flags)

    def __len__(self) -> int:
        return int(self.days.shape[0])

    def copy_chunks(self, rows_per_chunk: int = 32_768) -> Iterator[bytes]:
        """The rows as one binary ``COPY ... FROM STDIN (FORMAT binary)`` stream.

        Columns in :data:`PRICE_COLUMNS` order; the stream starts with the header and
        ends with the trailer, so the chunks can be written to the COPY as they come.
        Rows go in (symbol, day) order, the order of the primary key: into a table whose
        keys are new, every index insert then lands on the rightmost leaf (PostgreSQL's
        fast path, and pages split full). Each run of neighbouring symbols with one byte
        length is encoded as fixed-width records; a run longer than ``rows_per_chunk``
        rows is cut into several chunks.
        """
        yield _HEADER
        encoded = [s.encode() for s in self.symbols]
        ends = np.cumsum(self.counts).tolist()
        first = 0
        for width, run in groupby(encoded, key=len):
            names = list(run)
            last = first + len(names)
            start, stop = (ends[first - 1] if first else 0), ends[last - 1]
            row_names = np.repeat(np.array(names, dtype=f"S{width}"), self.counts[first:last])
            for lo in range(start, stop, rows_per_chunk):
                hi = min(lo + rows_per_chunk, stop)
                yield self._records(lo, hi, width, row_names[lo - start : hi - start]).tobytes()
            first = last
        yield _TRAILER

    def _records(
        self, lo: int, hi: int, width: int, names: npt.NDArray[np.bytes_]
    ) -> npt.NDArray[np.void]:
        """Binary COPY tuples of rows ``lo:hi``, whose symbols are ``width`` bytes long."""
        layout: list[tuple[str, str]] = [("n", ">i2"), ("ls", ">i4"), ("s", f"S{width}")]
        layout += [("ld", ">i4"), ("d", ">i4")]
        for f in codec.PRICE_FIELDS:
            layout += [(f"l_{f}", ">i4"), (f, ">f8")]
        layout += [("lb", ">i4"), ("b", "u1")]
        rec = np.empty(hi - lo, dtype=np.dtype(layout))
        rec["n"] = len(PRICE_COLUMNS)
        rec["ls"] = width
        rec["s"] = names
        rec["ld"] = 4
        rec["d"] = self.days[lo:hi] - PG_EPOCH_DAYS
        for f in codec.PRICE_FIELDS:
            rec[f"l_{f}"] = 8
            rec[f] = self.values[f][lo:hi]
        rec["lb"] = 1
        rec["b"] = self.simulated[lo:hi]
        return rec


def _record_dtype(fields: Sequence[str], with_simulated: bool) -> np.dtype[np.void]:
    layout = [("day", ">i4"), *((f, ">f8") for f in fields)]
    if with_simulated:
        layout.append(("simulated", "u1"))
    return np.dtype(layout)


def record_sql(fields: Sequence[str], with_simulated: bool) -> str:
    """SQL packing one ``prices`` row into the record :func:`columns_from_blobs` reads.

    ``fields`` must be checked against :data:`~axiom.stores.sql_codec.PRICE_FIELDS` by the
    caller: they are column names put into the statement.
    """
    parts = ["int4send(day - DATE '2000-01-01')"]
    parts += [f"float8send({f})" for f in fields]
    if with_simulated:
        parts.append("boolsend(simulated)")
    return " || ".join(parts)


def columns_from_blobs(
    rows: Sequence[tuple[str, Any]], fields: Sequence[str], *, with_simulated: bool
) -> codec.PriceColumns:
    """Columns from ``(symbol, blob of records)`` rows (any order of symbols and of days).

    Symbols end in code-point order (as Python sorts, whatever the server's collation)
    and days ascending within each symbol, which the aggregate does not promise.
    """
    dtype = _record_dtype(fields, with_simulated)
    rows = sorted(rows, key=lambda r: r[0])
    counts = np.array([len(r[1]) // dtype.itemsize for r in rows], dtype=np.int64)
    n = int(counts.sum())
    days = np.empty(n, dtype=np.int64)
    values = {f: np.empty(n, dtype=np.float64) for f in fields}
    sim = np.empty(n, dtype=bool) if with_simulated else None
    at = 0
    for (_, blob), k in zip(rows, counts.tolist(), strict=True):
        rec = np.frombuffer(blob, dtype=dtype, count=k)
        days[at : at + k] = rec["day"]
        for f in fields:
            values[f][at : at + k] = rec[f]
        if sim is not None:
            sim[at : at + k] = rec["simulated"]
        at += k
    days += PG_EPOCH_DAYS
    _sort_days_within_symbols(counts, days, values, sim)
    return codec.PriceColumns.from_days(
        [r[0] for r in rows], counts, days.astype("datetime64[D]"), sim, values
    )


def _sort_days_within_symbols(
    counts: IntArray, days: IntArray, values: dict[str, FloatArray], sim: BoolArray | None
) -> None:
    """Order rows by day inside each symbol's segment, in place; free when already so."""
    if days.shape[0] < 2:
        return
    step = days[1:] > days[:-1]
    starts = np.cumsum(counts)[:-1]
    step[starts[(starts > 0) & (starts < days.shape[0])] - 1] = True
    if bool(step.all()):
        return
    segment = np.repeat(np.arange(counts.shape[0]), counts)
    order = np.lexsort((days, segment))
    days[:] = days[order]
    for f in values:
        values[f][:] = values[f][order]
    if sim is not None:
        sim[:] = sim[order]


def copy_values(
    table: Table, rows: Sequence[Mapping[str, Any]], dialect: Dialect
) -> Iterator[tuple[Any, ...]]:
    """Each row's values in ``table``'s column order, ready for a text ``COPY``.

    The column types' own bind conversions are applied (timezone-aware UTC datetimes,
    NaN stored as NULL), and JSON values are serialised, so a row copied lands exactly as
    an ``INSERT`` through SQLAlchemy would store it. A naive datetime raises ValueError.
    """
    names = [c.name for c in table.columns]
    convert: list[Callable[[Any], Any] | None] = []
    for column in table.columns:
        kind = column.type
        if isinstance(kind, TypeDecorator):
            convert.append(partial(_decorated, kind, dialect))
        elif isinstance(kind, JSON):
            convert.append(_json)
        else:
            convert.append(None)
    for row in rows:
        yield tuple(row[n] if f is None else f(row[n]) for n, f in zip(names, convert, strict=True))


def _decorated(kind: TypeDecorator[Any], dialect: Dialect, value: Any) -> Any:
    return kind.process_bind_param(value, dialect)


def _json(value: Any) -> str | None:
    """Compact JSON text; a non-finite float is refused, as PostgreSQL's JSON type does."""
    if value is None:
        return None
    text = orjson.dumps(value).decode()
    if "null" in text and not _finite(value):
        raise ValueError(f"JSON value with a NaN or infinity: {value!r}")
    return text


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_finite(v) for v in value)
    return True
