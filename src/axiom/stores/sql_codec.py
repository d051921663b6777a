"""Row codecs of the SQL warehouse: domain objects <-> table rows, columnar prices, digests.

Used by :class:`axiom.stores.sql.SqlWarehouse` and its dialect adapters, so every SQL
backend maps the same object to the same row and reads it back the same way. Nothing here
touches a connection.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby, repeat
from typing import Any

import numpy as np
import numpy.typing as npt

from axiom.domain.models import (
    Company,
    CorrelationEdge,
    DateArray,
    FloatArray,
    KeyPerson,
    MarketEvent,
    PriceBars,
    RiskScore,
)
from axiom.stores.base import CloseMatrix, PipelineRun, SymbolStats
from axiom.stores.sql_schema import to_utc

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: A result row by column name (SQLAlchemy's ``RowMapping`` or a plain dict).
Row = Mapping[Any, Any]

#: The float columns of ``prices``, in table order.
PRICE_FIELDS: tuple[str, ...] = ("open", "high", "low", "close", "volume")

#: Significant digits kept when floats enter a checksum.
CHECKSUM_DIGITS = 10


def company_row(c: Company, updated_at: datetime) -> dict[str, Any]:
    """The ``companies`` row of ``c``; lists become JSON arrays."""
    return {
        "symbol": c.symbol,
        "name": c.name,
        "isin": c.isin,
        "country": c.country,
        "sector": c.sector,
        "industries": list(c.industries),
        "indices": list(c.indices),
        "hq_city": c.hq_city,
        "hq_country": c.hq_country,
        "key_people": [{"name": p.name, "roles": list(p.roles)} for p in c.key_people],
        "currency": c.currency,
        "revenue": c.revenue,
        "revenue_currency": c.revenue_currency,
        "employees": c.employees,
        "website": c.website,
        "updated_at": updated_at,
    }


def company_from_row(r: Row) -> Company:
    """Rebuild a Company from its row (the inverse of :func:`company_row`)."""
    return Company(
        symbol=r["symbol"],
        name=r["name"],
        isin=r["isin"],
        country=r["country"],
        sector=r["sector"],
        industries=tuple(r["industries"] or ()),
        indices=tuple(r["indices"] or ()),
        hq_city=r["hq_city"],
        hq_country=r["hq_country"],
        key_people=tuple(
            KeyPerson(str(p["name"]), tuple(p.get("roles") or ())) for p in r["key_people"] or ()
        ),
        currency=r["currency"],
        revenue=r["revenue"],
        revenue_currency=r["revenue_currency"],
        employees=r["employees"],
        website=r["website"],
    )


def event_row(e: MarketEvent) -> dict[str, Any]:
    """The ``market_events`` row of ``e``, keyed by its derived ``event_id``."""
    return {
        "event_id": e.event_id,
        "symbol": e.symbol,
        "day": e.day,
        "kind": e.kind,
        "magnitude": float(e.magnitude),
        "detail": dict(e.detail),
        "simulated": bool(e.simulated),
    }


def event_from_row(r: Row) -> MarketEvent:
    """Rebuild a MarketEvent from its row."""
    return MarketEvent(
        symbol=r["symbol"],
        day=r["day"],
        kind=r["kind"],
        magnitude=float(r["magnitude"]),
        detail={str(k): float(v) for k, v in (r["detail"] or {}).items()},
        simulated=bool(r["simulated"]),
    )


def edge_row(e: CorrelationEdge) -> dict[str, Any]:
    """The ``correlation_edges`` row of ``e`` (``removed`` is not stored: it deletes)."""
    return {
        "a": e.a,
        "b": e.b,
        "method": e.method,
        "rho": float(e.rho),
        "window_end": e.window_end,
        "window": int(e.window),
    }


def edge_from_row(r: Row) -> CorrelationEdge:
    """Rebuild a current (not removed) CorrelationEdge from its row."""
    return CorrelationEdge(
        a=r["a"],
        b=r["b"],
        rho=float(r["rho"]),
        window_end=r["window_end"],
        window=int(r["window"]),
        method=r["method"],
    )


def risk_row(s: RiskScore) -> dict[str, Any]:
    """The ``risk_scores`` row of ``s``."""
    return {
        "scenario_id": s.scenario_id,
        "symbol": s.symbol,
        "loss": float(s.loss),
        "round": int(s.round),
        "shocked": bool(s.shocked),
    }


def risk_from_row(r: Row) -> RiskScore:
    """Rebuild a RiskScore from its row."""
    return RiskScore(
        scenario_id=r["scenario_id"],
        symbol=r["symbol"],
        loss=float(r["loss"]),
        round=int(r["round"]),
        shocked=bool(r["shocked"]),
    )


_STATS_FLOATS = ("last_close", "ret_1d", "vol_20d", "high_52w", "low_52w", "drawdown")


def stats_row(s: SymbolStats) -> dict[str, Any]:
    """The ``symbol_stats`` row of ``s``; NaN floats are stored as NULL."""
    row: dict[str, Any] = {"symbol": s.symbol, "last_day": s.last_day, "bars": int(s.bars)}
    row.update({f: float(getattr(s, f)) for f in _STATS_FLOATS})
    return row


def stats_from_row(r: Row) -> SymbolStats:
    """Rebuild SymbolStats; a NULL float (a stored NaN) comes back as NaN."""
    floats = {f: math.nan if r[f] is None else float(r[f]) for f in _STATS_FLOATS}
    return SymbolStats(symbol=r["symbol"], last_day=r["last_day"], bars=int(r["bars"]), **floats)


def run_row(run: PipelineRun) -> dict[str, Any]:
    """The ``pipeline_runs`` row of ``run``; raises ValueError for a naive datetime."""
    return {
        "run_id": run.run_id,
        "pipeline": run.pipeline,
        "trigger": run.trigger,
        "status": run.status,
        "started_at": to_utc(run.started_at),
        "finished_at": None if run.finished_at is None else to_utc(run.finished_at),
        "records": int(run.records),
        "errors": int(run.errors),
        "duration_s": float(run.duration_s),
        "detail": run.detail,
    }


def run_from_row(r: Row) -> PipelineRun:
    """Rebuild a PipelineRun; datetimes come back timezone-aware in UTC."""
    return PipelineRun(
        run_id=r["run_id"],
        pipeline=r["pipeline"],
        trigger=r["trigger"],
        status=r["status"],
        started_at=r["started_at"],
        finished_at=r["finished_at"],
        records=int(r["records"]),
        errors=int(r["errors"]),
        duration_s=float(r["duration_s"]),
        detail=r["detail"],
    )


def price_rows(bars: Sequence[PriceBars]) -> list[dict[str, Any]]:
    """One ``prices`` row per bar, in the order given (portable path; dates as ``date``)."""
    cols = ("symbol", "day", *PRICE_FIELDS, "simulated")
    return [
        dict(zip(cols, values, strict=True))
        for b in bars
        for values in zip(
            repeat(b.symbol),
            np.asarray(b.dates, dtype="datetime64[D]").astype(object).tolist(),
            *(getattr(b, f).tolist() for f in PRICE_FIELDS),
            repeat(bool(b.simulated)),
            strict=False,
        )
    ]


def columns_from_rows(
    rows: Sequence[Sequence[Any]], fields: Sequence[str], *, with_simulated: bool
) -> PriceColumns:
    """Columns from ``(symbol, day, simulated, *fields)`` rows ordered by (symbol, day)."""
    names = [s for s, _ in groupby(r[0] for r in rows)]
    counts = [sum(1 for _ in g) for _, g in groupby(r[0] for r in rows)]
    days = np.array([r[1] for r in rows], dtype="datetime64[D]").reshape(-1)
    sim = np.fromiter((bool(r[2]) for r in rows), dtype=bool, count=len(rows))
    values = {
        f: np.fromiter((float(r[3 + i]) for r in rows), dtype=np.float64, count=len(rows))
        for i, f in enumerate(fields)
    }
    return PriceColumns.from_days(names, counts, days, sim if with_simulated else None, values)


def last_per_key(rows: Iterable[dict[str, Any]], key: Sequence[str]) -> list[dict[str, Any]]:
    """``rows`` with one row per ``key``, the last one given winning (batch upsert order)."""
    out: dict[tuple[Any, ...], dict[str, Any]] = {}
    for row in rows:
        out[tuple(row[k] for k in key)] = row
    return list(out.values())


@dataclass(frozen=True, slots=True)
class PriceColumns:
    """Price rows of several symbols as columns, ordered by (symbol, day).

    Rows of ``symbols[j]`` are ``offsets[j]:offsets[j + 1]``; ``calendar`` is the sorted
    union of their days and ``day_pos[i]`` the position of row ``i``'s day in it.
    ``values`` holds the requested float fields of :data:`PRICE_FIELDS`; ``simulated``
    the per-row flags, or None when the reader was not asked for them.
    """

    symbols: list[str]
    offsets: IntArray
    calendar: DateArray
    day_pos: IntArray
    simulated: BoolArray | None
    values: dict[str, FloatArray]

    @classmethod
    def from_days(
        cls,
        symbols: list[str],
        counts: Sequence[int] | IntArray,
        days: DateArray,
        simulated: BoolArray | None,
        values: dict[str, FloatArray],
    ) -> PriceColumns:
        """Build from the per-row days (rows ordered by symbol, then day)."""
        offsets = np.zeros(len(symbols) + 1, dtype=np.int64)
        np.cumsum(np.asarray(counts, dtype=np.int64), out=offsets[1:])
        calendar, pos = _calendar(np.asarray(days, dtype="datetime64[D]"))
        flags = None if simulated is None else np.asarray(simulated, dtype=bool)
        return cls(symbols, offsets, calendar, pos, flags, values)

    @property
    def rows(self) -> int:
        """Number of price rows."""
        return int(self.day_pos.shape[0])

    def bars(self) -> dict[str, PriceBars]:
        """Symbol -> PriceBars; a symbol is simulated if any of its rows is."""
        days = self.calendar[self.day_pos]
        flags = self.simulated if self.simulated is not None else np.zeros(self.rows, bool)
        nan = np.full(self.rows, np.nan)
        cols = [self.values.get(f, nan) for f in PRICE_FIELDS]
        out: dict[str, PriceBars] = {}
        for j, symbol in enumerate(self.symbols):
            lo, hi = int(self.offsets[j]), int(self.offsets[j + 1])
            o, h, low, c, v = (col[lo:hi] for col in cols)
            sim = bool(flags[lo:hi].any())
            out[symbol] = PriceBars(symbol, days[lo:hi], o, h, low, c, v, sim)
        return out

    def close_matrix(self) -> CloseMatrix:
        """Closes aligned on ``calendar`` (NaN where a symbol has no bar that day)."""
        values = np.full((self.calendar.shape[0], len(self.symbols)), np.nan)
        col = np.repeat(np.arange(len(self.symbols)), np.diff(self.offsets))
        values[self.day_pos, col] = self.values["close"]
        return CloseMatrix(self.calendar, list(self.symbols), values)

    def digest(self) -> str:
        """blake2b over the rows in (symbol, day) order, floats to 10 significant digits."""
        h = hashlib.blake2b(digest_size=16)
        h.update("\x1f".join(self.symbols).encode())
        h.update(np.diff(self.offsets).astype("<i8").tobytes())
        h.update(self.calendar[self.day_pos].astype("<i8").tobytes())
        if self.simulated is None:
            raise ValueError("a price digest needs the simulated flags")
        h.update(self.simulated.astype(np.uint8).tobytes())
        for f in PRICE_FIELDS:
            h.update(round_significant(self.values[f]).astype("<f8").tobytes())
        return h.hexdigest()


def _calendar(days: DateArray) -> tuple[DateArray, IntArray]:
    """Sorted distinct ``days`` and each day's position in them.

    Counting sort over the span of days (linear, no sort of the rows) unless the span is
    much larger than the number of rows.
    """
    if days.shape[0] == 0:
        return days.copy(), np.zeros(0, dtype=np.int64)
    ints = days.astype(np.int64)
    lo = int(ints.min())
    span = int(ints.max()) - lo + 1
    if span > 4 * days.shape[0] + 4096:
        calendar = np.unique(days)
        return calendar, np.searchsorted(calendar, days).astype(np.int64)
    present = np.zeros(span, dtype=bool)
    present[ints - lo] = True
    rank = np.cumsum(present, dtype=np.int64) - 1
    calendar = (np.flatnonzero(present) + lo).astype("datetime64[D]")
    return calendar, rank[ints - lo]


def round_significant(x: FloatArray, digits: int = CHECKSUM_DIGITS) -> FloatArray:
    """``x`` rounded to ``digits`` significant digits; -0 becomes 0, NaN and inf are kept."""
    out: FloatArray = np.asarray(x, dtype=np.float64) + 0.0
    finite = np.isfinite(out) & (out != 0.0)
    v = out[finite]
    scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(v))))
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = np.rint(v * scale) / scale
    bad = ~np.isfinite(rounded)
    if bad.any():
        rounded[bad] = [float(format(float(e), f".{digits}g")) for e in v[bad]]
    out[finite] = rounded
    return out


def _canonical(value: object) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, float):
        if math.isnan(value):
            return "\x00"
        return format(value + 0.0, f".{CHECKSUM_DIGITS}g")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        return to_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | dict):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)


def digest_rows(rows: Iterable[Sequence[object]]) -> str:
    """blake2b over ``rows`` in the given order, each value in a dialect-neutral text form.

    NULL and NaN hash alike (SQLite cannot tell them apart); floats keep
    :data:`CHECKSUM_DIGITS` significant digits; JSON values are hashed with sorted keys.
    """
    h = hashlib.blake2b(digest_size=16)
    for row in rows:
        h.update(("\x1f".join(_canonical(v) for v in row) + "\x1e").encode())
    return h.hexdigest()
