"""Neo4j graph store: write rates, 2-hop latency and memory, against the embedded store.

Runs on the local server of ``deploy/local/neo4j.sh`` (``--url`` for another one) and
prints, each next to the embedded SQLite store measured in the same run:

* the full-universe company graph (``extract(load_universe("all"))``, ~6.3k nodes /
  ~26.5k relationships): nodes/s and relationships/s of a first load, of a re-merge of the
  same data (every row already there), and of the graph builder's consumer-sized batches;
* a synthetic batch of 100k relationships among 10k nodes in one ``merge_edges`` call;
* ``neighbors(hops=2)`` latency (p50 / p95 / max) on both graphs;
* ``checksum()``, ``edges()`` and ``counts()`` on the universe graph;
* peak RSS of the Neo4j JVM (``VmHWM``) and of this process.

One unmeasured load of the universe graph comes first (its time is printed as the cold
figure): the steady-state figures should not include JIT warm-up and query planning.

Wall and CPU time are both printed: on a shared machine the wall time grows with the load
of other processes (the load average is printed too), the client CPU time does not.

The server's graph is cleared before and after. The bench holds the lock that the Neo4j
tests hold, so it never clears a graph under a running test.

Usage: ``python bench/graph_neo4j.py [--url neo4j://127.0.0.1:7687] [--edges 100000]``.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import random
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from axiom.agents.metadata import extract
from axiom.domain.models import Edge, GraphMutation, Node
from axiom.settings import Settings
from axiom.sources.universe import load_universe
from axiom.stores.base import GraphStore
from axiom.stores.graph_embedded import EmbeddedGraphStore
from axiom.stores.neo4j import Neo4jGraphStore

T = TypeVar("T")
REPO = Path(__file__).resolve().parents[1]
LOCK = Path(tempfile.gettempdir()) / "axiom-neo4j-tests.lock"
BATCH = 500  # mutations per graph-builder batch (Settings.consumer_batch default)


@dataclass
class Timing:
    wall: float
    cpu: float  # this process
    server_cpu: float  # the Neo4j JVM (0 when it is not a local process)


def _server_pid() -> str | None:
    pidfile = Path(os.environ.get("AXIOM_SERVICES_HOME", REPO / ".services")) / "neo4j/neo4j.pid"
    try:
        return pidfile.read_text().strip()
    except OSError:
        return None


def server_cpu_s() -> float:
    """User + system CPU seconds of the JVM started by deploy/local/neo4j.sh so far."""
    pid = _server_pid()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(fn: Callable[[], T]) -> tuple[Timing, T]:
    """Wall, client CPU and server CPU seconds of ``fn()``."""
    w0, c0, s0 = time.perf_counter(), time.process_time(), server_cpu_s()
    result = fn()
    wall, cpu = time.perf_counter() - w0, time.process_time() - c0
    return Timing(wall, cpu, server_cpu_s() - s0), result


@contextmanager
def exclusive_server() -> Iterator[None]:
    """The lock of the Neo4j tests: nobody else clears the graph meanwhile."""
    with LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def server_peak_rss_mib() -> float | None:
    """VmHWM of the JVM started by deploy/local/neo4j.sh, if it runs on this machine."""
    try:
        status = Path(f"/proc/{_server_pid()}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def split(mutations: Sequence[GraphMutation]) -> tuple[list[Node], list[Edge]]:
    nodes = [m.node for m in mutations if m.op == "merge_node" and m.node is not None]
    edges = [m.edge for m in mutations if m.op == "merge_edge" and m.edge is not None]
    return nodes, edges


def synthetic(n_edges: int, n_nodes: int, seed: int = 11) -> list[Edge]:
    """Distinct random directed edges among ``n_nodes`` companies, four types."""
    rng = random.Random(seed)
    types = ("SUPPLIES", "PEER_OF", "CORRELATED_WITH", "LENDS_TO")
    keys: set[tuple[int, int, int]] = set()
    while len(keys) < n_edges:
        a, b = rng.randrange(n_nodes), rng.randrange(n_nodes)
        if a != b:
            keys.add((a, rng.randrange(len(types)), b))
    return [
        Edge(
            f"Company:S{a:05d}", types[t], f"Company:S{b:05d}", rng.random(), {"rho": rng.random()}
        )
        for a, t, b in sorted(keys)
    ]


def latency_ms(store: GraphStore, ids: Sequence[str]) -> tuple[float, float, float]:
    """p50, p95 and max of ``neighbors(id, hops=2)`` over ``ids`` (after one warm-up)."""
    store.neighbors(ids[0], hops=2)
    samples = []
    for node_id in ids:
        t0 = time.perf_counter()
        store.neighbors(node_id, hops=2)
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(0.95 * (len(samples) - 1))], samples[-1]


def load(store: GraphStore, nodes: list[Node], edges: list[Edge]) -> dict[str, Timing]:
    """First load, re-merge and graph-builder batches of one graph into an empty store."""
    out = {}
    out["nodes"], _ = timed(lambda: store.merge_nodes(nodes))
    out["edges"], _ = timed(lambda: store.merge_edges(edges))
    out["nodes again"], _ = timed(lambda: store.merge_nodes(nodes))
    out["edges again"], _ = timed(lambda: store.merge_edges(edges))
    store.clear()
    stream = [("n", n) for n in nodes] + [("e", e) for e in edges]

    def batches() -> None:
        for start in range(0, len(stream), BATCH):
            part = stream[start : start + BATCH]
            store.merge_nodes([x for k, x in part if k == "n" and isinstance(x, Node)])
            store.merge_edges([x for k, x in part if k == "e" and isinstance(x, Edge)])

    out["builder batches"], _ = timed(batches)
    return out


def fmt_ms(p50: float, p95: float, worst: float) -> str:
    return f"p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {worst:6.1f} ms"


def row(what: str, n: int, neo: Timing, emb: Timing | None) -> str:
    times = f"{neo.wall:6.2f}s wall {neo.cpu:5.2f}s cpu {neo.server_cpu:5.2f}s srv"
    rate = f"{n / neo.wall:>8,.0f}/s"
    base = f"{n / emb.wall:>9,.0f}/s {neo.wall / emb.wall:5.1f}x" if emb else ""
    return f"  {what:<27} {n:>7,} {times} {rate} {base}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="neo4j://127.0.0.1:7687")
    ap.add_argument("--edges", type=int, default=100_000, help="synthetic batch size")
    ap.add_argument("--samples", type=int, default=200, help="2-hop queries per graph")
    args = ap.parse_args()

    nodes, edges = split(extract(load_universe("all")))
    syn = synthetic(args.edges, max(args.edges // 10, 10))
    rng = random.Random(5)
    companies = sorted(n.id for n in nodes if n.label == "Company")
    probe = rng.sample(companies, min(args.samples, len(companies)))
    syn_ids = sorted({e.src for e in syn})
    syn_probe = rng.sample(syn_ids, min(args.samples, len(syn_ids)))

    print(f"load average {os.getloadavg()[0]:.2f}")
    print(
        "columns: rows, Neo4j wall / client CPU / server CPU seconds, Neo4j rows/s,"
        " embedded rows/s, Neo4j wall time / embedded wall time"
    )
    with exclusive_server(), tempfile.TemporaryDirectory() as tmp:
        neo = Neo4jGraphStore.from_url(args.url, Settings(home=Path(tmp)))
        emb = EmbeddedGraphStore(Path(tmp) / "graph.db")
        try:
            neo.clear()
            print(f"universe graph: {len(nodes):,} nodes, {len(edges):,} relationships")
            # The first load after a server start also pays for JIT compilation and query
            # planning; it is shown on its own and the figures below are steady state.
            cold, _ = timed(lambda: (neo.merge_nodes(nodes), neo.merge_edges(edges)))
            neo.clear()
            print(row("first load, cold server", len(nodes) + len(edges), cold, None))
            n_runs, e_runs = load(neo, nodes, edges), load(emb, nodes, edges)
            for key, count in (
                ("nodes", len(nodes)),
                ("edges", len(edges)),
                ("nodes again", len(nodes)),
                ("edges again", len(edges)),
                ("builder batches", len(nodes) + len(edges)),
            ):
                print(row(key, count, n_runs[key], e_runs[key]))
            same = neo.checksum() == emb.checksum()
            t_sum, _ = timed(neo.checksum)
            t_edges, n_listed = timed(lambda: sum(1 for _ in neo.edges()))
            t_counts, _ = timed(neo.counts)
            print(f"  checksum equal to embedded: {same}")
            print(row("checksum", len(nodes) + len(edges), t_sum, timed(emb.checksum)[0]))
            print(row("edges() iteration", n_listed, t_edges, timed(lambda: list(emb.edges()))[0]))
            print(f"  counts(): {t_counts.wall * 1000:.1f} ms")
            for name, store in (("Neo4j", neo), ("embedded", emb)):
                p50, p95, worst = latency_ms(store, probe)
                print(f"  neighbors 2-hop, {name:<8} {fmt_ms(p50, p95, worst)}")

            neo.clear()
            emb.clear()
            print(f"synthetic batch: {len(syn):,} relationships among {len(syn_ids):,} nodes")
            t_neo, _ = timed(lambda: neo.merge_edges(syn))
            t_emb, _ = timed(lambda: emb.merge_edges(syn))
            print(row("one merge_edges call", len(syn), t_neo, t_emb))
            t_neo, _ = timed(lambda: neo.merge_edges(syn))
            t_emb, _ = timed(lambda: emb.merge_edges(syn))
            print(row("same batch again", len(syn), t_neo, t_emb))
            for name, store in (("Neo4j", neo), ("embedded", emb)):
                p50, p95, worst = latency_ms(store, syn_probe)
                print(f"  neighbors 2-hop, {name:<8} {fmt_ms(p50, p95, worst)}")
            neo.clear()
        finally:
            neo.close()
            emb.close()
    server = server_peak_rss_mib()
    client = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: Neo4j JVM {server:.0f} MiB" if server else "peak RSS: Neo4j JVM unknown")
    print(f"peak RSS: this process {client:.0f} MiB")


if __name__ == "__main__":
    main()
