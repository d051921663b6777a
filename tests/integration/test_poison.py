"""Poison messages go to the DLQ with the reason while the stream goes on."""

from __future__ import annotations

from datetime import date

import numpy as np
import orjson

from axiom.bus.serde import encode
from axiom.consumers.analytics_engine import AnalyticsEngine
from axiom.consumers.cache_updater import GRAPH_STATS_KEY, CacheUpdater
from axiom.consumers.runner import ConsumerRunner
from axiom.consumers.vector_indexer import VectorIndexer
from axiom.consumers.warehouse_writer import WarehouseWriter
from axiom.domain.arrays import pack
from axiom.domain.models import MarketEvent, PriceBars
from axiom.domain.topics import GRAPH_MUTATIONS, MARKET_EVENTS, PRICE_UPDATES, dlq_name
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


def _event(kind: str, **changes: object) -> bytes:
    payload = MarketEvent("AAA", date(2024, 1, 2), kind, 3.5).to_payload() | changes
    return encode("market_event", payload, key="AAA", source="t")


def test_records_a_sink_declines_are_committed_without_validation(runtime: Runtime) -> None:
    """The vector indexer validates only the kinds it indexes; the others pass untouched."""
    bus = runtime.bus
    bad_jump = _event("jump", magnitude="not a number")
    with bus.producer() as p:
        p.send(MARKET_EVENTS, _event("gap", magnitude="not a number"), key="AAA")
        p.send(MARKET_EVENTS, bad_jump, key="AAA")
        p.send(MARKET_EVENTS, _event("jump"), key="AAA")
        p.send(MARKET_EVENTS, _event("volume_spike"), key="AAA")
        p.send(MARKET_EVENTS, b"{not json", key="AAA")
    runner = ConsumerRunner(VectorIndexer(runtime.vectors), bus, batch_size=10)
    runner.run(until_caught_up=True)
    runner.close()

    assert runner.stats.records == 5
    assert runner.stats.dead_lettered == 2  # the bad jump and the broken envelope
    assert runner.stats.written == 1
    assert runtime.vectors.count("market_events") == 1
    assert bus.total_lag(VectorIndexer.name, [MARKET_EVENTS]) == 0
    with bus.consumer("dlq-check", [dlq_name(MARKET_EVENTS)]) as c:
        dead = c.poll(100, 2.0)
    assert sorted(r.value for r in dead) == sorted([bad_jump, b"{not json"])

    # the warehouse writer reads every event, so it dead-letters the bad gap too
    writer = ConsumerRunner(WarehouseWriter(runtime.warehouse), bus, batch_size=10)
    writer.run(until_caught_up=True)
    writer.close()
    assert writer.stats.dead_lettered == 3
    assert runtime.warehouse.counts()["market_events"] == 2


def test_signal_topics_reach_the_sink_undecoded(runtime: Runtime) -> None:
    """The cache updater only learns that the graph changed: a mutation is not decoded."""
    bus = runtime.bus
    runtime.cache.set_many({GRAPH_STATS_KEY: b"{}"})
    with bus.producer() as p:
        p.send(GRAPH_MUTATIONS, b"{not json", key="AAA")
    runner = ConsumerRunner(CacheUpdater(runtime.cache), bus, batch_size=10)
    runner.run(until_caught_up=True)
    runner.close()
    assert runner.stats.records == 1
    assert runner.stats.dead_lettered == 0
    assert runtime.cache.get(GRAPH_STATS_KEY) is None


def test_sinks_reading_the_newest_bars_validate_only_those(runtime: Runtime) -> None:
    """The cache updater and the analytics engine read a price message's tail only."""
    bus = runtime.bus
    old_broken = _bars("AAA", 300)
    low = PriceBars.from_payload(old_broken).low
    low[0] = 1e6  # the first bar's low above its close: broken far from the tail
    old_broken["low"] = pack(low, "<f8")
    new_broken = _bars("BBB", 300, bad=True)  # every bar broken, the newest too
    with bus.producer() as p:
        for sym, payload in (("AAA", old_broken), ("BBB", new_broken), ("CCC", _bars("CCC"))):
            p.send(PRICE_UPDATES, encode("price_bars", payload, key=sym, source="t"), key=sym)
    cache = ConsumerRunner(CacheUpdater(runtime.cache), bus, batch_size=10)
    stats = ConsumerRunner(AnalyticsEngine(runtime.warehouse), bus, batch_size=10)
    for runner in (cache, stats):
        runner.run(until_caught_up=True)
        runner.close()
        assert runner.stats.dead_lettered == 1  # BBB, whose newest bars are broken
    assert runtime.cache.get_many(["bar:latest:AAA", "bar:latest:BBB"])[1] is None
    newest = orjson.loads(runtime.cache.get_many(["bar:latest:AAA"])[0] or b"{}")
    assert newest["day"] == str(np.datetime64("2024-01-01") + 299)
    assert sorted(s.symbol for s in runtime.warehouse.symbol_stats()) == ["AAA", "CCC"]
    aaa = next(s for s in runtime.warehouse.symbol_stats() if s.symbol == "AAA")
    assert aaa.bars == 253  # a year of returns, from the tail alone

    # the warehouse writer reads every bar: AAA's old broken bar sends it to the DLQ
    writer = ConsumerRunner(WarehouseWriter(runtime.warehouse), bus, batch_size=10)
    writer.run(until_caught_up=True)
    writer.close()
    assert writer.stats.dead_lettered == 2
    assert runtime.warehouse.counts()["prices"] == 5
