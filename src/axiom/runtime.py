"""The runtime: settings plus the backends they name, opened lazily and closed together.

The CLI, the Airflow tasks, the API and the tests build one ``Runtime`` per process (or per
task) and pass it to pipelines and consumers; nothing else opens a backend. Only the URLs
in the settings decide which adapters are used.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from axiom.domain.topics import CATALOG
from axiom.lifecycle import Closable
from axiom.registry import open_backend
from axiom.settings import Settings

if TYPE_CHECKING:
    from axiom.bus.base import EventBus
    from axiom.compute.base import Executor
    from axiom.stores.base import Cache, GraphStore, VectorIndex, Warehouse


class Runtime(Closable):
    """Lazily opened backends of one process; thread-safe opening, one close for all."""

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._opened: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _get(self, port: str, url: str) -> Any:
        with self._lock:
            if port not in self._opened:
                backend = open_backend(port, url, self.settings)
                if port == "warehouse":
                    backend.migrate()
                elif port == "bus":
                    backend.ensure_topics(CATALOG)
                self._opened[port] = backend
            return self._opened[port]

    @property
    def bus(self) -> EventBus:
        """The event log, with every catalog topic created."""
        return self._get("bus", self.settings.bus)  # type: ignore[no-any-return]

    @property
    def warehouse(self) -> Warehouse:
        """The warehouse, migrated to the newest schema."""
        return self._get("warehouse", self.settings.warehouse_url)  # type: ignore[no-any-return]

    @property
    def cache(self) -> Cache:
        """The cache."""
        return self._get("cache", self.settings.cache)  # type: ignore[no-any-return]

    @property
    def graph(self) -> GraphStore:
        """The graph store."""
        return self._get("graph", self.settings.graph)  # type: ignore[no-any-return]

    @property
    def vectors(self) -> VectorIndex:
        """The vector index."""
        return self._get("vectors", self.settings.vectors)  # type: ignore[no-any-return]

    @property
    def executor(self) -> Executor:
        """The executor for per-symbol work."""
        return self._get("executor", self.settings.executor)  # type: ignore[no-any-return]

    def close(self) -> None:
        """Close every opened backend (reverse order of opening); safe to call twice."""
        with self._lock:
            opened, self._opened = self._opened, {}
        for backend in reversed(list(opened.values())):
            backend.close()
