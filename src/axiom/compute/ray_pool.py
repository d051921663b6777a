"""The Ray side of the executor: per-item tasks, the actor pool, and Ray's errors mapped.

:class:`~axiom.compute.ray.RayExecutor` is the only caller. Two ways to run work:

* :func:`run_tasks` — one Ray task per item. A task whose *worker process dies* is re-run by
  Ray (``max_retries``); a Python exception raised by the function is not retried (it is a
  bug or an expected error, and running it again gives the same answer) and reaches the
  caller as the original exception.
* :class:`ActorPool` — long-lived actors, each running one stateful worker per
  ``map_workers`` call in its own process. An actor killed mid-item is restarted by Ray
  (``max_restarts``) and its in-flight items re-run (``max_task_retries``); an actor that
  is dead for good has its items given to the others. Every item ends exactly once in the
  result, which is why the items of ``map_workers`` must be idempotent.

Actors take no CPU (``num_cpus=0``): pool work is I/O-bound (LLM calls, graph writes), so
ten actors fit on two cores. By default each actor runs one item at a time
(``max_concurrency=1``), because a :class:`~axiom.compute.base.Worker` need not be
thread-safe; the pool keeps one more item queued on each actor, so an actor never idles
for a driver round trip between items. A pool built with ``concurrency=k`` makes threaded
actors running ``k`` items at once on one worker — only for workers that are thread-safe
(the company-graph agent is: it keeps a producer per thread).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import ray
from ray.exceptions import (
    ActorDiedError,
    RayActorError,
    RayError,
    RayTaskError,
    TaskCancelledError,
)

from axiom.compute.base import Worker
from axiom.errors import BackendError

T = TypeVar("T")
R = TypeVar("R")

log = logging.getLogger(__name__)

#: Re-runs of a task whose worker process died (a Python exception is never re-run).
TASK_MAX_RETRIES = 3
#: Restarts of an actor whose process died before it counts as dead for good.
ACTOR_MAX_RESTARTS = 3
#: Re-runs of an actor's in-flight item after the actor restarted.
ACTOR_MAX_TASK_RETRIES = 3
#: Items queued on one actor at a time: one running, the next waiting (no idle round trip).
IN_FLIGHT_PER_ACTOR = 2
#: Seconds the pool waits for the actors to close their workers at the end of a call.
RELEASE_TIMEOUT_S = 60.0


@ray.remote
def _run_item(fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)


class _WorkerHost:
    """The actor class: holds one worker per running ``map_workers`` call, built lazily.

    Lazy building is what makes restarts safe: a restarted actor has lost its worker and
    builds a new one from the factory when the retried item arrives.
    """

    def __init__(self) -> None:
        self._workers: dict[str, Worker[Any, Any]] = {}
        self._build = threading.Lock()  # threaded actors: build one worker per call

    def run(self, call_id: str, factory_box: list[Any], item: Any) -> Any:
        worker = self._workers.get(call_id)
        if worker is None:
            with self._build:
                worker = self._workers.get(call_id)
                if worker is None:
                    # The factory travels once, as an object-store reference boxed in a
                    # list so Ray does not resolve it for every item.
                    factory = ray.get(factory_box[0])
                    worker = factory()
                    self._workers[call_id] = worker
        return worker(item)

    def release(self, call_id: str) -> None:
        worker = self._workers.pop(call_id, None)
        if worker is not None:
            worker.close()


def original_error(exc: RayError, what: str) -> BaseException:
    """The exception to raise in the caller for a failed remote item.

    A Python exception raised by the item comes back as itself (its type and message, with
    Ray's error, which carries the remote traceback, as ``__cause__``). Anything else — a
    worker that died more often than it may be retried, an out-of-memory kill, a lost
    node — becomes a :class:`BackendError` naming ``what`` failed.
    """
    if isinstance(exc, RayTaskError):
        cause = exc.cause
        if isinstance(cause, BaseException) and not isinstance(cause, RayError):
            cause.__cause__ = exc
            return cause
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    err = BackendError(f"Ray could not run {what}: {type(exc).__name__}: {first}")
    err.__cause__ = exc
    return err


def _cancel(refs: Iterable[Any]) -> None:
    for ref in refs:
        try:
            ray.cancel(ref)
        except Exception:  # best effort: the item may have finished
            log.debug("could not cancel %s", ref, exc_info=True)


def _wait_some(pending: list[Any]) -> tuple[list[Any], list[Any]]:
    """Block for one finished ref, then take every other one that is ready too."""
    ready, rest = ray.wait(pending, num_returns=1)
    if rest:
        more, rest = ray.wait(rest, num_returns=len(rest), timeout=0)
        ready = ready + more
    return ready, rest


def run_tasks(
    fn: Callable[[T], R],
    items: Sequence[T],
    *,
    num_cpus: float,
    on_done: Callable[[int], None] | None,
) -> list[R]:
    """One Ray task per item; results in item order; see :meth:`Executor.map`.

    Called by ``RayExecutor.map``. On the first failed item the items not yet finished are
    cancelled (a queued task never starts, a running one is interrupted), the loop waits
    for all of them to end, then the failure is raised as :func:`original_error` says.
    """
    task = _run_item.options(
        num_cpus=num_cpus, max_retries=TASK_MAX_RETRIES, retry_exceptions=False
    )
    fn_ref = ray.put(fn)  # serialised once, resolved by Ray in each task
    refs = [task.remote(fn_ref, item) for item in items]
    index = {ref: i for i, ref in enumerate(refs)}
    results: list[Any] = [None] * len(items)
    error: BaseException | None = None
    pending = list(refs)
    try:
        while pending:
            ready, pending = _wait_some(pending)
            for ref in ready:
                i = index[ref]
                try:
                    results[i] = ray.get(ref)
                except TaskCancelledError:
                    continue
                except RayError as exc:
                    if error is None:
                        error = original_error(exc, f"item {i}")
                        _cancel(pending)
                    continue
                if on_done is not None:
                    on_done(i)
    except BaseException:
        _cancel(pending)  # the caller is gone (Ctrl-C, on_done raised): stop the rest
        raise
    if error is not None:
        raise error
    return results


class ActorPool:
    """``size`` actors kept for the executor's life; each call builds fresh workers in them.

    The actor *processes* outlive a call because starting one costs about half a second of
    CPU (ten take ~4 s on two cores), which would dominate short calls; the *workers*
    (the factory's objects with their clients) live for one call and are closed at its
    end. An actor dead for good is dropped, and the pool is topped up at the next call.
    """

    def __init__(
        self, size: int, *, in_flight: int = IN_FLIGHT_PER_ACTOR, concurrency: int = 1
    ) -> None:
        if size < 1 or in_flight < 1 or concurrency < 1:
            raise ValueError("pool size, in-flight items and concurrency must be >= 1")
        self.size = size
        self.in_flight = max(in_flight, concurrency + 1)
        self._actors: list[Any] = []
        self._lock = threading.Lock()
        self._host = ray.remote(_WorkerHost).options(
            num_cpus=0,
            max_restarts=ACTOR_MAX_RESTARTS,
            max_task_retries=ACTOR_MAX_TASK_RETRIES,
            max_concurrency=concurrency,
            scheduling_strategy="SPREAD",
        )

    def _take_actors(self) -> list[Any]:
        with self._lock:
            while len(self._actors) < self.size:
                self._actors.append(self._host.remote())
            return list(self._actors)

    def _drop(self, actor: Any) -> None:
        with self._lock:
            if actor in self._actors:
                self._actors.remove(actor)
        try:
            ray.kill(actor, no_restart=True)
        except Exception:  # it is dead already
            log.debug("kill of a dead actor failed", exc_info=True)

    def map(
        self,
        factory: Callable[[], Worker[T, R]],
        items: Sequence[T],
        *,
        on_done: Callable[[int], None] | None = None,
    ) -> list[R]:
        """Run ``items`` on the pool; see :meth:`Executor.map_workers` for the contract.

        Called by ``RayExecutor.map_workers``. Raises the first item's exception (after
        the items in flight ended), or :class:`BackendError` if every actor died for good.
        """
        actors = self._take_actors()
        call_id = uuid.uuid4().hex
        box = [ray.put(factory)]
        queue: deque[int] = deque(range(len(items)))
        load = dict.fromkeys(range(len(actors)), 0)
        alive = set(load)
        inflight: dict[Any, tuple[int, int]] = {}
        results: list[Any] = [None] * len(items)
        error: BaseException | None = None

        def submit() -> None:
            while queue and error is None:
                free = [a for a in alive if load[a] < self.in_flight]
                if not free:
                    return
                a = min(free, key=load.__getitem__)
                i = queue.popleft()
                inflight[actors[a].run.remote(call_id, box, items[i])] = (i, a)
                load[a] += 1

        try:
            submit()
            while inflight:
                ready, _ = _wait_some(list(inflight))
                for ref in ready:
                    i, a = inflight.pop(ref)
                    load[a] -= 1
                    try:
                        results[i] = ray.get(ref)
                    except TaskCancelledError:
                        continue
                    except RayActorError as exc:
                        if error is None:
                            queue.appendleft(i)  # give the item to another actor
                        if isinstance(exc, ActorDiedError) and a in alive:
                            log.warning("Ray actor %d died for good; its items move on", a)
                            alive.discard(a)
                            self._drop(actors[a])
                        continue
                    except RayError as exc:
                        if error is None:
                            error = original_error(exc, f"item {i}")
                            queue.clear()
                            _cancel(inflight)
                        continue
                    if on_done is not None:
                        on_done(i)
                if queue and not alive and error is None:
                    error = BackendError(
                        f"every actor of the Ray pool died; {len(queue)} items not run"
                    )
                    queue.clear()
                submit()
        except BaseException:
            _cancel(inflight)
            raise
        finally:
            close_error = self._release(call_id, [actors[a] for a in alive])
        if error is not None:
            raise error
        if close_error is not None:
            raise close_error
        return results

    def _release(self, call_id: str, actors: list[Any]) -> BaseException | None:
        """Close this call's worker on every live actor; the first close error, if any."""
        refs = [actor.release.remote(call_id) for actor in actors]
        first: BaseException | None = None
        for ref in refs:
            try:
                ray.get(ref, timeout=RELEASE_TIMEOUT_S)
            except RayError as exc:
                if isinstance(exc, RayTaskError) and first is None:
                    first = original_error(exc, "worker.close()")
                else:
                    log.warning("a Ray actor did not close its worker: %s", exc)
        return first

    def close(self) -> None:
        """Kill every actor; called by ``RayExecutor.close``. Safe to call twice."""
        with self._lock:
            actors, self._actors = self._actors, []
        for actor in actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # the runtime may be gone already
                log.debug("kill of an actor failed", exc_info=True)
