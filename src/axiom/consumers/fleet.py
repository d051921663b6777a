"""Run every consumer in the background of one process and wait until they caught up.

Used by ``axiom demo`` and the tests: each consumer gets its own thread and its own
runtime (its own bus and store connections), as it would in its own process. Waiting
means: every group's committed offsets equal the end offsets of its topics.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from axiom.consumers.registry import CONSUMER_NAMES, build_sink
from axiom.consumers.runner import ConsumerRunner, RunnerStats
from axiom.errors import PipelineError
from axiom.runtime import Runtime
from axiom.settings import Settings


class ConsumerFleet:
    """Consumers running in threads until :meth:`stop`."""

    def __init__(self, settings: Settings, names: Sequence[str] = CONSUMER_NAMES) -> None:
        self.settings = settings
        self.names = list(names)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._runners: dict[str, ConsumerRunner] = {}
        self._errors: dict[str, BaseException] = {}
        self._ready = threading.Barrier(len(self.names) + 1)
        self._monitor = Runtime(settings)

    def _run(self, name: str) -> None:
        runtime = Runtime(self.settings)
        try:
            runner = ConsumerRunner(
                build_sink(name, runtime), runtime.bus, batch_size=self.settings.consumer_batch
            )
            self._runners[name] = runner
            self._ready.wait()
            try:
                runner.run(self._stop)
            finally:
                runner.close()
        except threading.BrokenBarrierError:
            pass
        except BaseException as exc:
            self._errors[name] = exc
            self._ready.abort()
        finally:
            runtime.close()

    def start(self) -> ConsumerFleet:
        """Start one thread per consumer; returns once every consumer joined its group."""
        for name in self.names:
            t = threading.Thread(
                target=self._run, args=(name,), name=f"consumer-{name}", daemon=True
            )
            t.start()
            self._threads.append(t)
        try:
            self._ready.wait(timeout=120)
        except threading.BrokenBarrierError:
            self._raise_errors()
        return self

    def _raise_errors(self) -> None:
        if self._errors:
            name, exc = next(iter(self._errors.items()))
            raise PipelineError(f"consumer '{name}' failed: {exc}") from exc

    def lag(self) -> dict[str, int]:
        """Consumer -> messages not yet committed."""
        bus = self._monitor.bus
        return {n: bus.total_lag(n, r.sink.topics) for n, r in self._runners.items()}

    def wait_caught_up(
        self, timeout_s: float = 600.0, on_lag: Callable[[int], None] | None = None
    ) -> None:
        """Block until every consumer's lag is zero; PipelineError if one failed or on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            self._raise_errors()
            total = sum(self.lag().values())
            if on_lag:
                on_lag(total)
            if total == 0:
                return
            if time.monotonic() > deadline:
                raise PipelineError(f"consumers still {total} messages behind after {timeout_s}s")
            time.sleep(0.05)

    def stop(self) -> dict[str, RunnerStats]:
        """Stop every consumer, wait for the threads, return what each did."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)
        self._monitor.close()
        self._raise_errors()
        return {n: r.stats for n, r in self._runners.items()}
