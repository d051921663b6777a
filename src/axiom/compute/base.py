"""The executor port: where per-symbol work runs.

Pipelines hand the executor a pure function and a list of items (usually symbol batches);
the executor returns the results in item order. A failure of one item raises in the
caller after the other items finished or were cancelled, so a pipeline never publishes a
partial result without knowing it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from axiom.lifecycle import Closable

T = TypeVar("T")
R = TypeVar("R")
T_contra = TypeVar("T_contra", contravariant=True)
R_co = TypeVar("R_co", covariant=True)


class Worker(Protocol[T_contra, R_co]):
    """A stateful worker: built once per slot (thread or Ray actor), then called per item.

    It holds what is expensive to build — an LLM client, a graph store connection, a bus
    producer — so each item reuses them. ``close()`` is called when the pool ends.
    """

    def __call__(self, item: T_contra, /) -> R_co:
        """Process one item; must be idempotent (an item may run again after a crash)."""

    def close(self) -> None:
        """Release the worker's clients."""


def batched(items: Sequence[T], size: int) -> list[list[T]]:
    """Split ``items`` into consecutive batches of at most ``size`` (the unit of work)."""
    if size < 1:
        raise ValueError("batch size must be >= 1")
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class Executor(Closable, ABC):
    """Runs a function over items in parallel; built by the registry from a URL."""

    url: str
    workers: int

    @abstractmethod
    def map(
        self,
        fn: Callable[[T], R],
        items: Sequence[T],
        *,
        on_done: Callable[[int], None] | None = None,
    ) -> list[R]:
        """``[fn(x) for x in items]`` in parallel, results in item order.

        ``on_done(i)`` is called in the caller's thread as each item finishes (progress
        bars). The first exception is re-raised once every started item has ended.
        """

    @abstractmethod
    def map_workers(
        self,
        factory: Callable[[], Worker[T, R]],
        items: Sequence[T],
        *,
        on_done: Callable[[int], None] | None = None,
    ) -> list[R]:
        """Like :meth:`map`, but items run on ``workers`` stateful workers from ``factory``.

        Local: one worker per thread. Ray: an actor pool, each actor holding its own worker;
        an actor that dies is restarted and its in-flight item re-run, so every item ends
        exactly once in the result (items must be idempotent). ``factory`` must be
        picklable for Ray. The first exception of an item is re-raised after the others
        ended.
        """
