"""Backends by URL scheme.

Every port (bus, warehouse, cache, graph, vectors, executor) has a table mapping a URL
scheme to ``"module:Class"`` and the extra that brings its dependencies. Modules are
imported only when a URL asks for them, so a missing extra costs nothing until used, and
then says which ``pip install`` to run. A typo gets the nearest known scheme suggested.

Adapters are built with ``Class.from_url(url, settings)``.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from axiom.errors import ConfigError, MissingExtraError

if TYPE_CHECKING:
    from axiom.settings import Settings


@dataclass(frozen=True, slots=True)
class BackendSpec:
    """Where an adapter lives and which extra installs what it imports."""

    target: str
    extra: str | None = None


#: port -> scheme -> adapter. Later adapters register here and nowhere else.
BACKENDS: dict[str, dict[str, BackendSpec]] = {
    "bus": {
        "embedded": BackendSpec("axiom.bus.embedded:EmbeddedBus"),
        "kafka": BackendSpec("axiom.bus.kafka:KafkaBus", "kafka"),
    },
    "warehouse": {
        "sqlite": BackendSpec("axiom.stores.sqlite:SqliteWarehouse"),
        "postgresql": BackendSpec("axiom.stores.postgres:PostgresWarehouse", "postgres"),
        "postgres": BackendSpec("axiom.stores.postgres:PostgresWarehouse", "postgres"),
    },
    "cache": {
        "memory": BackendSpec("axiom.stores.cache_memory:MemoryCache"),
        "redis": BackendSpec("axiom.stores.redis:RedisCache", "redis"),
        "rediss": BackendSpec("axiom.stores.redis:RedisCache", "redis"),
    },
    "graph": {
        "embedded": BackendSpec("axiom.stores.graph_embedded:EmbeddedGraphStore"),
        "neo4j": BackendSpec("axiom.stores.neo4j:Neo4jGraphStore", "neo4j"),
        "bolt": BackendSpec("axiom.stores.neo4j:Neo4jGraphStore", "neo4j"),
    },
    "vectors": {
        "embedded": BackendSpec("axiom.stores.chroma:ChromaVectorIndex"),
        "http": BackendSpec("axiom.stores.chroma:ChromaVectorIndex"),
        "https": BackendSpec("axiom.stores.chroma:ChromaVectorIndex"),
    },
    "executor": {
        "local": BackendSpec("axiom.compute.local:LocalExecutor"),
        "ray": BackendSpec("axiom.compute.ray:RayExecutor", "ray"),
    },
}


def scheme_of(url: str) -> str:
    """The scheme of ``url`` (``postgresql+psycopg://`` -> ``postgresql``); bare words too."""
    head = url.split("://", 1)[0] if "://" in url else url
    return head.split("+", 1)[0].strip().lower()


def resolve(port: str, url: str) -> BackendSpec:
    """The adapter spec for ``url``, or a ConfigError naming the nearest valid scheme."""
    table = BACKENDS.get(port)
    if table is None:
        raise ConfigError(f"unknown port '{port}'")
    scheme = scheme_of(url)
    if scheme in table:
        return table[scheme]
    near = difflib.get_close_matches(scheme, list(table), n=1, cutoff=0.5)
    known = ", ".join(f"{s}://" for s in sorted(table))
    hint = f"; did you mean '{near[0]}://'?" if near else f"; known: {known}"
    raise ConfigError(f"unknown {port} backend '{url}'{hint}")


def load_class(port: str, url: str) -> Any:
    """Import the adapter class for ``url``; a missing dependency names its extra."""
    spec = resolve(port, url)
    module_name, _, attr = spec.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        ours = exc.name is not None and (exc.name == "axiom" or exc.name.startswith("axiom."))
        if spec.extra and exc.name and not ours:
            raise MissingExtraError(f"{port} backend '{scheme_of(url)}'", spec.extra) from exc
        raise
    return getattr(module, attr)


#: (port, scheme) pairs whose state lives in the memory of one process.
PROCESS_LOCAL: frozenset[tuple[str, str]] = frozenset({("cache", "memory")})


def is_process_local(port: str, url: str) -> bool:
    """True if ``url`` names state that another process cannot see (``memory://``).

    Writers of such a backend must run in the process that reads it.
    """
    return (port, scheme_of(url)) in PROCESS_LOCAL


def open_backend(port: str, url: str, settings: Settings) -> Any:
    """Build the adapter for ``url``; callers own the result and close it."""
    return load_class(port, url).from_url(url, settings)
