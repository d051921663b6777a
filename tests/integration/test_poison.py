"""Poison messages go to the DLQ with the reason while the stream goes on."""

from __future__ import annotations

import numpy as np
import orjson

from axiom.bus.serde import encode
from axiom.consumers.runner import ConsumerRunner
from axiom.consumers.warehouse_writer import WarehouseWriter
from axiom.domain.models import PriceBars
from axiom.domain.topics import PRICE_UPDATES, dlq_name
from axiom.runtime import Runtime


def _bars(symbol: str, n: int = 5, bad: bool = False) -> dict[str, object]:
    dates = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-01") + n)
    close = np.linspace(10, 11, n)
    low = close * (1.5 if bad else 0.99)  # bad: low above close
    return PriceBars(symbol, dates, close, close * 1.01, low, close, np.full(n, 1e5)).to_payload()


def test_poison_goes_to_dlq_and_stream_continues(runtime: Runtime) -> None:
    bus = runtime.bus
    with bus.producer() as p:
        p.send(PRICE_UPDATES, encode("price_bars", _bars("AAA"), key="AAA", source="t"), key="AAA")
        p.send(PRICE_UPDATES, b"{not json", key="AAA")
        p.send(
            PRICE_UPDATES,
            encode("price_bars", _bars("AAA", bad=True), key="AAA", source="t"),
            key="AAA",
        )
        p.send(PRICE_UPDATES, encode("fundamentals", {}, key="AAA", source="t"), key="AAA")
        p.send(
            PRICE_UPDATES, encode("price_bars", _bars("BBB", 7), key="BBB", source="t"), key="BBB"
        )
    runner = ConsumerRunner(WarehouseWriter(runtime.warehouse), bus, batch_size=2)
    runner.run(until_caught_up=True)
    runner.close()

    assert runtime.warehouse.counts()["prices"] == 5 + 7
    assert runner.stats.dead_lettered == 3
    assert bus.total_lag(WarehouseWriter.name, [PRICE_UPDATES]) == 0

    with bus.consumer("dlq-check", [dlq_name(PRICE_UPDATES)]) as c:
        dead = c.poll(100, 2.0)
    assert len(dead) == 3
    reasons = [r.headers["error"] for r in dead]
    assert any("not JSON" in r for r in reasons)
    assert any("bracket" in r for r in reasons)
    assert any("expected a 'price_bars' message" in r for r in reasons)
    assert all(r.headers["source_topic"] == PRICE_UPDATES for r in dead)
    assert {r.headers["consumer"] for r in dead} == {"warehouse-writer"}
    # the original bytes are kept for inspection and re-drive
    assert dead[0].value == b"{not json"
    assert orjson.loads(dead[2].value)["type"] == "fundamentals"
