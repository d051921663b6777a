"""The envelope codec and the domain payload validators."""

from __future__ import annotations

from datetime import date

import numpy as np
import orjson
import pytest

from axiom.bus.serde import VERSION, decode, encode
from axiom.domain.arrays import pack, unpack_tail
from axiom.domain.models import (
    Company,
    CorrelationEdge,
    Edge,
    Fundamentals,
    GraphMutation,
    KeyPerson,
    MarketEvent,
    Node,
    PriceBars,
    RiskScore,
)
from axiom.errors import MessageError


def _bars() -> PriceBars:
    d = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-04"))
    c = np.array([10.0, 10.5, 10.2])
    return PriceBars("X", d, c, c + 0.3, c - 0.3, c, np.array([1.0, 2.0, 3.0]), True)


def test_price_bars_roundtrip_through_envelope() -> None:
    raw = encode("price_bars", _bars().to_payload(), key="X", source="test")
    env = decode(raw, expect_type="price_bars")
    assert env.v == VERSION and env.key == "X" and env.source == "test"
    back = PriceBars.from_payload(env.payload)
    assert np.array_equal(back.dates, _bars().dates)
    assert np.array_equal(back.close, _bars().close)
    assert back.simulated is True


@pytest.mark.parametrize(
    ("raw", "msg"),
    [
        (b"[]", "not a JSON object"),
        (b"nope", "not JSON"),
        (b'{"type":"x","v":99,"ts":1,"source":"s","payload":{}}', "version"),
        (b'{"type":"x","v":1,"ts":1}', "lacks source, payload"),
    ],
)
def test_bad_envelopes(raw: bytes, msg: str) -> None:
    with pytest.raises(MessageError, match=msg):
        decode(raw)


def test_price_bar_invariants() -> None:
    p = _bars().to_payload(packed=False)
    p["dates"] = list(reversed(p["dates"]))
    with pytest.raises(MessageError, match="increasing"):
        PriceBars.from_payload(p)
    p = _bars().to_payload()
    p["days"] = pack(np.array([3, 2, 1]), "<i4")
    with pytest.raises(MessageError, match="increasing"):
        PriceBars.from_payload(p)
    p = _bars().to_payload()
    p["close"] = [1.0, -1.0, 1.0]
    with pytest.raises(MessageError):
        PriceBars.from_payload(p)


def test_packed_and_plain_payloads_carry_the_same_bars() -> None:
    packed, plain = _bars().to_payload(), _bars().to_payload(packed=False)
    assert isinstance(packed["close"], str) and plain["close"] == [10.0, 10.5, 10.2]
    assert plain["dates"] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    a, b = PriceBars.from_payload(packed), PriceBars.from_payload(plain)
    for f in ("dates", "open", "high", "low", "close", "volume"):
        assert getattr(a, f).tolist() == getattr(b, f).tolist() == getattr(_bars(), f).tolist()
        assert getattr(a, f).flags.writeable
    rng = np.random.default_rng(3)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 250)))
    year = PriceBars("Y", np.datetime64("2024-01-01") + np.arange(250), *[close] * 4, close)
    sizes = [len(orjson.dumps(year.to_payload(packed=p))) for p in (True, False)]
    assert sizes[0] < 0.7 * sizes[1]


@pytest.mark.parametrize(
    ("field", "value", "msg"),
    [
        ("close", "not base64!", "not base64"),
        ("close", pack(np.array([1.0, 2.0]), "<f8")[:-4] + "AAA=", "whole <f8 values"),
        ("close", pack(np.array([1.0, 2.0]), "<f8"), "unequal length"),
        ("volume", ["a", "b", "c"], "not a list of numbers"),
    ],
)
def test_malformed_packed_columns(field: str, value: object, msg: str) -> None:
    p = _bars().to_payload()
    p[field] = value
    with pytest.raises(MessageError, match=msg):
        PriceBars.from_payload(p)
    with pytest.raises(MessageError, match=msg):
        PriceBars.from_payload(p, tail=3)  # the whole message is the tail


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 251, 252, 253, 1304])
@pytest.mark.parametrize("dtype", ["<f8", "<i4"])
def test_the_tail_of_a_packed_column_is_its_last_values(n: int, dtype: str) -> None:
    values = np.arange(n, dtype=dtype) * 3 + 1
    packed = pack(values, dtype)
    for k in (0, 1, 2, 3, 4, 253, n, n + 5):
        tail, total = unpack_tail(packed, dtype, "x", k)
        assert total == n
        assert tail.tolist() == values[max(0, n - k) :].tolist()
        plain, plain_total = unpack_tail(values.tolist(), dtype, "x", k)
        assert (plain.tolist(), plain_total) == (tail.tolist(), n)


def test_a_tail_decode_checks_what_it_reads_and_the_lengths() -> None:
    packed = pack(np.arange(10, dtype="<f8"), "<f8")
    for bad in (packed[:-1], packed + "A", packed[:-8] + "!" + packed[-7:], packed[:-4] + "AA=="):
        with pytest.raises(MessageError):
            unpack_tail(bad, "<f8", "close", 2)
    # what is not read is not checked: a bad character before the tail goes unseen
    assert unpack_tail("!" + packed[1:], "<f8", "close", 2)[0].tolist() == [8.0, 9.0]
    bars = _long_bars(300)
    p = bars.to_payload()
    tail = PriceBars.from_payload(p, tail=5)
    assert tail.dates.tolist() == bars.dates[-5:].tolist()
    for f in ("open", "high", "low", "close", "volume"):
        assert getattr(tail, f).tolist() == getattr(bars, f)[-5:].tolist()
    plain = PriceBars.from_payload(bars.to_payload(packed=False), tail=5)
    assert plain.dates.tolist() == tail.dates.tolist()
    # lengths are checked even though only the tail is read
    short = {**p, "volume": pack(bars.volume[1:], "<f8")}
    with pytest.raises(MessageError, match="unequal length"):
        PriceBars.from_payload(short, tail=5)
    # the bars read are validated; older ones are not read
    broken_last = {**p, "low": pack(np.r_[bars.low[:-1], bars.high[-1] * 2], "<f8")}
    with pytest.raises(MessageError, match="bracket"):
        PriceBars.from_payload(broken_last, tail=1)
    broken_first = {**p, "low": pack(np.r_[bars.high[0] * 2, bars.low[1:]], "<f8")}
    assert len(PriceBars.from_payload(broken_first, tail=1)) == 1
    with pytest.raises(MessageError, match="bracket"):
        PriceBars.from_payload(broken_first)


def _long_bars(n: int) -> PriceBars:
    rng = np.random.default_rng(11)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    high, low = close * 1.01, close * 0.99
    day = np.datetime64("2024-01-01") + np.arange(n)
    return PriceBars("L", day, close, high, low, close, rng.uniform(1, 9, n) * 1e5)


def test_domain_roundtrips() -> None:
    c = Company(
        "AAPL",
        "Apple",
        isin="US0378331005",
        industries=("Tech",),
        key_people=(KeyPerson("Tim Cook", ("ceo",)),),
        employees=10,
    )
    assert Fundamentals.from_payload(Fundamentals(c, date(2025, 1, 2)).to_payload()).company == c
    e = MarketEvent("AAPL", date(2025, 1, 2), "jump", 9.5, {"z": 9.5})
    assert MarketEvent.from_payload(e.to_payload()) == e
    assert e.event_id == MarketEvent("AAPL", date(2025, 1, 2), "jump", 1.0).event_id
    ce = CorrelationEdge("A", "B", 0.7, date(2025, 1, 2), 252)
    assert CorrelationEdge.from_payload(ce.to_payload()) == ce
    r = RiskScore("s", "AAPL", 0.25, 2)
    assert RiskScore.from_payload(r.to_payload()) == r
    for m in (
        GraphMutation("merge_node", node=Node("Company", "A", {"x": 1})),
        GraphMutation("merge_edge", edge=Edge("Company:A", "PEER_OF", "Company:B", 0.5)),
    ):
        assert GraphMutation.from_payload(m.to_payload()) == m


def test_invalid_domain_payloads() -> None:
    with pytest.raises(MessageError, match="ordered"):
        CorrelationEdge.from_payload(
            {"a": "B", "b": "A", "rho": 0.1, "window_end": "2025-01-01", "window": 5}
        )
    with pytest.raises(MessageError, match="outside"):
        RiskScore.from_payload({"scenario_id": "s", "symbol": "A", "loss": 1.5, "round": 1})
    with pytest.raises(MessageError, match="unknown graph mutation"):
        GraphMutation.from_payload({"op": "drop_everything"})


@pytest.mark.parametrize(
    ("magnitude", "detail"),
    [(float("nan"), {}), (float("inf"), {}), (0.5, {"z": float("nan")}), (0.5, {"z": "-inf"})],
)
def test_an_event_with_a_non_finite_number_is_refused(magnitude: float, detail: dict) -> None:
    # a poison message for the DLQ, not a row the warehouse's JSON column would refuse
    payload = {"symbol": "A", "day": "2024-01-02", "kind": "jump", "magnitude": magnitude}
    with pytest.raises(MessageError, match="NaN or infinity"):
        MarketEvent.from_payload({**payload, "detail": detail})


def test_an_event_with_large_finite_numbers_is_kept() -> None:
    p = {"symbol": "A", "day": "2024-01-02", "kind": "jump", "magnitude": 1e308}
    assert MarketEvent.from_payload({**p, "detail": {"z": 1e308}}).detail == {"z": 1e308}
