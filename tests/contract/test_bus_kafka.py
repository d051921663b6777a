"""The Kafka bus: the bus contract on a real broker, plus what only the Kafka adapter has."""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

from axiom.bus.base import EventBus, TopicPartition
from axiom.bus.kafka import KafkaBus
from axiom.bus.kafka_common import parse_bootstrap
from axiom.bus.partitioner import partition_for_key
from axiom.domain.topics import TopicSpec
from axiom.errors import BackendError, ConfigError, TopicError
from axiom.registry import open_backend
from axiom.settings import Settings
from tests.servers import server_url

from .bus_contract import BusContract

pytestmark = pytest.mark.kafka

#: Names the contract suite and these tests give their topics and groups.
_TEST_NAME = re.compile(r"^(ct|missing|g|a|b|late|early|kt)-[0-9a-f]{12}$")


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _cleanup(bus: KafkaBus, topics_before: set[str], groups_before: set[str]) -> None:
    """Delete the test-named topics and groups that appeared during a test."""
    for group in set(bus.groups()) - groups_before:
        if _TEST_NAME.match(group):
            bus.delete_group(group)
    bus.delete_topics(t for t in set(bus.list_topics()) - topics_before if _TEST_NAME.match(t))


@pytest.fixture
def kafka_bus(tmp_path: Path) -> Iterator[KafkaBus]:
    with KafkaBus.from_url(server_url("kafka"), Settings(home=tmp_path)) as bus:
        topics_before, groups_before = set(bus.list_topics()), set(bus.groups())
        yield bus
        _cleanup(bus, topics_before, groups_before)


class TestKafkaBus(BusContract):
    """The whole contract on the shared broker; every test makes its own topics/groups."""

    __test__ = True
    settle_timeout_s = 30.0
    delivery_timeout_s = 30.0
    poll_slack_s = 2.0

    @pytest.fixture
    def bus(self, kafka_bus: KafkaBus) -> EventBus:  # type: ignore[override]
        return kafka_bus


# -- construction ------------------------------------------------------------------------


def test_the_registry_builds_a_kafka_bus(tmp_path: Path) -> None:
    url = server_url("kafka")
    with open_backend("bus", url, Settings(home=tmp_path)) as bus:
        assert isinstance(bus, KafkaBus)
        assert bus.url == url
        assert "__consumer_offsets" not in bus.list_topics()


def test_urls_are_parsed_or_refused_in_one_line() -> None:
    assert parse_bootstrap("kafka://127.0.0.1:9092") == "127.0.0.1:9092"
    assert parse_bootstrap("kafka://a:1,b") == "a:1,b:9092"
    assert parse_bootstrap("KAFKA://broker/") == "broker:9092"
    for bad in ("kafka://", "kafka://h:x", "kafka://h:70000", "kafka://h:1?acks=1", "redis://h"):
        with pytest.raises(ConfigError) as info:
            parse_bootstrap(bad)
        assert "\n" not in str(info.value)


# -- topics ------------------------------------------------------------------------------


def test_catalog_retention_reaches_the_topic_config(kafka_bus: KafkaBus) -> None:
    forever, week = _name("kt"), _name("kt")
    kafka_bus.ensure_topics(
        [TopicSpec(forever, 2, "test"), TopicSpec(week, 1, "test", retention_ms=604_800_000)]
    )
    admin = AdminClient({"bootstrap.servers": parse_bootstrap(kafka_bus.url)})
    resources = [ConfigResource("topic", forever), ConfigResource("topic", week)]
    got = {
        res.name: future.result(10)["retention.ms"].value
        for res, future in admin.describe_configs(resources).items()
    }
    assert got == {forever: "-1", week: "604800000"}


def test_bad_names_offsets_and_partitions_are_topic_errors(kafka_bus: KafkaBus) -> None:
    with pytest.raises(TopicError, match="illegal topic name"):
        kafka_bus.ensure_topics([TopicSpec("no spaces", 1, "test")])
    with pytest.raises(TopicError, match="at least 1 partition"):
        kafka_bus.ensure_topics([TopicSpec(_name("kt"), 0, "test")])
    missing = _name("missing")
    with pytest.raises(TopicError, match=missing):
        kafka_bus.consumer(_name("g"), [missing])
    with pytest.raises(TopicError, match=missing):
        kafka_bus.end_offsets(missing)
    topic = _name("kt")
    kafka_bus.ensure_topics([TopicSpec(topic, 2, "test")])
    with pytest.raises(TopicError, match="no partition 2"):
        kafka_bus.commit_offsets(_name("g"), {TopicPartition(topic, 2): 0})
    with pytest.raises(TopicError, match="negative"):
        kafka_bus.commit_offsets(_name("g"), {TopicPartition(topic, 0): -1})
    with pytest.raises(ConfigError, match="earliest"):
        kafka_bus.consumer(_name("g"), [topic], auto_offset_reset="middle")


# -- producer ----------------------------------------------------------------------------


def test_a_refused_message_makes_flush_raise(kafka_bus: KafkaBus) -> None:
    topic = _name("kt")
    admin = AdminClient({"bootstrap.servers": parse_bootstrap(kafka_bus.url)})
    small = NewTopic(topic, 1, 1, config={"max.message.bytes": "1000"})
    admin.create_topics([small])[topic].result(10)
    with kafka_bus.producer() as producer:
        producer.send(topic, b"fits", key="k")
        producer.flush()
        producer.send(topic, os.urandom(20_000), key="k")
        with pytest.raises(BackendError, match="1 message") as info:
            producer.flush(timeout_s=15)
        assert "\n" not in str(info.value)
        producer.send(topic, b"fits again", key="k")
        producer.flush()
    assert kafka_bus.end_offsets(topic) == {0: 2}


def test_keys_land_where_the_java_partitioner_puts_them(kafka_bus: KafkaBus) -> None:
    topic = _name("kt")
    kafka_bus.ensure_topics([TopicSpec(topic, 6, "test")])
    keys = ["AAPL", "MSFT", "BRK.B", "ÄÖÜ", "", "a" * 300]
    with kafka_bus.producer() as producer:
        for key in keys:
            producer.send(topic, key.encode(), key=key)
    ends = kafka_bus.end_offsets(topic)
    want: dict[int, int] = {p: 0 for p in range(6)}
    for key in keys:
        want[partition_for_key(key, 6)] += 1
    assert ends == want


# -- consumer ----------------------------------------------------------------------------


def test_a_seek_before_assignment_applies_when_assigned(kafka_bus: KafkaBus) -> None:
    topic = _name("kt")
    kafka_bus.ensure_topics([TopicSpec(topic, 1, "test")])
    with kafka_bus.producer() as producer:
        for i in range(10):
            producer.send(topic, str(i).encode())
    with kafka_bus.consumer(_name("g"), [topic]) as consumer:
        assert consumer.assignment() == [], "not joined before the first poll"
        consumer.seek(TopicPartition(topic, 0), 7)
        with pytest.raises(TopicError, match="no partition 1"):
            consumer.seek(TopicPartition(topic, 1), 0)
        got: list[int] = []
        deadline = time.monotonic() + 30
        while len(got) < 3 and time.monotonic() < deadline:
            got.extend(r.offset for r in consumer.poll(100, timeout_s=0.2))
    assert got == [7, 8, 9]


def test_poll_returns_as_soon_as_a_record_is_there(kafka_bus: KafkaBus) -> None:
    topic = _name("kt")
    kafka_bus.ensure_topics([TopicSpec(topic, 1, "test")])
    with kafka_bus.producer() as producer, kafka_bus.consumer(_name("g"), [topic]) as consumer:
        deadline = time.monotonic() + 30
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(10, timeout_s=0.2)
        consumer.poll(10, timeout_s=0.5)
        producer.send(topic, b"now")
        producer.flush()
        start = time.monotonic()
        records = consumer.poll(500, timeout_s=10.0)
        waited = time.monotonic() - start
    assert [r.value for r in records] == [b"now"]
    assert waited < 2.0, "a partial batch is returned without waiting for the timeout"


def test_delete_group_refuses_while_members_are_live(kafka_bus: KafkaBus) -> None:
    topic, group = _name("kt"), _name("g")
    kafka_bus.ensure_topics([TopicSpec(topic, 1, "test")])
    with kafka_bus.producer() as producer:
        producer.send(topic, b"x")
    with kafka_bus.consumer(group, [topic]) as consumer:
        deadline = time.monotonic() + 30
        while not consumer.poll(10, timeout_s=0.2) and time.monotonic() < deadline:
            pass
        consumer.commit()
        with pytest.raises(BackendError, match="active member"):
            kafka_bus.delete_group(group)
        with pytest.raises(BackendError, match="active members"):
            kafka_bus.commit_offsets(group, {TopicPartition(topic, 0): 0})
    kafka_bus.delete_group(group)
    assert group not in kafka_bus.groups()
    kafka_bus.delete_group(group)


def test_closing_the_bus_closes_what_it_made(tmp_path: Path) -> None:
    topic = _name("kt")
    bus = KafkaBus.from_url(server_url("kafka"), Settings(home=tmp_path))
    try:
        bus.ensure_topics([TopicSpec(topic, 1, "test")])
        producer = bus.producer()
        producer.send(topic, b"queued")
        consumer = bus.consumer(_name("g"), [topic])
        bus.close()
        with pytest.raises(BackendError, match="closed"):
            consumer.poll(1, timeout_s=0)
        with pytest.raises(BackendError, match="closed"):
            bus.list_topics()
        with KafkaBus.from_url(server_url("kafka"), Settings(home=tmp_path)) as again:
            assert again.end_offsets(topic) == {0: 1}, "the producer was flushed on close"
            again.delete_topics([topic])
    finally:
        bus.close()
