"""The Ray executor on a real local Ray runtime (``ray://local``), started once per module.

Crash tests kill Ray worker processes with SIGKILL; marker files in a temporary folder
make each crash happen a fixed number of times, so the retried work then succeeds.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from axiom.compute.local import LocalExecutor
from axiom.compute.ray import RayExecutor
from axiom.errors import BackendUnavailableError
from axiom.registry import open_backend
from axiom.settings import Settings

POOL = 10


class ItemError(ValueError):
    """An error of the test's own type, to see it come back as itself."""


def _ray_descendants(pid: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":  # zombies are gone, only not yet reaped
                parents[int(entry.name)] = int(fields[1])
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, pp in parents.items() if pp == parent]
        found += kids
        frontier += kids
    return [p for p in found if _is_ray(p)]


_RAY_PROGRAM = re.compile(r"(^|/)ray(/|::)|(^|/)(raylet|gcs_server)$")


def _is_ray(pid: int) -> bool:
    """Ray's own processes (raylet, GCS, workers, actors), not other tests' children."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    except OSError:
        return False
    # Only the program and its script count: Ray's binaries and scripts live under
    # .../ray/ and its workers retitle themselves "ray::<task>". Arguments do not: a
    # multiprocessing fork server started after `import ray` carries Ray's path in its
    # sys.path argument.
    program = [a for a in args[:3] if a and not a.startswith("-")]
    return any(_RAY_PROGRAM.search(a) for a in program)


@pytest.fixture(scope="module")
def ex(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayExecutor]:
    settings = Settings(
        home=tmp_path_factory.mktemp("home"),
        executor="ray://local",
        workers=2,
        agent_actors=POOL,
    )
    executor = open_backend("executor", settings.executor, settings)
    assert isinstance(executor, RayExecutor)
    try:
        yield executor
    finally:
        executor.close()
        executor.close()  # twice is fine
        ray.shutdown()
    assert not ray.is_initialized()
    deadline = time.monotonic() + 60  # under a loaded CI run Ray's exit takes a while
    while _ray_descendants(os.getpid()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _ray_descendants(os.getpid()) == [], "Ray processes left behind"


# -- functions and workers that run in Ray's processes ------------------------------------


def _square(x: int) -> int:
    time.sleep(0.02)
    return x * x


def _fail_on_3(x: int) -> int:
    if x == 3:
        raise ItemError(f"item {x} is bad")
    time.sleep(0.05)
    return x


def _crash_once(marker: Path, x: int) -> tuple[int, int]:
    """SIGKILLs its own worker process on item 2 the first time."""
    if x == 2 and not marker.exists():
        marker.touch()
        os.kill(os.getpid(), signal.SIGKILL)
    return x + 100, os.getpid()


class CountingWorker:
    """Records each build and close in ``folder``; returns (item, pid, calls so far)."""

    def __init__(self, folder: Path, sleep: float = 0.05) -> None:
        self.folder = folder
        self.sleep = sleep
        self.calls = 0
        self.id = f"{os.getpid()}-{uuid.uuid4().hex}"
        (folder / f"build-{self.id}").touch()

    def __call__(self, item: int) -> tuple[int, int, int]:
        self.calls += 1
        time.sleep(self.sleep)
        return item, os.getpid(), self.calls

    def close(self) -> None:
        (self.folder / f"close-{self.id}").touch()


class KillingWorker(CountingWorker):
    """SIGKILLs its actor on item ``victim`` until ``kills`` kill markers exist."""

    def __init__(self, folder: Path, victim: int, kills: int) -> None:
        super().__init__(folder)
        self.victim = victim
        self.kills = kills

    def __call__(self, item: int) -> tuple[int, int, int]:
        if item == self.victim:
            done = len(list(self.folder.glob("kill-*")))
            if done < self.kills:
                (self.folder / f"kill-{done}").touch()
                os.kill(os.getpid(), signal.SIGKILL)
        return super().__call__(item)


class FailingWorker(CountingWorker):
    def __call__(self, item: int) -> tuple[int, int, int]:
        if item == 4:
            raise ItemError("worker item 4 failed")
        return super().__call__(item)


def _files(folder: Path, prefix: str) -> list[Path]:
    return sorted(folder.glob(f"{prefix}-*"))


# -- tasks ---------------------------------------------------------------------------------


def test_map_keeps_order_and_reports_progress_in_the_caller(ex: RayExecutor) -> None:
    done: list[int] = []
    threads: set[int] = set()

    def progress(i: int) -> None:
        threads.add(threading.get_ident())
        done.append(i)

    items = list(range(20))
    assert ex.map(_square, items, on_done=progress) == [x * x for x in items]
    assert sorted(done) == items
    assert threads == {threading.get_ident()}
    assert ex.map(_square, []) == []


def test_map_reraises_the_original_exception(ex: RayExecutor) -> None:
    with pytest.raises(ItemError, match="item 3 is bad") as info:
        ex.map(_fail_on_3, list(range(8)))
    assert type(info.value) is ItemError
    # The executor is still usable after a failed map.
    assert ex.map(_square, [1, 2, 3]) == [1, 4, 9]


def test_map_retries_a_task_whose_worker_process_died(ex: RayExecutor, tmp_path: Path) -> None:
    marker = tmp_path / "crashed"
    out = ex.map(functools.partial(_crash_once, marker), list(range(5)))
    assert marker.exists()  # the crash did happen
    assert [value for value, _ in out] == [100, 101, 102, 103, 104]


# -- actor pool ----------------------------------------------------------------------------


def test_map_workers_builds_one_worker_per_actor_and_reuses_it(
    ex: RayExecutor, tmp_path: Path
) -> None:
    done: list[int] = []
    items = list(range(30))
    out = ex.map_workers(functools.partial(CountingWorker, tmp_path), items, on_done=done.append)
    assert [item for item, _, _ in out] == items
    assert sorted(done) == items
    builds = _files(tmp_path, "build")
    assert 1 <= len(builds) <= POOL
    pids = {pid for _, pid, _ in out}
    assert len(pids) <= POOL
    assert os.getpid() not in pids  # the workers live in the actors' processes
    # Per-actor state is reused: each process numbered its items 1, 2, 3, ...
    per_pid = Counter(pid for _, pid, _ in out)
    for pid, count in per_pid.items():
        assert sorted(n for _, p, n in out if p == pid) == list(range(1, count + 1))
    assert max(per_pid.values()) > 1
    # Every worker was closed at the end of the call.
    assert len(_files(tmp_path, "close")) == len(builds)


def test_map_workers_reraises_an_item_error(ex: RayExecutor, tmp_path: Path) -> None:
    with pytest.raises(ItemError, match="worker item 4"):
        ex.map_workers(functools.partial(FailingWorker, tmp_path), list(range(12)))
    assert len(_files(tmp_path, "close")) == len(_files(tmp_path, "build"))


def test_map_workers_survives_an_actor_killed_mid_run(ex: RayExecutor, tmp_path: Path) -> None:
    items = list(range(30))
    factory = functools.partial(KillingWorker, tmp_path, 5, 1)
    out = ex.map_workers(factory, items)
    assert len(_files(tmp_path, "kill")) == 1
    assert [item for item, _, _ in out] == items  # each item exactly once, in order


def test_map_workers_moves_items_off_an_actor_dead_for_good(
    ex: RayExecutor, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Four deaths exhaust the actor's three restarts: its items go to the other actors.
    items = list(range(30))
    factory = functools.partial(KillingWorker, tmp_path, 7, 4)
    with caplog.at_level(logging.WARNING, logger="axiom.compute.ray_pool"):
        out = ex.map_workers(factory, items)
    assert len(_files(tmp_path, "kill")) == 4
    assert "died for good" in caplog.text
    assert [item for item, _, _ in out] == items
    # The pool is topped up again for the next call.
    again = ex.map_workers(functools.partial(CountingWorker, tmp_path), list(range(POOL)))
    assert [item for item, _, _ in again] == list(range(POOL))


def test_actor_pool_speeds_up_io_bound_work(ex: RayExecutor, tmp_path: Path) -> None:
    factory = functools.partial(CountingWorker, tmp_path, 0.25)
    items = list(range(40))
    ex.map_workers(factory, list(range(POOL)))  # the actors' processes are up
    t0 = time.perf_counter()
    with LocalExecutor(1) as local:
        sequential = local.map_workers(factory, items)
    t_seq = time.perf_counter() - t0
    t0 = time.perf_counter()
    pooled = ex.map_workers(factory, items)
    t_pool = time.perf_counter() - t0
    assert [i for i, _, _ in pooled] == [i for i, _, _ in sequential] == items
    print(f"sequential {t_seq:.2f}s, Ray pool of {POOL}: {t_pool:.2f}s, {t_seq / t_pool:.1f}x")
    assert t_seq / t_pool >= 5


# -- connecting ----------------------------------------------------------------------------


def test_unreachable_cluster_is_a_clear_error_quickly(ex: RayExecutor) -> None:
    t0 = time.perf_counter()
    with pytest.raises(BackendUnavailableError, match=r"127\.0\.0\.1:1"):
        RayExecutor.from_url("ray://127.0.0.1:1", Settings())
    assert time.perf_counter() - t0 < 10


def test_a_second_executor_shares_the_runtime(ex: RayExecutor) -> None:
    with RayExecutor.from_url("ray://local", Settings(workers=2, agent_actors=2)) as other:
        assert other.map(_square, [4]) == [16]
    assert ray.is_initialized()  # closing the second one left the first one's runtime up
    assert ex.map(_square, [5]) == [25]
