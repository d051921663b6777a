"""The embedded bus shared by several processes: producers and consumers at once."""

from __future__ import annotations

import itertools
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

from axiom.bus.base import Record
from axiom.bus.embedded import EmbeddedBus
from axiom.domain.topics import TopicSpec

WORKER = Path(__file__).with_name("bus_worker.py")
DEADLINE_S = 60.0


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), *(str(a) for a in args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc: subprocess.Popen[str], expect_rc: int = 0) -> str:
    try:
        out, err = proc.communicate(timeout=DEADLINE_S)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == expect_rc, err
    return out


def _read_all(bus: EmbeddedBus, topic: str, expected: int) -> list[Record]:
    out: list[Record] = []
    deadline = time.monotonic() + DEADLINE_S
    with bus.consumer("audit", [topic]) as consumer:
        while len(out) < expected and time.monotonic() < deadline:
            out.extend(consumer.poll(5000, timeout_s=0.2))
        out.extend(consumer.poll(5000, timeout_s=0.2))
    return out


def _assert_log_is_sound(bus: EmbeddedBus, topic: str, records: list[Record]) -> None:
    """Dense offsets per partition, no duplicate value, per-key order of each producer."""
    offsets: dict[int, list[int]] = defaultdict(list)
    for r in records:
        offsets[r.partition].append(r.offset)
    ends = bus.end_offsets(topic)
    for partition, seen in offsets.items():
        assert seen == list(range(ends[partition]))
    values = [r.value.decode() for r in records]
    assert len(values) == len(set(values))
    seqs: dict[tuple[str, str], list[int]] = defaultdict(list)
    for value in values:
        tag, key, seq = value.split(":")
        seqs[tag, key].append(int(seq))
    assert all(s == sorted(s) for s in seqs.values())


def test_a_consumer_reads_while_another_process_produces(tmp_path: Path) -> None:
    db = tmp_path / "bus.db"
    with EmbeddedBus(db) as bus:
        bus.ensure_topics([TopicSpec("t", 3, "test")])
        consumer = bus.consumer("live", ["t"])
        proc = _start("produce", db, "t", 2000, "p", "--batch", 100, "--pause", 0.05)
        got: list[Record] = []
        while_running = 0
        deadline = time.monotonic() + DEADLINE_S
        while len(got) < 2000 and time.monotonic() < deadline:
            batch = consumer.poll(500, timeout_s=0.2)
            if proc.poll() is None:
                while_running += len(batch)
            got.extend(batch)
        consumer.close()
        _finish(proc)
        assert while_running > 0, "records arrived while the producer was still writing"
        assert len(got) == 2000
        _assert_log_is_sound(bus, "t", got)


def test_two_producer_processes_get_dense_offsets_without_duplicates(tmp_path: Path) -> None:
    db, go = tmp_path / "bus.db", tmp_path / "go"
    with EmbeddedBus(db) as bus:
        bus.ensure_topics([TopicSpec("t", 3, "test")])
        procs = [
            _start("produce", db, "t", 3000, tag, "--batch", 50, "--pause", 0.002, "--go", go)
            for tag in ("a", "b")
        ]
        deadline = time.monotonic() + DEADLINE_S
        while not all(Path(f"{go}.{tag}.ready").exists() for tag in ("a", "b")):
            assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
            time.sleep(0.01)
        go.touch()
        for proc in procs:
            _finish(proc)
        records = _read_all(bus, "t", 6000)
        assert len(records) == 6000
        _assert_log_is_sound(bus, "t", records)
        assert sum(bus.end_offsets("t").values()) == 6000
        order = [r.value[:1] for r in sorted(records, key=lambda r: (r.partition, r.offset))]
        switches = sum(1 for x, y in itertools.pairwise(order) if x != y)
        assert switches > 3, f"the two writers interleaved ({switches} switches)"


def test_a_flushed_batch_survives_a_crash_and_an_unflushed_one_is_gone(tmp_path: Path) -> None:
    db = tmp_path / "bus.db"
    with EmbeddedBus(db) as bus:
        bus.ensure_topics([TopicSpec("t", 2, "test")])
    proc = _start("produce", db, "t", 100, "c", "--batch", 100, "--unflushed", 50)
    _finish(proc, expect_rc=3)
    with EmbeddedBus(db) as bus:
        assert sum(bus.end_offsets("t").values()) == 100
        records = _read_all(bus, "t", 100)
        assert len(records) == 100
        assert not any(b":lost:" in r.value for r in records)
        _assert_log_is_sound(bus, "t", records)


def test_members_of_one_group_in_two_processes_split_the_work(tmp_path: Path) -> None:
    db, stop = tmp_path / "bus.db", tmp_path / "stop"
    with EmbeddedBus(db) as bus:
        bus.ensure_topics([TopicSpec("t", 4, "test")])
        proc = _start("consume", db, "t", "shared", stop)
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + DEADLINE_S
            while not lines:
                assert time.monotonic() < deadline and proc.poll() is None, "worker joined"
                time.sleep(0.01)
            local = bus.consumer("shared", ["t"])
            while len(local.assignment()) != 2:
                assert time.monotonic() < deadline, "the worker released half the partitions"
                assert local.poll(10, timeout_s=0.05) == []
            mine_tps = set(local.assignment())
            with bus.producer() as producer:
                for i in range(400):
                    producer.send("t", f"x:SYM{i}:{i}".encode(), key=f"SYM{i}")
            ends = bus.end_offsets("t")
            mine: list[Record] = []
            while bus.committed("shared", "t") != ends:
                assert time.monotonic() < deadline, bus.committed("shared", "t")
                batch = local.poll(500, timeout_s=0.05)
                mine.extend(batch)
                if batch:
                    local.commit()
            stop.touch()
            _finish(proc)
            reader.join(timeout=10)
            local.close()
        finally:
            stop.touch()
            if proc.poll() is None:
                proc.kill()
        theirs = [line.split(" ", 2) for line in lines[1:]]
        their_positions = {(int(p), int(o)) for p, o, _ in theirs}
        my_positions = {(r.partition, r.offset) for r in mine}
        assert {r.tp for r in mine} == mine_tps
        assert len(their_positions) == len(theirs) and len(my_positions) == len(mine)
        assert not their_positions & my_positions
        assert len(theirs) + len(mine) == 400
        assert {p for p, _ in their_positions}.isdisjoint({tp.partition for tp in mine_tps})
