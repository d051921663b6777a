"""Local executor: a thread pool (``local``) or a process pool (``local://processes``).

Threads suit I/O-bound and numpy work that releases the GIL; processes suit pure-Python
CPU work (functions and items must then be picklable).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor as _PoolExecutor
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, TypeVar

from axiom.compute.base import Executor, Worker
from axiom.errors import ConfigError

if TYPE_CHECKING:
    from axiom.settings import Settings

T = TypeVar("T")
R = TypeVar("R")


class LocalExecutor(Executor):
    """Runs work on this machine; ``workers`` = 1 runs inline with no pool at all."""

    def __init__(self, workers: int = 2, *, processes: bool = False, url: str = "local") -> None:
        self.url = url
        self.workers = workers
        self.processes = processes
        self._pool: _PoolExecutor | None = None

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> LocalExecutor:
        """``local``, ``local://threads`` or ``local://processes``; size from settings."""
        kind = url.split("://", 1)[1] if "://" in url else "threads"
        if kind not in ("", "threads", "processes"):
            raise ConfigError(f"unknown local executor kind '{kind}' (threads or processes)")
        return cls(settings.workers, processes=kind == "processes", url=url)

    def _get_pool(self) -> _PoolExecutor:
        if self._pool is None:
            self._pool = (
                ProcessPoolExecutor(self.workers)
                if self.processes
                else ThreadPoolExecutor(self.workers, thread_name_prefix="axiom-exec")
            )
        return self._pool

    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        on_done: Callable[[int], None] | None = None,
    ) -> list[R]:
        """See :meth:`Executor.map`."""
        if self.workers == 1 or len(items) <= 1:
            out: list[R] = []
            for i, item in enumerate(items):
                out.append(fn(item))
                if on_done:
                    on_done(i)
            return out
        pool = self._get_pool()
        futures: dict[Future[R], int] = {pool.submit(fn, item): i for i, item in enumerate(items)}
        results: list[R | None] = [None] * len(items)
        error: BaseException | None = None
        for fut in as_completed(futures):
            i = futures[fut]
            if fut.cancelled():
                continue
            exc = fut.exception()
            if exc is not None:
                if error is None:
                    error = exc
                    for other in futures:
                        other.cancel()
                continue
            results[i] = fut.result()
            if on_done:
                on_done(i)
        if error is not None:
            raise error
        return results  # type: ignore[return-value]

    def map_workers(
        self,
        factory: Callable[[], Worker[T, R]],
        items: Sequence[T],
        *,
        on_done: Callable[[int], None] | None = None,
    ) -> list[R]:
        """See :meth:`Executor.map_workers`: one worker per thread, built on first use.

        Always a thread pool (even for ``local://processes``): workers hold clients, and the
        work they do is I/O-bound.
        """
        local = threading.local()
        built: list[Worker[T, R]] = []
        lock = threading.Lock()

        def run(item: T) -> R:
            worker: Worker[T, R] | None = getattr(local, "worker", None)
            if worker is None:
                worker = factory()
                local.worker = worker
                with lock:
                    built.append(worker)
            return worker(item)

        threads = LocalExecutor(self.workers, url=self.url)
        try:
            return threads.map(run, items, on_done=on_done)
        finally:
            threads.close()
            for worker in built:
                worker.close()

    def close(self) -> None:
        """Shut the pool down, waiting for running items."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
