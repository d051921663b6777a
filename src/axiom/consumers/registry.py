"""The consumer catalog: every sink by name, built from a runtime."""

from __future__ import annotations

from typing import TYPE_CHECKING

from axiom.consumers.analytics_engine import AnalyticsEngine
from axiom.consumers.cache_updater import CacheUpdater
from axiom.consumers.graph_builder import GraphBuilder
from axiom.consumers.runner import Sink
from axiom.consumers.vector_indexer import VectorIndexer
from axiom.consumers.warehouse_writer import WarehouseWriter
from axiom.errors import InputError

if TYPE_CHECKING:
    from axiom.runtime import Runtime

#: consumer name (its group id) -> (sink class, the port of the store it writes). Every
#: sink is built from that one store; the order is the order of start-up.
SINKS: dict[str, tuple[type[Sink], str]] = {
    cls.name: (cls, port)
    for cls, port in (
        (WarehouseWriter, "warehouse"),
        (CacheUpdater, "cache"),
        (GraphBuilder, "graph"),
        (VectorIndexer, "vectors"),
        (AnalyticsEngine, "warehouse"),
    )
}

CONSUMER_NAMES: tuple[str, ...] = tuple(SINKS)


def _spec(name: str) -> tuple[type[Sink], str]:
    try:
        return SINKS[name]
    except KeyError:
        raise InputError(
            f"unknown consumer '{name}'; choose from: {', '.join(CONSUMER_NAMES)}"
        ) from None


def sink_port(name: str) -> str:
    """The port (settings field) of the store consumer ``name`` writes."""
    return _spec(name)[1]


def sink_topics(name: str) -> tuple[str, ...]:
    """The topics consumer ``name`` reads (without opening anything)."""
    return _spec(name)[0].topics


def build_sink(name: str, runtime: Runtime) -> Sink:
    """The sink called ``name`` on the runtime's store; InputError for an unknown name."""
    cls, port = _spec(name)
    return cls(getattr(runtime, port))  # type: ignore[call-arg]
