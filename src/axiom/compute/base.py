"""The executor port: where per-symbol work runs.

Pipelines hand the executor a pure function and a list of items (usually symbol batches);
the executor returns the results in item order. A failure of one item raises in the
caller after the other items finished or were cancelled, so a pipeline never publishes a
partial result without knowing it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import TypeVar

from axiom.lifecycle import Closable

T = TypeVar("T")
R = TypeVar("R")


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
