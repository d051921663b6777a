"""The one shape of everything that holds resources: ``close()`` and ``with``."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closable:
    """Holds connections, threads or files; ``with obj:`` closes it on the way out.

    Subclasses override :meth:`close`; it must be safe to call twice.
    """

    def close(self) -> None:
        """Release what the object holds (nothing here)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
