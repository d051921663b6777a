"""The embedded event log: the bus contract, plus what only the SQLite log has."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from axiom.bus.base import EventBus, Record, TopicPartition
from axiom.bus.embedded import EmbeddedBus
from axiom.bus.embedded_groups import range_assign
from axiom.bus.embedded_producer import MAX_BUFFER_MESSAGES
from axiom.domain.topics import TopicSpec
from axiom.errors import BackendError, ConfigError, TopicError
from axiom.registry import open_backend
from axiom.settings import Settings

from .bus_contract import BusContract


class TestEmbeddedBus(BusContract):
    """The whole contract on a fresh SQLite file per test."""

    __test__ = True
    settle_timeout_s = 10.0
    delivery_timeout_s = 10.0
    poll_slack_s = 0.5

    @pytest.fixture
    def bus(self, tmp_path: Path) -> Iterator[EventBus]:  # type: ignore[override]
        with EmbeddedBus(tmp_path / "bus.db") as bus:
            yield bus


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[EmbeddedBus]:
    with EmbeddedBus(tmp_path / "bus.db") as bus:
        yield bus


def _topic(bus: EmbeddedBus, name: str = "t", partitions: int = 1, retention_ms: int = -1) -> str:
    bus.ensure_topics([TopicSpec(name, partitions, "test", retention_ms=retention_ms)])
    return name


def _produce(bus: EmbeddedBus, topic: str, n: int, key: str | None = None, ts: int | None = None):
    with bus.producer() as producer:
        for i in range(n):
            producer.send(topic, str(i).encode(), key=key or f"k{i}", timestamp_ms=ts)


def _drain(consumer, expected: int, timeout_s: float = 5.0) -> list[Record]:
    out: list[Record] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < expected and time.monotonic() < deadline:
        out.extend(consumer.poll(1000, timeout_s=0.1))
    return out


# -- construction ------------------------------------------------------------------------


def test_from_url_defaults_to_the_home_folder(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    with open_backend("bus", "embedded://", settings) as bus:
        assert isinstance(bus, EmbeddedBus)
        assert bus.path == (tmp_path / "home" / "bus.db").resolve()
        assert bus.path.exists()
        assert bus.url == f"embedded://{bus.path}"


def test_from_url_takes_an_absolute_or_home_relative_path(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    target = tmp_path / "elsewhere" / "log.db"
    with EmbeddedBus.from_url(f"embedded://{target}", settings) as bus:
        assert bus.path == target.resolve()
    with EmbeddedBus.from_url("embedded://logs/bus.db", settings) as bus:
        assert bus.path == (tmp_path / "home" / "logs" / "bus.db").resolve()
    with pytest.raises(ConfigError, match="takes no options"):
        EmbeddedBus.from_url("embedded://?wal=off", settings)
    with pytest.raises(ConfigError, match="not an embedded bus URL"):
        EmbeddedBus.from_url("kafka://127.0.0.1:9092", settings)


def test_a_file_that_is_not_a_bus_is_a_one_line_backend_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database" * 100)
    with pytest.raises(BackendError, match="not a usable embedded bus") as info:
        EmbeddedBus(junk)
    assert "\n" not in str(info.value)


def test_a_bus_written_by_a_newer_schema_is_refused(tmp_path: Path) -> None:
    EmbeddedBus(tmp_path / "bus.db").close()
    raw = sqlite3.connect(tmp_path / "bus.db")
    raw.execute("PRAGMA user_version=99")
    raw.close()
    with pytest.raises(BackendError, match="newer"):
        EmbeddedBus(tmp_path / "bus.db")


def test_state_survives_reopening_the_file(tmp_path: Path) -> None:
    with EmbeddedBus(tmp_path / "bus.db") as bus:
        _produce(bus, _topic(bus, partitions=2), 10)
        with bus.consumer("g", ["t"]) as consumer:
            assert len(_drain(consumer, 10)) == 10
            consumer.commit()
    with EmbeddedBus(tmp_path / "bus.db") as again:
        assert again.list_topics() == {"t": 2}
        assert sum(again.end_offsets("t").values()) == 10
        assert again.total_lag("g", ["t"]) == 0


def test_bad_names_and_settings_are_rejected(bus: EmbeddedBus) -> None:
    with pytest.raises(TopicError, match="illegal topic name"):
        bus.ensure_topics([TopicSpec("no spaces", 1, "test")])
    with pytest.raises(TopicError, match="at least 1 partition"):
        bus.ensure_topics([TopicSpec("zero", 0, "test")])
    with pytest.raises(TopicError, match="unknown topic 'nope'"):
        bus.consumer("g", ["nope"])
    with pytest.raises(TopicError, match="unknown topic 'nope'"):
        bus.end_offsets("nope")
    _topic(bus)
    with pytest.raises(ConfigError, match="earliest"):
        bus.consumer("g", ["t"], auto_offset_reset="middle")
    with pytest.raises(TopicError, match="no partition 3"):
        bus.commit_offsets("g", {TopicPartition("t", 3): 0})
    with pytest.raises(ConfigError, match="positive"):
        EmbeddedBus(bus.path, session_timeout_s=0)


# -- producer ----------------------------------------------------------------------------


def test_the_buffer_is_written_when_full_without_flush(bus: EmbeddedBus) -> None:
    _topic(bus, partitions=3)
    producer = bus.producer()
    for i in range(MAX_BUFFER_MESSAGES + 10):
        producer.send("t", b"v", key=f"k{i % 97}")
    assert producer.pending() == 10
    with EmbeddedBus(bus.path) as other:
        assert sum(other.end_offsets("t").values()) == MAX_BUFFER_MESSAGES
    producer.close()
    assert sum(bus.end_offsets("t").values()) == MAX_BUFFER_MESSAGES + 10


def test_a_failed_flush_keeps_the_batch_for_the_next_one(bus: EmbeddedBus) -> None:
    _topic(bus)
    blocker = sqlite3.connect(bus.path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    with bus.producer() as producer:
        producer.send("t", b"one")
        producer.send("t", b"two")
        with pytest.raises(BackendError, match="busy"):
            producer.flush(timeout_s=0.2)
        assert producer.pending() == 2
        blocker.execute("ROLLBACK")
        blocker.close()
        producer.flush()
        assert producer.pending() == 0
    with bus.consumer("g", ["t"]) as consumer:
        assert [(r.offset, r.value) for r in _drain(consumer, 2)] == [(0, b"one"), (1, b"two")]


def test_unkeyed_messages_stick_to_a_partition_then_move_on(bus: EmbeddedBus) -> None:
    _topic(bus, partitions=4)
    with bus.producer() as producer:
        for _ in range(64):
            producer.send("t", b"x" * 4096)
    ends = bus.end_offsets("t")
    assert ends == {0: 16, 1: 16, 2: 16, 3: 16}


def test_values_must_be_bytes(bus: EmbeddedBus) -> None:
    _topic(bus)
    with bus.producer() as producer:
        with pytest.raises(TypeError, match="bytes"):
            producer.send("t", "text")  # type: ignore[arg-type]
        producer.send("t", bytearray(b"ok"))
    with bus.consumer("g", ["t"]) as consumer:
        assert [r.value for r in _drain(consumer, 1)] == [b"ok"]


# -- consumer ----------------------------------------------------------------------------


def test_poll_shares_max_records_fairly_between_partitions(bus: EmbeddedBus) -> None:
    _topic(bus, partitions=4)
    with bus.producer() as producer:
        for p_key in ("MSFT", "AAPL", "NVDA", "AMZN", "GOOG", "META", "TSLA", "IBM"):
            for i in range(50):
                producer.send("t", str(i).encode(), key=p_key)
    ends = bus.end_offsets("t")
    busy = [p for p, n in ends.items() if n]
    with bus.consumer("g", ["t"]) as consumer:
        batch = consumer.poll(4 * len(busy), timeout_s=1.0)
    per_partition = {p: sum(1 for r in batch if r.partition == p) for p in busy}
    assert per_partition == dict.fromkeys(busy, 4)


def test_poll_wakes_up_when_another_thread_produces(bus: EmbeddedBus) -> None:
    _topic(bus)

    def later() -> None:
        time.sleep(0.3)
        _produce(bus, "t", 1)

    with bus.consumer("g", ["t"]) as consumer:
        consumer.poll(1, timeout_s=0)
        thread = threading.Thread(target=later)
        thread.start()
        start = time.monotonic()
        records = consumer.poll(10, timeout_s=10.0)
        waited = time.monotonic() - start
        thread.join()
    assert [r.value for r in records] == [b"0"]
    assert 0.2 < waited < 2.0


def test_seek_needs_an_assigned_partition(bus: EmbeddedBus) -> None:
    _topic(bus)
    with bus.consumer("g", ["t"]) as consumer:
        with pytest.raises(TopicError, match="not assigned"):
            consumer.seek(TopicPartition("t", 5), 0)
        with pytest.raises(TopicError, match="negative"):
            consumer.seek(TopicPartition("t", 0), -1)
        assert consumer.position(TopicPartition("t", 0)) == 0


def test_closing_the_bus_closes_what_it_made(bus: EmbeddedBus) -> None:
    _topic(bus)
    producer = bus.producer()
    producer.send("t", b"queued")
    consumer = bus.consumer("g", ["t"])
    consumer.assignment()
    bus.close()
    with pytest.raises(BackendError, match="closed"):
        consumer.poll(1, timeout_s=0)
    with pytest.raises(BackendError, match="closed"):
        bus.list_topics()
    with EmbeddedBus(bus.path) as again:
        assert again.end_offsets("t") == {0: 1}, "the producer was flushed on close"


# -- groups ------------------------------------------------------------------------------


def test_range_assignment_is_kafkas() -> None:
    members = {"m-b": ["t", "u"], "m-a": ["t"], "m-c": ["t", "u"]}
    got = range_assign(members, {"t": 7, "u": 2})
    tps = {m: [(tp.topic, tp.partition) for tp in v] for m, v in got.items()}
    assert tps == {
        "m-a": [("t", 0), ("t", 1), ("t", 2)],
        "m-b": [("t", 3), ("t", 4), ("u", 0)],
        "m-c": [("t", 5), ("t", 6), ("u", 1)],
    }
    assert range_assign({"solo": ["t"]}, {"t": 3})["solo"] == [
        TopicPartition("t", p) for p in range(3)
    ]
    assert range_assign({"a": ["t"], "b": ["t"]}, {"t": 1})["b"] == []


def test_a_partition_changes_hands_only_after_its_owner_released_it(bus: EmbeddedBus) -> None:
    _topic(bus, partitions=2)
    _produce(bus, "t", 40)
    first = bus.consumer("g", ["t"])
    batch = first.poll(1000, timeout_s=1.0)
    assert len(batch) == 40
    second = bus.consumer("g", ["t"])
    assert second.assignment() == [], "first has not released anything yet"
    first.commit()
    assert first.poll(10, timeout_s=0) == []
    assert len(first.assignment()) == 1
    assert len(second.assignment()) == 1
    assert second.poll(10, timeout_s=0.2) == [], "it starts at the committed offset"
    first.close()
    second.close()


def test_an_expired_member_loses_its_partitions_and_its_commits(tmp_path: Path) -> None:
    with EmbeddedBus(tmp_path / "bus.db", session_timeout_s=0.3) as bus:
        _topic(bus, partitions=2)
        alive, stalled = bus.consumer("g", ["t"]), bus.consumer("g", ["t"])
        assert len(alive.assignment()) == len(stalled.assignment()) == 1
        _produce(bus, "t", 40)
        mine = _drain(alive, sum(bus.end_offsets("t")[tp.partition] for tp in alive.assignment()))
        stolen_tp = stalled.assignment()[0]
        assert len(_drain(stalled, bus.end_offsets("t")[stolen_tp.partition])) > 0
        alive.commit()
        time.sleep(0.5)
        redelivered = _drain(alive, bus.end_offsets("t")[stolen_tp.partition], timeout_s=3.0)
        assert {r.tp for r in redelivered} == {stolen_tp}
        assert sorted(r.offset for r in redelivered) == list(
            range(bus.end_offsets("t")[stolen_tp.partition])
        )
        assert len(alive.assignment()) == 2
        stalled.commit()
        assert stolen_tp.partition not in bus.committed("g", "t"), "a fenced commit is dropped"
        assert len(mine) + len(redelivered) == 40
        alive.close()
        stalled.close()


def test_delete_group_refuses_while_members_are_live(bus: EmbeddedBus) -> None:
    _topic(bus)
    with bus.consumer("g", ["t"]) as consumer:
        consumer.commit({TopicPartition("t", 0): 0})
        with pytest.raises(BackendError, match="active member"):
            bus.delete_group("g")
    bus.delete_group("g")
    assert bus.groups() == []


# -- retention ---------------------------------------------------------------------------


def test_retention_trims_old_messages_but_never_reuses_offsets(bus: EmbeddedBus) -> None:
    _topic(bus, "short", retention_ms=1_000)
    _topic(bus, "forever")
    old = int(time.time() * 1000) - 60_000
    _produce(bus, "short", 10, key="k", ts=old)
    _produce(bus, "forever", 10, key="k", ts=old)
    assert bus.enforce_retention() == 9, "the newest message stays"
    _produce(bus, "short", 1, key="k")
    assert bus.end_offsets("short") == {0: 11}
    assert bus.end_offsets("forever") == {0: 10}
    with bus.consumer("g", ["short"]) as consumer:
        assert [r.offset for r in _drain(consumer, 2)] == [9, 10]
