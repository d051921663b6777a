"""The event-log contract: every ``EventBus`` adapter passes this suite unchanged.

Subclass :class:`BusContract` once per adapter and supply a ``bus`` fixture that yields a
ready, empty-or-shared bus. The suite touches only the port's public API, makes its own
topics and groups with unique names (so a shared broker is fine), and bounds every wait by
the class attributes below, which slower backends may raise.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence

import pytest

from axiom.bus.base import Consumer, EventBus, Record, TopicPartition, next_offsets
from axiom.bus.partitioner import partition_for_key
from axiom.domain.topics import CATALOG, MAIN_TOPICS, TopicSpec, dlq_name
from axiom.errors import TopicError


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class BusContract:
    """Kafka's contract, checked on one adapter; subclasses provide the ``bus`` fixture."""

    __test__ = False

    #: Longest wait for a consumer group to settle after a member joins or leaves.
    settle_timeout_s: float = 30.0
    #: Longest wait for produced messages to reach a consumer.
    delivery_timeout_s: float = 30.0
    #: How long a poll may overrun its own timeout (client and broker latency).
    poll_slack_s: float = 2.0

    @pytest.fixture
    def bus(self) -> EventBus:
        raise NotImplementedError("a BusContract subclass supplies the bus fixture")

    # -- helpers ---------------------------------------------------------------------

    def _topic(self, bus: EventBus, partitions: int = 1) -> str:
        name = _name("ct")
        bus.ensure_topics([TopicSpec(name, partitions, "test")])
        return name

    def _produce(
        self,
        bus: EventBus,
        topic: str,
        items: Sequence[tuple[str | None, bytes]],
        *,
        timestamps: Sequence[int] | None = None,
    ) -> None:
        with bus.producer(client_id="contract") as producer:
            for i, (key, value) in enumerate(items):
                ts = None if timestamps is None else timestamps[i]
                producer.send(topic, value, key=key, timestamp_ms=ts)
            producer.flush()

    def _drain(self, consumer: Consumer, expected: int) -> list[Record]:
        """Poll until ``expected`` records came (or the delivery timeout), then one more."""
        out: list[Record] = []
        deadline = time.monotonic() + self.delivery_timeout_s
        while len(out) < expected and time.monotonic() < deadline:
            out.extend(consumer.poll(500, timeout_s=0.2))
        out.extend(consumer.poll(500, timeout_s=0.2))
        return out

    def _settle(
        self, consumers: Sequence[Consumer], topic: str, partitions: int
    ) -> list[list[TopicPartition]]:
        """Poll every member until their assignments are disjoint, non-empty, complete."""
        everything = {TopicPartition(topic, p) for p in range(partitions)}
        deadline = time.monotonic() + self.settle_timeout_s
        while True:
            for consumer in consumers:
                assert consumer.poll(100, timeout_s=0.1) == [], "settle before producing"
            assigned = [consumer.assignment() for consumer in consumers]
            flat = [tp for a in assigned for tp in a]
            if all(assigned) and len(flat) == len(set(flat)) and set(flat) == everything:
                return assigned
            assert time.monotonic() < deadline, f"group did not settle: {assigned}"

    # -- topics ------------------------------------------------------------------------

    def test_ensure_topics_is_idempotent(self, bus: EventBus) -> None:
        name = _name("ct")
        bus.ensure_topics([TopicSpec(name, 3, "test")])
        bus.ensure_topics([TopicSpec(name, 3, "test")])
        bus.ensure_topics([TopicSpec(name, 5, "test")])
        assert bus.list_topics()[name] == 3
        assert bus.end_offsets(name) == {0: 0, 1: 0, 2: 0}

    def test_catalog_topics_and_their_dlqs_exist(self, bus: EventBus) -> None:
        bus.ensure_topics(CATALOG)
        topics = bus.list_topics()
        for spec in CATALOG:
            assert topics[spec.name] == spec.partitions
        for topic in MAIN_TOPICS:
            assert topics[dlq_name(topic)] == 1

    def test_send_to_unknown_topic_is_a_one_line_topic_error(self, bus: EventBus) -> None:
        missing = _name("missing")
        with bus.producer() as producer, pytest.raises(TopicError) as info:
            producer.send(missing, b"x", key="k")
        assert missing in str(info.value)
        assert "\n" not in str(info.value)

    # -- partitions and offsets --------------------------------------------------------

    def test_keys_go_to_their_murmur2_partition_in_order(self, bus: EventBus) -> None:
        topic = self._topic(bus, 4)
        keys = [f"SYM{i}" for i in range(40)]
        items = [(k, f"{k}:{seq}".encode()) for seq in range(5) for k in keys]
        self._produce(bus, topic, items)
        with bus.consumer(_name("g"), [topic]) as consumer:
            records = self._drain(consumer, len(items))
        assert len(records) == len(items)
        seqs: dict[str, list[int]] = defaultdict(list)
        for r in sorted(records, key=lambda r: (r.partition, r.offset)):
            assert r.key is not None
            assert r.partition == partition_for_key(r.key, 4)
            key, seq = r.value.decode().split(":")
            assert key == r.key
            seqs[key].append(int(seq))
        assert all(seqs[k] == list(range(5)) for k in keys)

    def test_offsets_are_dense_from_zero(self, bus: EventBus) -> None:
        topic = self._topic(bus, 3)
        items = [(f"k{i}", str(i).encode()) for i in range(60)]
        self._produce(bus, topic, items)
        with bus.consumer(_name("g"), [topic]) as consumer:
            records = self._drain(consumer, len(items))
        by_partition: dict[int, list[int]] = defaultdict(list)
        for r in records:
            by_partition[r.partition].append(r.offset)
        counts = Counter(partition_for_key(k, 3) for k, _ in items if k is not None)
        for p, offsets in by_partition.items():
            assert offsets == list(range(counts[p])), "offset order per partition, dense"
        assert bus.end_offsets(topic) == {p: counts[p] for p in range(3)}

    def test_headers_none_keys_and_timestamps_round_trip(self, bus: EventBus) -> None:
        topic = self._topic(bus, 2)
        ts = int(time.time() * 1000) - 60_000
        with bus.producer() as producer:
            producer.send(topic, b"\x00\xffraw", headers={"trace": "t-1", "reason": "ünïcode"})
            producer.send(topic, b"plain", timestamp_ms=ts)
            producer.send(topic, b"", key="K", headers={})
            producer.flush()
        with bus.consumer(_name("g"), [topic]) as consumer:
            records = {r.value: r for r in self._drain(consumer, 3)}
        assert set(records) == {b"\x00\xffraw", b"plain", b""}
        first = records[b"\x00\xffraw"]
        assert first.key is None
        assert first.headers == {"trace": "t-1", "reason": "ünïcode"}
        assert abs(first.timestamp_ms - time.time() * 1000) < 120_000
        assert records[b"plain"].key is None and records[b"plain"].headers == {}
        assert records[b"plain"].timestamp_ms == ts
        assert records[b""].key == "K"
        assert records[b""].partition == partition_for_key("K", 2)

    def test_poll_returns_empty_after_its_timeout(self, bus: EventBus) -> None:
        topic = self._topic(bus, 1)
        with bus.consumer(_name("g"), [topic]) as consumer:
            consumer.poll(10, timeout_s=0.5)
            start = time.monotonic()
            assert consumer.poll(10, timeout_s=0.3) == []
            assert time.monotonic() - start < 0.3 + self.poll_slack_s

    def test_poll_respects_max_records(self, bus: EventBus) -> None:
        topic = self._topic(bus, 2)
        self._produce(bus, topic, [(f"k{i}", b"v") for i in range(30)])
        got: list[Record] = []
        deadline = time.monotonic() + self.delivery_timeout_s
        with bus.consumer(_name("g"), [topic]) as consumer:
            while len(got) < 30 and time.monotonic() < deadline:
                batch = consumer.poll(7, timeout_s=0.2)
                assert len(batch) <= 7
                got.extend(batch)
        assert len(got) == 30

    # -- groups and offsets ------------------------------------------------------------

    def test_commit_then_a_new_member_resumes(self, bus: EventBus) -> None:
        topic, group = self._topic(bus, 1), _name("g")
        tp = TopicPartition(topic, 0)
        self._produce(bus, topic, [(None, str(i).encode()) for i in range(10)])
        with bus.consumer(group, [topic]) as first:
            assert len(self._drain(first, 10)) == 10
            first.commit({tp: 6})
        assert bus.committed(group, topic) == {0: 6}
        with bus.consumer(group, [topic]) as second:
            rest = self._drain(second, 4)
            assert [r.offset for r in rest] == [6, 7, 8, 9]
            second.commit()
        assert bus.committed(group, topic) == {0: 10}
        self._produce(bus, topic, [(None, b"10"), (None, b"11")])
        with bus.consumer(group, [topic]) as third:
            assert [r.value for r in self._drain(third, 2)] == [b"10", b"11"]

    def test_commit_of_next_offsets_after_a_batch(self, bus: EventBus) -> None:
        topic, group = self._topic(bus, 3), _name("g")
        self._produce(bus, topic, [(f"k{i}", b"v") for i in range(30)])
        with bus.consumer(group, [topic]) as consumer:
            records = self._drain(consumer, 30)
            consumer.commit(next_offsets(records))
        assert bus.committed(group, topic) == bus.end_offsets(topic)
        assert bus.total_lag(group, [topic]) == 0

    def test_two_groups_are_independent(self, bus: EventBus) -> None:
        topic = self._topic(bus, 2)
        self._produce(bus, topic, [(f"k{i}", b"v") for i in range(20)])
        group_a, group_b = _name("a"), _name("b")
        with bus.consumer(group_a, [topic]) as a:
            assert len(self._drain(a, 20)) == 20
            a.commit()
        with bus.consumer(group_b, [topic]) as b:
            assert len(self._drain(b, 20)) == 20
        assert bus.total_lag(group_a, [topic]) == 0
        assert bus.total_lag(group_b, [topic]) == 20
        assert group_a in bus.groups()
        assert group_b not in bus.groups()

    def test_auto_offset_reset_earliest_and_latest(self, bus: EventBus) -> None:
        topic = self._topic(bus, 1)
        self._produce(bus, topic, [(None, b"old-1"), (None, b"old-2")])
        with bus.consumer(_name("late"), [topic], auto_offset_reset="latest") as late:
            self._settle([late], topic, 1)
            late.poll(10, timeout_s=0.5)
            self._produce(bus, topic, [(None, b"new")])
            assert [r.value for r in self._drain(late, 1)] == [b"new"]
        with bus.consumer(_name("early"), [topic], auto_offset_reset="earliest") as early:
            assert [r.value for r in self._drain(early, 3)] == [b"old-1", b"old-2", b"new"]

    def test_committed_offset_wins_over_auto_offset_reset(self, bus: EventBus) -> None:
        topic, group = self._topic(bus, 1), _name("g")
        self._produce(bus, topic, [(None, str(i).encode()) for i in range(5)])
        bus.commit_offsets(group, {TopicPartition(topic, 0): 2})
        with bus.consumer(group, [topic], auto_offset_reset="latest") as consumer:
            assert [r.offset for r in self._drain(consumer, 3)] == [2, 3, 4]

    def test_lag_before_and_after_commit(self, bus: EventBus) -> None:
        topic, group = self._topic(bus, 2), _name("g")
        items = [(f"k{i}", b"v") for i in range(12)]
        self._produce(bus, topic, items)
        ends = bus.end_offsets(topic)
        assert sum(ends.values()) == 12
        assert bus.lag(group, [topic]) == {topic: ends}
        with bus.consumer(group, [topic]) as consumer:
            assert len(self._drain(consumer, 12)) == 12
            assert bus.total_lag(group, [topic]) == 12, "reading alone does not commit"
            consumer.commit()
        assert bus.lag(group, [topic]) == {topic: {0: 0, 1: 0}}
        self._produce(bus, topic, [("k0", b"more"), ("k1", b"more"), ("k2", b"more")])
        assert bus.total_lag(group, [topic]) == 3

    def test_delete_group_forgets_its_offsets(self, bus: EventBus) -> None:
        topic, group = self._topic(bus, 1), _name("g")
        self._produce(bus, topic, [(None, b"a"), (None, b"b")])
        with bus.consumer(group, [topic]) as consumer:
            assert len(self._drain(consumer, 2)) == 2
            consumer.commit()
        assert group in bus.groups()
        bus.delete_group(group)
        assert group not in bus.groups()
        assert bus.committed(group, topic) == {}
        with bus.consumer(group, [topic]) as again:
            assert [r.value for r in self._drain(again, 2)] == [b"a", b"b"]

    # -- replay ------------------------------------------------------------------------

    def test_seek_replays_from_an_offset_and_the_beginning(self, bus: EventBus) -> None:
        topic = self._topic(bus, 1)
        tp = TopicPartition(topic, 0)
        self._produce(bus, topic, [(None, str(i).encode()) for i in range(10)])
        with bus.consumer(_name("g"), [topic]) as consumer:
            assert len(self._drain(consumer, 10)) == 10
            consumer.seek(tp, 4)
            assert [r.offset for r in self._drain(consumer, 6)] == [4, 5, 6, 7, 8, 9]
            consumer.seek_to_beginning()
            assert [r.offset for r in self._drain(consumer, 10)] == list(range(10))

    def test_seek_to_time_and_offsets_for_time(self, bus: EventBus) -> None:
        topic = self._topic(bus, 2)
        pa, pb = partition_for_key("MSFT", 2), partition_for_key("AAPL", 2)
        assert pa != pb
        base = int(time.time() * 1000) - 3_600_000
        items = [("MSFT", f"m{i}".encode()) for i in range(10)]
        items += [("AAPL", f"a{i}".encode()) for i in range(6)]
        stamps = [base + i * 1000 for i in range(10)] + [base + i * 2000 for i in range(6)]
        self._produce(bus, topic, items, timestamps=stamps)
        assert bus.offsets_for_time(topic, base + 5_500) == {pa: 6, pb: 3}
        assert bus.offsets_for_time(topic, base) == {pa: 0, pb: 0}
        assert bus.offsets_for_time(topic, base + 9_000) == {pa: 9, pb: 5}
        assert bus.offsets_for_time(topic, base + 100_000) == bus.end_offsets(topic)
        with bus.consumer(_name("g"), [topic]) as consumer:
            assert len(self._drain(consumer, 16)) == 16
            consumer.seek_to_time(base + 5_500)
            replay = self._drain(consumer, 7)
        assert sorted(r.value for r in replay) == sorted(
            [f"m{i}".encode() for i in range(6, 10)] + [f"a{i}".encode() for i in range(3, 6)]
        )
        assert all(r.timestamp_ms >= base + 5_500 for r in replay)

    def test_commit_offsets_rewinds_a_stopped_group(self, bus: EventBus) -> None:
        topic, group = self._topic(bus, 1), _name("g")
        self._produce(bus, topic, [(None, str(i).encode()) for i in range(10)])
        with bus.consumer(group, [topic]) as consumer:
            assert len(self._drain(consumer, 10)) == 10
            consumer.commit()
        bus.commit_offsets(group, {TopicPartition(topic, 0): 7})
        assert bus.committed(group, topic) == {0: 7}
        with bus.consumer(group, [topic]) as again:
            assert [r.offset for r in self._drain(again, 3)] == [7, 8, 9]

    # -- members of one group ----------------------------------------------------------

    def test_two_members_split_partitions_and_read_everything_once(self, bus: EventBus) -> None:
        topic, group = self._topic(bus, 4), _name("g")
        with bus.consumer(group, [topic]) as one, bus.consumer(group, [topic]) as two:
            assigned = self._settle([one, two], topic, 4)
            items = [(f"SYM{i}", f"SYM{i}".encode()) for i in range(200)]
            self._produce(bus, topic, items)
            got: dict[int, list[Record]] = {0: [], 1: []}
            deadline = time.monotonic() + self.delivery_timeout_s
            while len(got[0]) + len(got[1]) < 200 and time.monotonic() < deadline:
                got[0].extend(one.poll(500, timeout_s=0.1))
                got[1].extend(two.poll(500, timeout_s=0.1))
            got[0].extend(one.poll(500, timeout_s=0.2))
            got[1].extend(two.poll(500, timeout_s=0.2))
        for i in (0, 1):
            assert got[i], "both members read"
            assert {r.tp for r in got[i]} <= set(assigned[i])
        positions = [(r.partition, r.offset) for r in got[0] + got[1]]
        assert len(positions) == len(set(positions)) == 200
        assert sorted(r.value for r in got[0] + got[1]) == sorted(v for _, v in items)

    def test_a_closed_members_partitions_move_to_the_other(self, bus: EventBus) -> None:
        topic, group = self._topic(bus, 4), _name("g")
        stay = bus.consumer(group, [topic])
        try:
            leave = bus.consumer(group, [topic])
            self._settle([stay, leave], topic, 4)
            first = [(f"A{i}", f"A{i}".encode()) for i in range(40)]
            self._produce(bus, topic, first)
            seen: list[Record] = []
            deadline = time.monotonic() + self.delivery_timeout_s
            while len(seen) < 40 and time.monotonic() < deadline:
                seen.extend(stay.poll(500, timeout_s=0.1))
                seen.extend(leave.poll(500, timeout_s=0.1))
            stay.commit()
            leave.commit()
            leave.close()
            assert len(seen) == 40
            second = [(f"B{i}", f"B{i}".encode()) for i in range(40)]
            self._produce(bus, topic, second)
            later: list[Record] = []
            everything = {TopicPartition(topic, p) for p in range(4)}
            deadline = time.monotonic() + self.settle_timeout_s + self.delivery_timeout_s
            while time.monotonic() < deadline:
                later.extend(stay.poll(500, timeout_s=0.1))
                if len(later) >= 40 and set(stay.assignment()) == everything:
                    break
            later.extend(stay.poll(500, timeout_s=0.2))
            assert set(stay.assignment()) == everything
            assert sorted(r.value for r in later) == sorted(v for _, v in second)
        finally:
            stay.close()
