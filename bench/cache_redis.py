"""Redis cache throughput: RedisCache batches vs raw redis-py pipelines, same server, same run.

Writes and reads ``--keys`` keys of ``--value-bytes`` bytes in batches of ``--batch`` (the
cache updater writes one batch per consumer poll) and prints ops/s for:

* ``RedisCache.set_many`` without TTL (MSET), with TTL (one Lua script of SET PX), and
  ``get_many`` (MGET);
* the baseline: raw redis-py ``pipeline(transaction=False)`` with one SET / GET per key,
  executed once per batch, the usual way to batch with redis-py.

Each figure is the best of ``--rounds`` rounds; the ratio column is adapter / baseline.
Raw ``MSET`` / ``MGET`` of the same batches are timed too, so the adapter's own cost (key
prefixing, error mapping) shows apart from the choice of command.
Everything runs in a namespace of its own (``bench-<uuid>``) that is cleared at the end.
Peak RSS is this client's; the server's memory growth is read from INFO.

Usage: ``python bench/cache_redis.py [--url redis://127.0.0.1:6379/0] [--keys N] [--batch N]``.
Start the server first: ``deploy/local/redis.sh install && deploy/local/redis.sh start``.
"""

from __future__ import annotations

import argparse
import os
import resource
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import redis

from axiom.stores.redis import RedisCache


@dataclass
class Result:
    name: str
    ops: int
    wall: float
    cpu: float

    @property
    def rate(self) -> float:
        return self.ops / self.wall


def best_of(rounds: int, name: str, ops: int, fn: Callable[[], None]) -> Result:
    """Fastest of ``rounds`` runs of ``fn`` (wall), with the CPU time of that run."""
    best: Result | None = None
    for _ in range(rounds):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        r = Result(name, ops, time.perf_counter() - w0, time.process_time() - c0)
        if best is None or r.wall < best.wall:
            best = r
    assert best is not None
    return best


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="redis://127.0.0.1:6379/0")
    ap.add_argument("--keys", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=1_000)
    ap.add_argument("--value-bytes", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    namespace = f"bench-{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in args.url else "?"
    cache = RedisCache(f"{args.url}{sep}namespace={namespace}")
    raw = redis.Redis.from_url(args.url, socket_timeout=10)
    prefix = f"{namespace}:"

    value = os.urandom(args.value_bytes)
    keys = [f"bar:latest:S{i:07d}" for i in range(args.keys)]
    batches = [keys[i : i + args.batch] for i in range(0, len(keys), args.batch)]
    items = [dict.fromkeys(b, value) for b in batches]
    raw_batches = [[prefix + k for k in b] for b in batches]
    n = len(keys)
    mem0 = int(raw.info("memory")["used_memory"])

    def adapter_set() -> None:
        for batch in items:
            cache.set_many(batch)

    def adapter_set_ttl() -> None:
        for batch in items:
            cache.set_many(batch, ttl_s=600)

    def adapter_get() -> None:
        for batch in batches:
            got = cache.get_many(batch)
            assert got[-1] == value

    def raw_set() -> None:
        for batch in raw_batches:
            pipe = raw.pipeline(transaction=False)
            for key in batch:
                pipe.set(key, value)
            pipe.execute()

    def raw_set_ttl() -> None:
        for batch in raw_batches:
            pipe = raw.pipeline(transaction=False)
            for key in batch:
                pipe.set(key, value, px=600_000)
            pipe.execute()

    def raw_mset() -> None:
        for batch in raw_batches:
            raw.mset(dict.fromkeys(batch, value))

    def raw_mget() -> None:
        for batch in raw_batches:
            assert raw.mget(batch)[-1] == value

    def raw_get() -> None:
        for batch in raw_batches:
            pipe = raw.pipeline(transaction=False)
            for key in batch:
                pipe.get(key)
            got = pipe.execute()
            assert got[-1] == value

    try:
        pairs = [
            ("SET", best_of(args.rounds, "set_many (MSET)", n, adapter_set),
             best_of(args.rounds, "pipelined SET", n, raw_set)),
            ("SET PX", best_of(args.rounds, "set_many ttl (Lua SET PX)", n, adapter_set_ttl),
             best_of(args.rounds, "pipelined SET PX", n, raw_set_ttl)),
            ("GET", best_of(args.rounds, "get_many (MGET)", n, adapter_get),
             best_of(args.rounds, "pipelined GET", n, raw_get)),
        ]  # fmt: skip
        same = [
            ("MSET", pairs[0][1], best_of(args.rounds, "raw MSET", n, raw_mset)),
            ("MGET", pairs[2][1], best_of(args.rounds, "raw MGET", n, raw_mget)),
        ]
        mem1 = int(raw.info("memory")["used_memory"])
        assert len(cache.keys("bar:latest:")) == n
    finally:
        cache.clear()
        cache.close()

    print(
        f"redis bench: {n:,} keys x {args.value_bytes} B, batches of {args.batch}, "
        f"best of {args.rounds}; load avg {os.getloadavg()[0]:.2f}"
    )
    print(f"{'op':8} {'adapter':>30} {'ops/s':>11} {'raw redis-py':>22} {'ops/s':>11} {'ratio':>7}")
    for op, ours, base in pairs:
        print(
            f"{op:8} {ours.name:>30} {ours.rate:>11,.0f} {base.name:>22} {base.rate:>11,.0f} "
            f"{ours.rate / base.rate:>6.2f}x"
        )
    for op, ours, base in pairs:
        print(
            f"  {op:7} cpu/wall adapter {ours.cpu:.2f}/{ours.wall:.2f} s, "
            f"baseline {base.cpu:.2f}/{base.wall:.2f} s"
        )
    for op, ours, base in same:
        print(
            f"  adapter vs raw {op}: {ours.rate:,.0f} vs {base.rate:,.0f} ops/s "
            f"({ours.rate / base.rate:.2f}x)"
        )
    grown = (mem1 - mem0) / 2**20
    print(f"client peak RSS {peak_rss_mib():.0f} MiB; server memory +{grown:.0f} MiB")
    raw.close()


if __name__ == "__main__":
    main()
