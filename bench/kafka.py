"""Kafka bus throughput: the KafkaBus adapter vs raw confluent-kafka, same broker, same run.

Two message shapes, each on a topic of its own (6 partitions, keyed by 500 symbols):

* ``small``: ``--small`` messages of 200 bytes (an envelope-like JSON object);
* ``price``: ``--large`` price messages of about 60 KB (real ``price_bars`` envelopes,
  columnar bars of one symbol, as the ingestion pipeline publishes them).

For each: produce msgs/s through ``KafkaProducer`` (send + one flush at the end) and
through a raw ``confluent_kafka.Producer`` with the same settings (produce + poll(0) every
1,000 + flush), then consume msgs/s through ``KafkaConsumer.poll(5000)`` and through a raw
``Consumer`` batching the same way (``poll`` one, then ``consume(4999, timeout=0)``), both
from the beginning with fresh groups. Each step is the best
of ``--rounds`` rounds on fresh topics, adapter and raw taking turns to go first. The
ratio column is adapter / raw. Peak RSS is this client's (``ru_maxrss``) after each round;
the broker's resident memory is read from ``/proc`` when its pid file is found.
Topics and groups made here are deleted at the end.

Usage: ``python bench/kafka.py [--url kafka://127.0.0.1:9092] [--small 200000] [--large 2000]``.
Start the broker first: ``deploy/local/kafka.sh install && deploy/local/kafka.sh start``.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
from confluent_kafka import Consumer, Producer

from axiom.bus.kafka import KafkaBus
from axiom.bus.kafka_common import parse_bootstrap
from axiom.bus.kafka_consumer import consumer_config
from axiom.bus.kafka_producer import producer_config
from axiom.bus.serde import encode
from axiom.domain.models import PriceBars
from axiom.domain.topics import TopicSpec
from axiom.settings import Settings

SYMBOLS = [f"S{i:04d}" for i in range(500)]


@dataclass
class Result:
    name: str
    msgs: int
    nbytes: int
    wall: float
    cpu: float

    @property
    def rate(self) -> float:
        return self.msgs / self.wall

    @property
    def mib_s(self) -> float:
        return self.nbytes / self.wall / 2**20


def timed(name: str, msgs: int, nbytes: int, fn: Callable[[], None]) -> Result:
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    return Result(name, msgs, nbytes, time.perf_counter() - w0, time.process_time() - c0)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def broker_rss_mib() -> float | None:
    home = Path(os.environ.get("AXIOM_SERVICES_HOME", Path(__file__).parents[1] / ".services"))
    try:
        pid = int((home / "kafka" / "kafka.pid").read_text())
        status = Path(f"/proc/{pid}/status").read_text()
    except (OSError, ValueError):
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def small_values(n: int) -> list[bytes]:
    """200-byte JSON objects shaped like a small envelope."""
    out = []
    for i in range(n):
        head = orjson.dumps({"type": "quote", "v": 1, "key": SYMBOLS[i % 500], "seq": i, "p": ""})
        out.append(head[:-2] + b"x" * (200 - len(head)) + b'"}')
    return out


def price_values(n: int) -> list[bytes]:
    """Real price_bars envelopes of about 60 KB (625 bars each; 20 distinct series)."""
    rng = np.random.default_rng(7)
    start = np.datetime64("2020-01-01")
    dates = np.arange(start, start + 625)
    series = []
    for j in range(20):
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, dates.size)))
        bars = PriceBars(
            SYMBOLS[j], dates, close, close * 1.01, close * 0.99, close, np.full(dates.size, 1e6)
        )
        series.append(encode("price_bars", bars.to_payload(), key=SYMBOLS[j], source="bench"))
    return [series[i % 20] for i in range(n)]


def _produce_ours(bus: KafkaBus, topic: str, keys: list[str], values: list[bytes]) -> None:
    with bus.producer(client_id="bench") as producer:
        for key, value in zip(keys, values, strict=True):
            producer.send(topic, value, key=key)
        producer.flush(120)


def _produce_raw(bootstrap: str, topic: str, keys: list[str], values: list[bytes]) -> None:
    producer = Producer(producer_config(bootstrap, "bench-raw"))
    for i, (key, value) in enumerate(zip(keys, values, strict=True)):
        while True:
            try:
                producer.produce(topic, value, key.encode())
                break
            except BufferError:
                producer.poll(0.05)
        if i % 1000 == 0:
            producer.poll(0)
    assert producer.flush(120) == 0


def _consume_ours(bus: KafkaBus, topic: str, group: str, n: int) -> None:
    got = 0
    with bus.consumer(group, [topic]) as consumer:
        deadline = time.monotonic() + 300
        while got < n and time.monotonic() < deadline:
            got += len(consumer.poll(5000, timeout_s=0.5))
    assert got == n, (got, n)


def _consume_raw(bootstrap: str, topic: str, group: str, n: int) -> None:
    consumer = Consumer(consumer_config(bootstrap, "bench-raw", group, "earliest"))
    consumer.subscribe([topic])
    got = 0
    deadline = time.monotonic() + 300
    while got < n and time.monotonic() < deadline:
        # Same batching as the adapter: wait for one message, then take what is fetched.
        first = consumer.poll(0.5)
        if first is None:
            continue
        batch = [first, *consumer.consume(4999, timeout=0)]
        got += sum(1 for m in batch if m.error() is None)
    consumer.close()
    assert got == n, (got, n)


def run_case(
    bus: KafkaBus, label: str, values: list[bytes], rounds: int
) -> list[tuple[Result, Result]]:
    """Best of ``rounds`` per step; adapter and raw alternate who goes first."""
    bootstrap = parse_bootstrap(bus.url)
    n, nbytes = len(values), sum(map(len, values))
    keys = [SYMBOLS[i % 500] for i in range(n)]
    best: dict[str, Result] = {}
    topics: list[str] = []
    groups: list[str] = []

    def keep(result: Result) -> None:
        if result.name not in best or result.wall < best[result.name].wall:
            best[result.name] = result

    try:
        for r in range(rounds):
            ours_t, raw_t = f"bench-{uuid.uuid4().hex[:12]}", f"bench-{uuid.uuid4().hex[:12]}"
            ours_g, raw_g = f"bench-{uuid.uuid4().hex[:12]}", f"bench-{uuid.uuid4().hex[:12]}"
            topics += [ours_t, raw_t]
            groups += [ours_g, raw_g]
            bus.ensure_topics([TopicSpec(ours_t, 6, "bench"), TopicSpec(raw_t, 6, "bench")])
            steps = [
                (
                    f"{label} produce: KafkaProducer",
                    lambda t=ours_t: _produce_ours(bus, t, keys, values),
                ),
                (
                    f"{label} produce: raw Producer",
                    lambda t=raw_t: _produce_raw(bootstrap, t, keys, values),
                ),
            ]
            for name, fn in steps if r % 2 == 0 else steps[::-1]:
                keep(timed(name, n, nbytes, fn))
            steps = [
                (
                    f"{label} consume: KafkaConsumer",
                    lambda t=ours_t, g=ours_g: _consume_ours(bus, t, g, n),
                ),
                (
                    f"{label} consume: raw Consumer",
                    lambda t=raw_t, g=raw_g: _consume_raw(bootstrap, t, g, n),
                ),
            ]
            for name, fn in steps if r % 2 == 0 else steps[::-1]:
                keep(timed(name, n, nbytes, fn))
            print(f"  {label} round {r + 1}: client peak RSS {peak_rss_mib():.0f} MiB")
    finally:
        for group in groups:
            bus.delete_group(group)
        bus.delete_topics(topics)
    pairs = [
        ("produce", "KafkaProducer", "raw Producer"),
        ("consume", "KafkaConsumer", "raw Consumer"),
    ]
    return [
        (best[f"{label} {step}: {ours}"], best[f"{label} {step}: {raw}"])
        for step, ours, raw in pairs
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="kafka://127.0.0.1:9092")
    ap.add_argument("--small", type=int, default=200_000)
    ap.add_argument("--large", type=int, default=2_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    small, large = small_values(args.small), price_values(args.large)
    print(
        f"kafka bench on {args.url}: {len(small):,} x {len(small[0])} B and "
        f"{len(large):,} x {len(large[0]) / 1000:.0f} KB, best of {args.rounds}; "
        f"load avg {os.getloadavg()[0]:.2f}"
    )
    rows: list[tuple[Result, Result]] = []
    with KafkaBus.from_url(args.url, Settings()) as bus:
        rows += run_case(bus, "200 B", small, args.rounds)
        rows += run_case(bus, "60 KB", large, args.rounds)

    print(f"{'step':34} {'msgs/s':>10} {'MiB/s':>7} {'raw msgs/s':>11} {'MiB/s':>7} {'ratio':>6}")
    for ours, raw in rows:
        print(
            f"{ours.name:34} {ours.rate:>10,.0f} {ours.mib_s:>7.1f} {raw.rate:>11,.0f} "
            f"{raw.mib_s:>7.1f} {ours.rate / raw.rate:>5.2f}x"
        )
    for ours, raw in rows:
        print(
            f"  {ours.name.split(':')[0]:24} cpu/wall adapter {ours.cpu:.2f}/{ours.wall:.2f} s, "
            f"raw {raw.cpu:.2f}/{raw.wall:.2f} s"
        )
    broker = broker_rss_mib()
    tail = f"; broker RSS {broker:.0f} MiB" if broker is not None else ""
    print(f"client peak RSS {peak_rss_mib():.0f} MiB{tail}")


if __name__ == "__main__":
    main()
