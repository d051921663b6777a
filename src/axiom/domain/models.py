"""Domain types shared by sources, pipelines, consumers and stores.

All are immutable value objects. Each one that travels on the bus has ``to_payload`` (a
JSON-ready dict, numpy arrays kept as arrays so orjson serialises them natively) and
``from_payload`` (validates and raises :class:`~axiom.errors.MessageError` on bad input,
which sends the message to the DLQ).
"""

from __future__ import annotations

import hashlib
import math
import sys
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from axiom.domain import arrays
from axiom.errors import MessageError

FloatArray = npt.NDArray[np.float64]
DateArray = npt.NDArray[np.datetime64]
_PRICE_FIELDS = ("open", "high", "low", "close", "volume")


def _req(payload: dict[str, Any], key: str) -> Any:
    try:
        return payload[key]
    except (KeyError, TypeError) as exc:
        raise MessageError(f"payload lacks '{key}'") from exc


@dataclass(frozen=True, slots=True)
class KeyPerson:
    """A named officer or director of a company (from public metadata)."""

    name: str
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Company:
    """One listed company of the universe; ``symbol`` is its natural key."""

    symbol: str
    name: str
    isin: str | None = None
    country: str | None = None
    sector: str | None = None
    industries: tuple[str, ...] = ()
    indices: tuple[str, ...] = ()
    hq_city: str | None = None
    hq_country: str | None = None
    key_people: tuple[KeyPerson, ...] = ()
    currency: str | None = None
    revenue: float | None = None
    revenue_currency: str | None = None
    employees: int | None = None
    website: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready dict (the ``company-fundamentals`` payload's ``company`` part)."""
        return {
            "symbol": self.symbol,
            "name": self.name,
            "isin": self.isin,
            "country": self.country,
            "sector": self.sector,
            "industries": list(self.industries),
            "indices": list(self.indices),
            "hq_city": self.hq_city,
            "hq_country": self.hq_country,
            "key_people": [{"name": p.name, "roles": list(p.roles)} for p in self.key_people],
            "currency": self.currency,
            "revenue": self.revenue,
            "revenue_currency": self.revenue_currency,
            "employees": self.employees,
            "website": self.website,
        }

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> Company:
        """Rebuild from :meth:`to_payload`; raises MessageError on a malformed payload."""
        symbol = _req(p, "symbol")
        if not isinstance(symbol, str) or not symbol:
            raise MessageError("company symbol must be a non-empty string")
        try:
            return cls(
                symbol=symbol,
                name=str(_req(p, "name")),
                isin=p.get("isin"),
                country=p.get("country"),
                sector=p.get("sector"),
                industries=tuple(p.get("industries") or ()),
                indices=tuple(p.get("indices") or ()),
                hq_city=p.get("hq_city"),
                hq_country=p.get("hq_country"),
                key_people=tuple(
                    KeyPerson(str(k["name"]), tuple(k.get("roles") or ()))
                    for k in p.get("key_people") or ()
                ),
                currency=p.get("currency"),
                revenue=None if p.get("revenue") is None else float(p["revenue"]),
                revenue_currency=p.get("revenue_currency"),
                employees=None if p.get("employees") is None else int(p["employees"]),
                website=p.get("website"),
            )
        except (TypeError, ValueError, KeyError) as exc:
            raise MessageError(f"malformed company payload: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Fundamentals:
    """Company fundamentals as of a date (``company-fundamentals`` topic)."""

    company: Company
    as_of: date
    simulated: bool = False
    extra: dict[str, float] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "company": self.company.to_payload(),
            "as_of": self.as_of.isoformat(),
            "simulated": self.simulated,
            "extra": self.extra,
        }

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> Fundamentals:
        """Rebuild; raises MessageError on a malformed payload."""
        try:
            as_of = date.fromisoformat(_req(p, "as_of"))
        except (TypeError, ValueError) as exc:
            raise MessageError(f"bad as_of: {exc}") from exc
        return cls(
            company=Company.from_payload(_req(p, "company")),
            as_of=as_of,
            simulated=bool(p.get("simulated", False)),
            extra={str(k): float(v) for k, v in (p.get("extra") or {}).items()},
        )


@dataclass(frozen=True, slots=True, eq=False)
class PriceBars:
    """Daily OHLCV bars of one symbol, columnar (many bars in one message).

    Invariants (checked by :meth:`validate`): equal lengths, strictly increasing dates,
    finite positive prices, ``low <= min(open, close)`` and ``high >= max(open, close)``,
    non-negative volume.
    """

    symbol: str
    dates: DateArray  # datetime64[D]
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray
    volume: FloatArray
    simulated: bool = False

    def __len__(self) -> int:
        return int(self.dates.shape[0])

    def validate(self) -> PriceBars:
        """Return self if the invariants hold, else raise MessageError saying which."""
        n = len(self)
        cols = (self.open, self.high, self.low, self.close, self.volume)
        if not self.symbol:
            raise MessageError("price bars without a symbol")
        if any(c.shape != (n,) for c in cols):
            raise MessageError(f"{self.symbol}: columns of unequal length")
        if n and not bool(np.all(self.dates[1:] > self.dates[:-1])):
            raise MessageError(f"{self.symbol}: dates not strictly increasing")
        prices = np.stack([self.open, self.high, self.low, self.close])
        if not bool(np.all(np.isfinite(prices))) or not bool(np.all(prices > 0)):
            raise MessageError(f"{self.symbol}: non-finite or non-positive price")
        tol = 1e-9 * np.abs(self.close)
        if bool(np.any(self.low > np.minimum(self.open, self.close) + tol)) or bool(
            np.any(self.high < np.maximum(self.open, self.close) - tol)
        ):
            raise MessageError(f"{self.symbol}: high/low do not bracket open/close")
        if not bool(np.all(self.volume >= 0)):
            raise MessageError(f"{self.symbol}: negative volume")
        return self

    def slice(self, start: int, stop: int) -> PriceBars:
        """Bars ``[start, stop)`` as a new object (views, no copy)."""
        return PriceBars(
            self.symbol,
            self.dates[start:stop],
            self.open[start:stop],
            self.high[start:stop],
            self.low[start:stop],
            self.close[start:stop],
            self.volume[start:stop],
            self.simulated,
        )

    def to_payload(self, *, packed: bool = True) -> dict[str, Any]:
        """Columnar JSON-ready dict.

        ``packed`` (the default on the bus): ``days`` and the five fields as base64
        little-endian arrays (:mod:`axiom.domain.arrays`); otherwise ``dates`` as ISO
        strings and the fields as JSON numbers. :meth:`from_payload` reads both.
        """
        if not packed:
            return {
                "symbol": self.symbol,
                "dates": np.datetime_as_string(self.dates, unit="D").tolist(),
                **{f: getattr(self, f).tolist() for f in _PRICE_FIELDS},
                "simulated": self.simulated,
            }
        return {
            "symbol": self.symbol,
            "days": arrays.pack_days(self.dates),
            **{f: arrays.pack(getattr(self, f), "<f8") for f in _PRICE_FIELDS},
            "simulated": self.simulated,
        }

    @classmethod
    def from_payload(cls, p: dict[str, Any], *, tail: int | None = None) -> PriceBars:
        """Rebuild and validate; raises MessageError on any violation.

        With ``tail``, only the last ``tail`` bars are rebuilt and validated (for readers
        of the newest bars: the cache updater, the analytics engine); the columns' lengths
        are still checked, the older bars are neither decoded nor validated.
        """
        k = sys.maxsize if tail is None else tail
        try:
            if isinstance(p, dict) and "days" in p:
                dates, n = arrays.unpack_days_tail(p["days"], k)
            else:
                listed = _req(p, "dates")
                if not isinstance(listed, list):
                    raise TypeError("'dates' is not a list")
                n = len(listed)
                dates = np.asarray(listed[max(0, n - k) :], dtype="datetime64[D]")
            cols = [arrays.unpack_tail(_req(p, f), "<f8", f, k) for f in _PRICE_FIELDS]
            symbol = str(_req(p, "symbol"))
        except (TypeError, ValueError) as exc:
            raise MessageError(f"malformed price bars: {exc}") from exc
        if any(total != n for _, total in cols):
            raise MessageError(f"{symbol}: columns of unequal length")
        o, h, low, c, v = (values for values, _ in cols)
        return cls(symbol, dates, o, h, low, c, v, bool(p.get("simulated"))).validate()


def stable_id(*parts: object) -> str:
    """A short deterministic id (natural keys for events, scenarios, documents)."""
    raw = "|".join(str(p) for p in parts).encode()
    return hashlib.blake2b(raw, digest_size=10).hexdigest()


@dataclass(frozen=True, slots=True)
class MarketEvent:
    """A detected market event; ``event_id`` is derived from (symbol, date, kind)."""

    symbol: str
    day: date
    kind: str  # jump | gap | volume_spike | high_52w | low_52w | drawdown
    magnitude: float
    detail: dict[str, float] = field(default_factory=dict)
    simulated: bool = False
    #: Natural key: same symbol, day and kind -> same id (idempotent upserts).
    event_id: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        event_id = stable_id(self.symbol, self.day.isoformat(), self.kind)
        object.__setattr__(self, "event_id", event_id)

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "event_id": self.event_id,
            "symbol": self.symbol,
            "day": self.day.isoformat(),
            "kind": self.kind,
            "magnitude": self.magnitude,
            "detail": self.detail,
            "simulated": self.simulated,
        }

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> MarketEvent:
        """Rebuild; raises MessageError on a malformed payload."""
        try:
            event = cls(
                symbol=str(_req(p, "symbol")),
                day=date.fromisoformat(_req(p, "day")),
                kind=str(_req(p, "kind")),
                magnitude=float(_req(p, "magnitude")),
                detail={str(k): float(v) for k, v in (p.get("detail") or {}).items()},
                simulated=bool(p.get("simulated", False)),
            )
        except (TypeError, ValueError) as exc:
            raise MessageError(f"malformed market event: {exc}") from exc
        if not (math.isfinite(event.magnitude) and all(map(math.isfinite, event.detail.values()))):
            raise MessageError(f"market event {event.symbol} {event.day}: NaN or infinity")
        return event


@dataclass(frozen=True, slots=True)
class CorrelationEdge:
    """Return correlation of two symbols over a window ending at ``window_end``.

    ``a < b`` always (one edge per pair). ``rho`` is NaN-free. A re-run that finds the
    edge gone emits it with ``removed=True``.
    """

    a: str
    b: str
    rho: float
    window_end: date
    window: int
    method: str = "pearson"
    removed: bool = False

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "a": self.a,
            "b": self.b,
            "rho": self.rho,
            "window_end": self.window_end.isoformat(),
            "window": self.window,
            "method": self.method,
            "removed": self.removed,
        }

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> CorrelationEdge:
        """Rebuild; raises MessageError on a malformed payload."""
        try:
            a, b = str(_req(p, "a")), str(_req(p, "b"))
            rho = float(_req(p, "rho"))
            if not a < b:
                raise ValueError(f"edge endpoints must be ordered, got {a!r} >= {b!r}")
            if not -1.0 - 1e-9 <= rho <= 1.0 + 1e-9:
                raise ValueError(f"rho {rho} outside [-1, 1]")
            return cls(
                a=a,
                b=b,
                rho=rho,
                window_end=date.fromisoformat(_req(p, "window_end")),
                window=int(_req(p, "window")),
                method=str(p.get("method", "pearson")),
                removed=bool(p.get("removed", False)),
            )
        except (TypeError, ValueError) as exc:
            raise MessageError(f"malformed correlation edge: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Node:
    """A graph node; ``id`` = ``label:key`` is its natural key."""

    label: str
    key: str
    props: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        """Natural key of the node."""
        return f"{self.label}:{self.key}"


@dataclass(frozen=True, slots=True)
class Edge:
    """A typed, weighted, directed relationship; (src, type, dst) is its natural key."""

    src: str
    type: str
    dst: str
    weight: float = 1.0
    props: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GraphMutation:
    """One change to the graph (``graph-mutations`` topic).

    ``op`` is ``merge_node``, ``merge_edge`` or ``delete_edge``; exactly one of ``node`` /
    ``edge`` is set. Merges are upserts, so applying a mutation twice changes nothing.
    """

    op: str
    node: Node | None = None
    edge: Edge | None = None

    OPS = ("merge_node", "merge_edge", "delete_edge")

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready dict."""
        if self.node is not None:
            n = self.node
            return {"op": self.op, "node": {"label": n.label, "key": n.key, "props": n.props}}
        assert self.edge is not None  # noqa: S101 - constructor invariant
        e = self.edge
        return {
            "op": self.op,
            "edge": {
                "src": e.src,
                "type": e.type,
                "dst": e.dst,
                "weight": e.weight,
                "props": e.props,
            },
        }

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> GraphMutation:
        """Rebuild; raises MessageError on a malformed payload."""
        op = _req(p, "op")
        if op not in cls.OPS:
            raise MessageError(f"unknown graph mutation op {op!r}")
        try:
            if op == "merge_node":
                n = _req(p, "node")
                return cls(
                    op, node=Node(str(n["label"]), str(n["key"]), dict(n.get("props") or {}))
                )
            e = _req(p, "edge")
            return cls(
                op,
                edge=Edge(
                    str(e["src"]),
                    str(e["type"]),
                    str(e["dst"]),
                    float(e.get("weight", 1.0)),
                    dict(e.get("props") or {}),
                ),
            )
        except (TypeError, ValueError, KeyError) as exc:
            raise MessageError(f"malformed graph mutation: {exc}") from exc


@dataclass(frozen=True, slots=True)
class RiskScore:
    """Loss of one company in one shock scenario (``risk-scores`` topic).

    ``loss`` is the DebtRank relative distress h_i in [0, 1] at the end of propagation;
    ``round`` is the first round in which the company became distressed.
    """

    scenario_id: str
    symbol: str
    loss: float
    round: int
    shocked: bool = False

    def to_payload(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return {
            "scenario_id": self.scenario_id,
            "symbol": self.symbol,
            "loss": self.loss,
            "round": self.round,
            "shocked": self.shocked,
        }

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> RiskScore:
        """Rebuild; raises MessageError on a malformed payload."""
        try:
            loss = float(_req(p, "loss"))
            if not 0.0 <= loss <= 1.0:
                raise ValueError(f"loss {loss} outside [0, 1]")
            return cls(
                scenario_id=str(_req(p, "scenario_id")),
                symbol=str(_req(p, "symbol")),
                loss=loss,
                round=int(_req(p, "round")),
                shocked=bool(p.get("shocked", False)),
            )
        except (TypeError, ValueError) as exc:
            raise MessageError(f"malformed risk score: {exc}") from exc
