"""The consumer catalog: every sink by name, built from a runtime."""

from __future__ import annotations

from collections.abc import Callable
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

#: consumer name (its group id) -> factory; the order is the order of start-up.
SINKS: dict[str, Callable[[Runtime], Sink]] = {
    WarehouseWriter.name: lambda rt: WarehouseWriter(rt.warehouse),
    CacheUpdater.name: lambda rt: CacheUpdater(rt.cache),
    GraphBuilder.name: lambda rt: GraphBuilder(rt.graph),
    VectorIndexer.name: lambda rt: VectorIndexer(rt.vectors),
    AnalyticsEngine.name: lambda rt: AnalyticsEngine(rt.warehouse),
}

CONSUMER_NAMES: tuple[str, ...] = tuple(SINKS)


def build_sink(name: str, runtime: Runtime) -> Sink:
    """The sink called ``name``; InputError listing the valid names otherwise."""
    try:
        factory = SINKS[name]
    except KeyError:
        raise InputError(
            f"unknown consumer '{name}'; choose from: {', '.join(CONSUMER_NAMES)}"
        ) from None
    return factory(runtime)
