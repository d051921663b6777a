"""Poison messages on the stack: Kafka DLQ with the reason, PostgreSQL gets the rest."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from axiom.bus.base import TopicPartition
from axiom.bus.kafka import KafkaBus
from axiom.bus.serde import encode
from axiom.consumers.runner import ConsumerRunner
from axiom.consumers.warehouse_writer import WarehouseWriter
from axiom.domain.topics import CATALOG, PRICE_UPDATES, dlq_name
from axiom.settings import Settings
from tests.contract.test_warehouse_postgres import Schemas
from tests.integration.test_poison import _bars
from tests.servers import server_url

pytestmark = [pytest.mark.kafka, pytest.mark.postgres]


@pytest.fixture
def schemas() -> Iterator[Schemas]:
    made = Schemas(server_url("postgres"))
    yield made
    made.drop_all()


def test_poison_goes_to_the_kafka_dlq_while_postgres_gets_the_rest(schemas: Schemas) -> None:
    warehouse = schemas.warehouse()
    bus = KafkaBus.from_url(server_url("kafka"), Settings())
    bus.ensure_topics(CATALOG)
    sink = WarehouseWriter(warehouse)
    sink.name = f"poison-{uuid.uuid4().hex[:12]}"
    try:
        bus.commit_offsets(
            sink.name,
            {
                TopicPartition(t, p): end
                for t in sink.topics
                for p, end in bus.end_offsets(t).items()
            },
        )
        with bus.producer() as p:
            p.send(
                PRICE_UPDATES, encode("price_bars", _bars("AAA"), key="AAA", source="t"), key="AAA"
            )
            p.send(PRICE_UPDATES, b"{not json", key="AAA")
            p.send(
                PRICE_UPDATES,
                encode("price_bars", _bars("AAA", bad=True), key="AAA", source="t"),
                key="AAA",
            )
            p.send(
                PRICE_UPDATES,
                encode("price_bars", _bars("BBB", 7), key="BBB", source="t"),
                key="BBB",
            )
        runner = ConsumerRunner(sink, bus, batch_size=2)
        runner.run(until_caught_up=True)
        runner.close()

        assert warehouse.counts()["prices"] == 5 + 7
        assert runner.stats.dead_lettered == 2
        assert bus.total_lag(sink.name, sink.topics) == 0
        with bus.consumer(f"{sink.name}-dlq-check", [dlq_name(PRICE_UPDATES)]) as c:
            ours: list[str] = []
            for _ in range(30):
                ours += [
                    r.headers["error"]
                    for r in c.poll(500, 1.0)
                    if r.headers.get("consumer") == sink.name
                ]
                if len(ours) == 2:
                    break
        assert len(ours) == 2
        assert any("not JSON" in e for e in ours) and any("bracket" in e for e in ours)
    finally:
        bus.delete_group(sink.name)
        bus.delete_group(f"{sink.name}-dlq-check")
        bus.close()
