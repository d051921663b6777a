"""`axiom demo --stack` on the real servers, checked with each server's own client.

Needs PostgreSQL, Redis, Kafka, Neo4j and Chroma (``make services-up``). The catalog
topics are deleted first with Kafka's admin client, so the demo starts at offset 0 and
"replay from offset 0" means exactly this demo's messages.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chromadb
import neo4j
import orjson
import psycopg
import pytest
import redis
from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient

from axiom.domain.topics import CATALOG, MAIN_TOPICS, PRICE_UPDATES
from axiom.runtime import Runtime
from axiom.settings import Settings
from tests.conftest import Cli
from tests.servers import exclusive, server_url

pytestmark = [
    pytest.mark.kafka,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.neo4j,
    pytest.mark.chroma_server,
]


def _delete_topics(bootstrap: str) -> None:
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=10).topics)
    doomed = [t.name for t in CATALOG if t.name in existing]
    if doomed:
        for fut in admin.delete_topics(doomed, operation_timeout=30).values():
            fut.result()
    deadline = time.monotonic() + 30
    while set(doomed) & set(admin.list_topics(timeout=10).topics):
        assert time.monotonic() < deadline, "topics were not deleted"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Cli, dict[str, Any]]]:
    with exclusive("neo4j"):
        yield from _demo_on_stack(tmp_path_factory)


def _demo_on_stack(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Cli, dict[str, Any]]]:
    urls = {s: server_url(s) for s in ("kafka", "postgres", "redis", "neo4j", "chroma")}
    bootstrap = urls["kafka"].removeprefix("kafka://")
    _delete_topics(bootstrap)
    home = tmp_path_factory.mktemp("stack") / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AXIOM_")}
    env.update(
        {
            "AXIOM_HOME": str(home),
            "AXIOM_BUS": urls["kafka"],
            "AXIOM_WAREHOUSE": urls["postgres"],
            "AXIOM_CACHE": urls["redis"],
            "AXIOM_GRAPH": urls["neo4j"],
            "AXIOM_VECTORS": urls["chroma"],
        }
    )
    cli = Cli(env)
    summary = cli.json("demo", "--stack", "--universe", "DOW JONES", "--years", "2")
    assert isinstance(summary, dict)
    yield cli, {"summary": summary, "urls": urls, "home": home}


def test_postgres_holds_the_demo(stack: tuple[Cli, dict[str, Any]]) -> None:
    _, st = stack
    s = st["summary"]
    dsn = st["urls"]["postgres"]
    with psycopg.connect(dsn, connect_timeout=5) as conn:
        companies = conn.execute("SELECT count(*) FROM companies").fetchone()
        prices = conn.execute("SELECT count(*) FROM prices").fetchone()
        dupes = conn.execute(
            "SELECT count(*) FROM (SELECT symbol, day FROM prices GROUP BY 1, 2 "
            "HAVING count(*) > 1) d"
        ).fetchone()
        events = conn.execute("SELECT count(*) FROM market_events").fetchone()
    assert companies == (30,)
    assert prices is not None and prices[0] == s["price_bars"] > 30 * 500
    assert dupes == (0,)
    assert events is not None and events[0] == s["events"]["total"] > 0
    assert s["backends"]["warehouse"].startswith("postgresql://")
    assert "axiom:axiom@" not in s["backends"]["warehouse"]  # password masked


def test_neo4j_holds_the_graph(stack: tuple[Cli, dict[str, Any]]) -> None:
    _, st = stack
    g = st["summary"]["graph"]
    uri = st["urls"]["neo4j"]
    with neo4j.GraphDatabase.driver(uri, auth=None) as driver:
        records, _, _ = driver.execute_query("MATCH (c:Company) RETURN count(c) AS n")
        peers, _, _ = driver.execute_query(
            "MATCH (:Company {id: $id})-[r:PEER_OF]-(:Company) RETURN count(r) AS n",
            id="Company:AAPL",
        )
    assert records[0]["n"] == 30 == g["nodes_by_label"]["Company"]
    assert peers[0]["n"] > 0


def test_redis_has_latest_bars(stack: tuple[Cli, dict[str, Any]]) -> None:
    _, st = stack
    client = redis.Redis.from_url(st["urls"]["redis"])
    raw = client.get("axiom:bar:latest:AAPL")
    assert raw is not None
    bar = orjson.loads(raw)
    assert bar["symbol"] == "AAPL" and bar["simulated"] is True
    assert bar["day"] == st["summary"]["date_range"][1]


def test_kafka_offsets_match_what_was_published(stack: tuple[Cli, dict[str, Any]]) -> None:
    _, st = stack
    bootstrap = st["urls"]["kafka"].removeprefix("kafka://")
    published = st["summary"]["published"]["ingestion"][PRICE_UPDATES]
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "stack-test-probe"})
    try:
        meta = c.list_topics(PRICE_UPDATES, timeout=10).topics[PRICE_UPDATES]
        ends = {
            p: c.get_watermark_offsets(TopicPartition(PRICE_UPDATES, p), timeout=10)[1]
            for p in meta.partitions
        }
    finally:
        c.close()
    assert sum(ends.values()) == published
    admin = AdminClient({"bootstrap.servers": bootstrap})
    request = [
        ConsumerGroupTopicPartitions(
            "warehouse-writer", [TopicPartition(PRICE_UPDATES, p) for p in ends]
        )
    ]
    result = next(iter(admin.list_consumer_group_offsets(request).values())).result()
    committed = {tp.partition: tp.offset for tp in result.topic_partitions}
    assert committed == ends  # the writer committed every message it was sent


def test_chroma_server_has_profiles(stack: tuple[Cli, dict[str, Any]]) -> None:
    _, st = stack
    host, port = st["urls"]["chroma"].removeprefix("http://").split(":")
    client = chromadb.HttpClient(host=host, port=int(port))
    profiles = client.get_collection("companies")
    assert profiles.count() == 30
    got = profiles.get(ids=["AAPL"])
    assert "Apple" in (got["documents"] or [""])[0]


def _snapshot(settings: Settings) -> dict[str, Any]:
    with Runtime(settings) as rt:
        return {"warehouse": rt.warehouse.checksums(), "graph": rt.graph.checksum()}


def test_replay_from_zero_rebuilds_postgres_and_neo4j(
    stack: tuple[Cli, dict[str, Any]], tmp_path: Path
) -> None:
    cli, st = stack
    settings = (
        Settings(home=st["home"])
        .with_stack()
        .model_copy(
            update={
                "bus": st["urls"]["kafka"],
                "warehouse": st["urls"]["postgres"],
                "cache": st["urls"]["redis"],
                "graph": st["urls"]["neo4j"],
                "vectors": st["urls"]["chroma"],
            }
        )
    )
    before = _snapshot(settings)
    with Runtime(settings) as rt:
        rt.warehouse.truncate()
        rt.graph.clear()
        assert rt.warehouse.counts()["prices"] == 0
    for topic in MAIN_TOPICS:
        cli.json("replay", "--topic", topic, "--from-offset", "0")
    report = cli.json("consume", "--until-caught-up")
    assert isinstance(report, dict)
    assert all(v["dead_lettered"] == 0 for v in report.values())
    assert _snapshot(settings) == before
