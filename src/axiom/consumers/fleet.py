"""Run every consumer in the background and wait until they caught up.

Used by ``axiom demo``, ``axiom run`` and the tests. Each consumer runs in its own
**process** (its own runtime, its own connections, its own core), as it would in
production, except a consumer whose store lives in this process's memory (a
``memory://`` cache), which runs in a thread here so that this process sees what it
wrote. "Caught up" means every group's committed offsets equal the end offsets of its
topics.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from multiprocessing.synchronize import Event as MpEvent
from typing import Any

from axiom.consumers.registry import CONSUMER_NAMES, build_sink, sink_port, sink_topics
from axiom.consumers.runner import ConsumerRunner, RunnerStats
from axiom.errors import ConfigError, PipelineError
from axiom.registry import is_process_local, resolve
from axiom.runtime import Runtime
from axiom.settings import Settings

_START_TIMEOUT_S = 120.0
#: Imported once by the fork server, which every consumer process is forked from.
_PRELOAD = ("axiom.consumers.fleet", "axiom.consumers.registry", "axiom.runtime")
#: Adapter modules the fork server must not import: they start threads at import (the
#: Neo4j driver pulls in pyarrow, whose allocator runs a background thread), and a fork
#: copies only the forking thread. Their consumers import them after the fork.
_NO_PRELOAD = frozenset({"axiom.stores.neo4j"})


def preload_modules(settings: Settings, names: Sequence[str]) -> list[str]:
    """Modules the fork server imports before it forks the consumers ``names``.

    The consumers' own modules and the adapters of the URLs they open (the bus and each
    one's store), except :data:`_NO_PRELOAD`. A URL that does not resolve is left to the
    consumer, which reports it as its start-up error.
    """
    wanted = [("bus", settings.bus)]
    for name in names:
        port = sink_port(name)
        url = settings.warehouse_url if port == "warehouse" else getattr(settings, port)
        wanted.append((port, str(url)))
    modules = list(_PRELOAD)
    for port, url in wanted:
        try:
            module = resolve(port, url).target.partition(":")[0]
        except ConfigError:
            continue
        if module not in modules and module not in _NO_PRELOAD:
            modules.append(module)
    return modules


def _consume(settings: Settings, name: str, stop: threading.Event | MpEvent, reports: Any) -> None:
    """Body of one consumer (thread or child process): report ready, run, report stats."""
    try:
        with Runtime(settings) as runtime:
            runner = ConsumerRunner(
                build_sink(name, runtime), runtime.bus, batch_size=settings.consumer_batch
            )
            try:
                runner.consumer.assignment()  # join the group before saying ready
                reports.put(("ready", name, None))
                runner.run(stop)
            finally:
                runner.close()
            reports.put(("stats", name, asdict(runner.stats)))
    except BaseException as exc:  # reported to the parent, which raises
        reports.put(("error", name, f"{type(exc).__name__}: {exc}"))


class ConsumerFleet:
    """Consumers running in the background until :meth:`stop`."""

    def __init__(
        self,
        settings: Settings,
        names: Sequence[str] = CONSUMER_NAMES,
        *,
        processes: bool = True,
    ) -> None:
        self.settings = settings
        self.names = list(names)
        # Forked from a server that imported the consumers' modules once: a process
        # starts in milliseconds instead of re-importing (0.5-1 s of CPU each), and no
        # thread of this process (cache updater, clients) is copied into the fork.
        self._ctx = mp.get_context("forkserver")
        self._ctx.set_forkserver_preload(preload_modules(settings, self.names))
        self._mp_stop = self._ctx.Event()
        self._th_stop = threading.Event()
        self._mp_reports: Any = self._ctx.Queue()
        self._th_reports: queue.Queue[tuple[str, str, Any]] = queue.Queue()
        self._workers: dict[str, mp.process.BaseProcess | threading.Thread] = {}
        self._use_processes = processes
        self._errors: dict[str, str] = {}
        self._stats: dict[str, RunnerStats] = {}
        self._ready: set[str] = set()
        self._monitor = Runtime(settings)
        self._topics = {n: sink_topics(n) for n in self.names}

    def _in_process(self, name: str) -> bool:
        port = sink_port(name)
        url = self.settings.warehouse_url if port == "warehouse" else getattr(self.settings, port)
        return not self._use_processes or is_process_local(port, str(url))

    def _drain(self, block_s: float = 0.0) -> None:
        for q in (self._th_reports, self._mp_reports):
            while True:
                try:
                    kind, name, data = q.get(timeout=block_s) if block_s else q.get_nowait()
                except queue.Empty:
                    break
                if kind == "ready":
                    self._ready.add(name)
                elif kind == "stats":
                    self._stats[name] = RunnerStats(**data)
                else:
                    self._errors[name] = str(data)

    def _raise_errors(self) -> None:
        self._drain()
        for name, worker in self._workers.items():
            dead = not worker.is_alive() and name not in self._stats
            if dead and name not in self._errors and not self._th_stop.is_set():
                code = getattr(worker, "exitcode", None)
                self._errors[name] = f"exited unexpectedly (exit code {code})"
        if self._errors:
            name, msg = next(iter(self._errors.items()))
            raise PipelineError(f"consumer '{name}' failed: {msg}")

    def start(self) -> ConsumerFleet:
        """Start every consumer; returns once each one joined its group."""
        for name in self.names:
            worker: mp.process.BaseProcess | threading.Thread
            if self._in_process(name):
                worker = threading.Thread(
                    target=_consume,
                    args=(self.settings, name, self._th_stop, self._th_reports),
                    name=f"consumer-{name}",
                    daemon=True,
                )
            else:
                worker = self._ctx.Process(
                    target=_consume,
                    args=(self.settings, name, self._mp_stop, self._mp_reports),
                    name=f"axiom-{name}",
                    daemon=True,
                )
            worker.start()
            self._workers[name] = worker
        deadline = time.monotonic() + _START_TIMEOUT_S
        try:
            while len(self._ready) < len(self.names):
                self._raise_errors()
                if time.monotonic() > deadline:
                    raise PipelineError("consumers did not start within 120 s")
                time.sleep(0.02)
        except BaseException:
            with contextlib.suppress(PipelineError):
                self.stop()
            raise
        return self

    def lag(self, groups: Sequence[str] | None = None) -> dict[str, int]:
        """Consumer -> messages not yet committed (all consumers, or ``groups``)."""
        bus = self._monitor.bus
        return {n: bus.total_lag(n, self._topics[n]) for n in groups or self.names}

    def wait_caught_up(
        self,
        timeout_s: float = 1800.0,
        on_lag: Callable[[int], None] | None = None,
        groups: Sequence[str] | None = None,
    ) -> None:
        """Block until the lag of every consumer (or of ``groups``) is zero.

        Raises PipelineError if a consumer failed, or on timeout.
        """
        if groups is not None and not groups:
            self._raise_errors()
            return
        deadline = time.monotonic() + timeout_s
        while True:
            self._raise_errors()
            total = sum(self.lag(groups).values())
            if on_lag:
                on_lag(total)
            if total == 0:
                return
            if time.monotonic() > deadline:
                raise PipelineError(f"consumers still {total} messages behind after {timeout_s}s")
            time.sleep(0.05)

    def stop(self) -> dict[str, RunnerStats]:
        """Stop every consumer, wait for them, return what each did."""
        self._th_stop.set()
        self._mp_stop.set()
        deadline = time.monotonic() + 60
        while len(self._stats) + len(self._errors) < len(self.names):
            self._drain(block_s=0.1)
            if time.monotonic() > deadline:
                break
        for worker in self._workers.values():
            worker.join(timeout=10)
            if isinstance(worker, mp.process.BaseProcess) and worker.is_alive():
                worker.terminate()
        self._monitor.close()
        if self._errors:
            name, msg = next(iter(self._errors.items()))
            raise PipelineError(f"consumer '{name}' failed: {msg}")
        return dict(self._stats)
