"""The Airflow-free half of the orchestration: run parameters, batches, records, barriers."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import numpy as np
import pytest

from axiom.agents.metadata import extract
from axiom.bus.base import TopicPartition
from axiom.consumers.registry import sink_topics
from axiom.domain.models import GraphMutation
from axiom.domain.topics import CORRELATION_UPDATES, PRICE_UPDATES
from axiom.errors import DateRangeError, InputError, PipelineError
from axiom.orchestration.params import announcement, interval_days, resolve_params
from axiom.orchestration.runs import (
    MAX_RECORD_ID,
    begin_run,
    behind,
    consumer_groups,
    fail_run,
    finish_run,
    record_id,
)
from axiom.orchestration.work import (
    CALENDAR,
    interval_source,
    merge_outcomes,
    outcome,
    owned_mutations,
    symbol_batches,
)
from axiom.pipelines.base import RunParams
from axiom.runtime import Runtime
from axiom.sources.universe import load_universe

DEFAULTS = {"universe": "all", "start": None, "end": None, "seed": 7}


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_daily_interval_is_one_day_and_an_hourly_one_its_day() -> None:
    assert interval_days(_utc(2025, 7, 1), _utc(2025, 7, 2)) == (date(2025, 7, 1),) * 2
    assert interval_days(_utc(2025, 7, 1, 13), _utc(2025, 7, 1, 14)) == (date(2025, 7, 1),) * 2
    assert interval_days(_utc(2025, 7, 1, 9), _utc(2025, 7, 1, 9)) == (date(2025, 7, 1),) * 2
    assert interval_days(_utc(2025, 7, 1), _utc(2025, 7, 8)) == (date(2025, 7, 1), date(2025, 7, 7))
    assert interval_days(None, None) == (None, None)


def test_trigger_conf_beats_events_which_beat_the_interval() -> None:
    interval = (_utc(2025, 7, 1), _utc(2025, 7, 2))
    events = [
        {"start": "2025-06-02", "end": "2025-06-03", "universe": "dow"},
        {"start": "2025-06-01", "end": "2025-06-05", "universe": "DAX"},
    ]
    p = resolve_params(DEFAULTS, {}, [], interval)
    assert (p.start, p.end, p.universe) == (date(2025, 7, 1), date(2025, 7, 1), "all")
    p = resolve_params(DEFAULTS, {}, events, interval)
    assert (p.start, p.end, p.universe) == (date(2025, 6, 1), date(2025, 6, 5), "DAX")
    conf = {"start": "2024-01-02", "end": "2024-01-31", "universe": "dow"}
    p = resolve_params({**DEFAULTS, "universe": "dow"}, conf, events, interval)
    assert (p.start, p.end, p.universe) == (date(2024, 1, 2), date(2024, 1, 31), "dow")
    p = resolve_params(DEFAULTS, {}, [], (None, None))
    assert (p.start, p.end) == (None, None)


def test_params_pass_through_and_bad_input_is_one_clear_error() -> None:
    p = resolve_params(
        {**DEFAULTS, "window": 60, "method": "ledoit_wolf", "shocks": {"AAPL": "0.4"}},
        {},
        [],
        (None, None),
    )
    assert (p.window, p.method, dict(p.shocks)) == (60, "ledoit_wolf", {"AAPL": 0.4})
    with pytest.raises(DateRangeError, match="'July 1st' is not a date"):
        resolve_params(DEFAULTS, {"start": "July 1st"}, [], (None, None))
    with pytest.raises(DateRangeError, match="after end"):
        resolve_params(DEFAULTS, {"start": "2025-07-02", "end": "2025-07-01"}, [], (None, None))
    with pytest.raises(InputError, match="shocks must map symbols to numbers"):
        resolve_params({**DEFAULTS, "shocks": {"AAPL": "a lot"}}, {}, [], (None, None))


def test_an_announcement_resolves_back_to_the_same_days() -> None:
    p = RunParams(universe="dow", start=date(2025, 7, 1), end=date(2025, 7, 3))
    extra = announcement(p, "ingestion", 90)
    assert extra == {
        "pipeline": "ingestion",
        "universe": "dow",
        "start": "2025-07-01",
        "end": "2025-07-03",
        "records": 90,
    }
    q = resolve_params(DEFAULTS, {}, [extra], (None, None))
    assert (q.universe, q.start, q.end) == ("dow", p.start, p.end)


def test_record_ids_are_prefixed_unique_and_fit_the_column() -> None:
    assert record_id("risk", "manual__2025-07-01T00:00:00+00:00") == (
        "risk:manual__2025-07-01T00:00:00+00:00"
    )
    long_a = record_id("correlations", "asset_triggered__2026-11-26T03:04:40.123456+00:00-x" * 2)
    long_b = record_id("correlations", "asset_triggered__2026-11-26T03:04:40.123456+00:00-y" * 2)
    assert len(long_a) == len(long_b) == MAX_RECORD_ID
    assert long_a != long_b


def test_batches_are_sorted_distinct_and_bounded() -> None:
    batches = symbol_batches(["C", "A", "B", "A", "E", "D"], 2)
    assert batches == [["A", "B"], ["C", "D"], ["E"]]
    total = merge_outcomes(
        [outcome({"price-updates": 3}, 10), outcome({"price-updates": 2, "x": 1}, 5)]
    )
    assert total == {"published": {"price-updates": 5, "x": 1}, "items": 15}


def _key(m: GraphMutation) -> tuple[str, ...]:
    if m.node is not None:
        return (m.op, m.node.id)
    assert m.edge is not None
    return (m.op, m.edge.src, m.edge.type, m.edge.dst)


def test_graph_batches_together_publish_exactly_the_whole_extraction() -> None:
    companies = load_universe("dow")
    whole = extract(companies)
    symbols = sorted(c.symbol for c in companies)
    anchor = symbols[0]
    parts = [owned_mutations(whole, batch, anchor) for batch in symbol_batches(symbols, 7)]
    union = {_key(m) for part in parts for m in part}
    assert union == {_key(m) for m in whole}
    for part, batch in zip(parts, symbol_batches(symbols, 7), strict=True):
        own = {f"Company:{s}" for s in batch}
        companies_here = {m.node.id for m in part if m.node and m.node.label == "Company"}
        assert companies_here == own
        for m in part:
            if m.edge and m.edge.src.startswith("Company:") and m.edge.dst.startswith("Company:"):
                assert min(m.edge.src, m.edge.dst) in own
    between = [
        _key(m)
        for part in parts
        for m in part
        if m.edge and m.edge.src.startswith("Company:") and m.edge.dst.startswith("Company:")
    ]
    assert len(between) == len(set(between)) > 0


def test_a_days_bars_do_not_depend_on_the_interval_that_asks_for_them() -> None:
    companies = load_universe("dow")[:3]
    symbols = [c.symbol for c in companies]
    day = date(2025, 7, 2)
    one = RunParams(start=day, end=day)
    month = RunParams(start=date(2025, 6, 2), end=date(2025, 7, 31))
    source, start, end = interval_source(one, companies)
    assert (start, end) == (day, day)
    single = {b.symbol: b for b in source.bars(symbols, start, end)}
    source, start, end = interval_source(month, companies)
    longer = {b.symbol: b for b in source.bars(symbols, start, end)}
    for s in symbols:
        assert len(single[s]) == 1
        i = int(np.searchsorted(longer[s].dates, np.datetime64(day, "D")))
        assert single[s].close[0] == longer[s].close[i]
    outside = RunParams(
        start=date(CALENDAR[1].year + 1, 1, 5), end=date(CALENDAR[1].year + 1, 1, 5)
    )
    source, start, end = interval_source(outside, companies)
    assert all(len(b) == 0 for b in source.bars(symbols, start, end))


def test_run_records_go_running_then_success_or_failed(runtime: Runtime) -> None:
    wh = runtime.warehouse
    rid = record_id("events", "manual__2025-07-01T00:00:00+00:00")
    started = begin_run(wh, "events", rid)
    assert [(r.run_id, r.status, r.trigger) for r in wh.runs("events")] == [
        (rid, "running", "airflow")
    ]
    done = finish_run(wh, "events", rid, {"market-events": 4, "x": 1})
    (row,) = wh.runs("events")
    assert (row.status, row.records, row.errors) == ("success", 5, 0)
    assert row.started_at == started.started_at == done.started_at
    assert row.duration_s >= 0
    fail_run(wh, "events", rid, PipelineError("no price bars"))
    (row,) = wh.runs("events")
    assert (row.status, row.errors, row.detail) == ("failed", 1, "no price bars")
    assert row.started_at == started.started_at
    other = record_id("risk", "never-started")
    fail_run(wh, "risk", other, ValueError("boom"))
    assert wh.runs("risk")[0].detail == "ValueError: boom"


def test_the_groups_waited_for_are_the_writers_of_what_a_pipeline_reads() -> None:
    assert consumer_groups("events") == ["warehouse-writer", "analytics-engine"]
    assert consumer_groups("correlations") == ["warehouse-writer", "analytics-engine"]
    assert consumer_groups("risk") == ["graph-builder"]


def test_the_barrier_ignores_what_was_published_after_it(runtime: Runtime) -> None:
    bus = runtime.bus
    with bus.producer() as producer:
        for i in range(6):
            producer.send(PRICE_UPDATES, b"{}", key=f"S{i}")
        producer.send(CORRELATION_UPDATES, b"{}", key="S0")
    time.sleep(0.02)
    barrier_ms = int(time.time() * 1000)
    time.sleep(0.02)
    with bus.producer() as producer:
        for i in range(4):
            producer.send(PRICE_UPDATES, b"{}", key=f"T{i}")
    groups = ["warehouse-writer", "graph-builder"]
    assert behind(bus, groups, barrier_ms) == {"warehouse-writer": 7, "graph-builder": 1}
    # commit what existed at the barrier, as a consumer would after writing it
    for group in groups:
        for topic in sink_topics(group):
            at_barrier = bus.offsets_for_time(topic, barrier_ms)
            bus.commit_offsets(group, {TopicPartition(topic, p): o for p, o in at_barrier.items()})
    assert behind(bus, groups, barrier_ms) == {"warehouse-writer": 0, "graph-builder": 0}
    assert bus.total_lag("warehouse-writer", sink_topics("warehouse-writer")) == 4
    assert behind(bus, groups, int(time.time() * 1000) + 1000)["warehouse-writer"] == 4
