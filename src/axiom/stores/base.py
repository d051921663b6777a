"""Persistence ports: Warehouse, Cache, GraphStore, VectorIndex.

Consumers are the only writers (every write is an upsert on a natural key, so a
re-delivered batch changes nothing); pipelines, the CLI and the API read. Each port has an
embedded adapter and a server adapter, built by the registry with ``from_url``; one
contract suite per port (``tests/contract``) runs against every adapter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from axiom.domain.models import (
    Company,
    CorrelationEdge,
    Edge,
    MarketEvent,
    Node,
    PriceBars,
    RiskScore,
)
from axiom.lifecycle import Closable


@dataclass(frozen=True, slots=True)
class PipelineRun:
    """One run of a pipeline, from the CLI, Airflow or the API (``pipeline_runs`` table)."""

    run_id: str
    pipeline: str
    trigger: str  # cli | airflow | api | demo
    status: str  # running | success | failed
    started_at: datetime
    finished_at: datetime | None = None
    records: int = 0
    errors: int = 0
    duration_s: float = 0.0
    detail: str = ""


@dataclass(frozen=True, slots=True)
class SymbolStats:
    """Rolling statistics of one symbol kept by the analytics engine."""

    symbol: str
    last_day: date
    last_close: float
    bars: int
    ret_1d: float
    vol_20d: float  # annualised
    high_52w: float
    low_52w: float
    drawdown: float  # from the 52-week high, <= 0


@dataclass(frozen=True, slots=True)
class CloseMatrix:
    """Aligned closes: ``values[t, j]`` = close of ``symbols[j]`` on ``dates[t]`` (NaN gaps)."""

    dates: npt.NDArray[np.datetime64]
    symbols: list[str]
    values: npt.NDArray[np.float64]


class Warehouse(Closable, ABC):
    """The SQL warehouse: companies, prices, events, correlations, risk, runs."""

    url: str

    @abstractmethod
    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent, safe at every start)."""

    # -- writes (consumers only) -------------------------------------------------------
    @abstractmethod
    def upsert_companies(self, companies: Sequence[Company]) -> int:
        """Insert or replace by symbol; returns rows written."""

    @abstractmethod
    def upsert_prices(self, bars: Sequence[PriceBars]) -> int:
        """Insert or replace by (symbol, day); returns rows written."""

    @abstractmethod
    def upsert_events(self, events: Sequence[MarketEvent]) -> int:
        """Insert or replace by event_id; returns rows written."""

    @abstractmethod
    def apply_correlation_edges(self, edges: Sequence[CorrelationEdge]) -> int:
        """Upsert by (a, b, method); an edge with ``removed=True`` deletes it."""

    @abstractmethod
    def upsert_risk_scores(self, scores: Sequence[RiskScore]) -> int:
        """Insert or replace by (scenario_id, symbol)."""

    @abstractmethod
    def upsert_symbol_stats(self, stats: Sequence[SymbolStats]) -> int:
        """Insert or replace by symbol."""

    @abstractmethod
    def record_run(self, run: PipelineRun) -> None:
        """Insert or replace by run_id (a run is recorded at start and again at the end)."""

    @abstractmethod
    def store_extraction(
        self, key: str, *, doc_id: str, company: str, extractor: str, payload: dict[str, Any]
    ) -> None:
        """Keep one document's extraction under its content-hash ``key`` (insert or replace).

        Called by the company-graph agent right after an extractor answered, before anything
        is published, so a crash after a paid call never pays for it again. Not a data
        table: neither ``truncate`` nor a replay touches it.
        """

    @abstractmethod
    def cached_extraction(self, key: str) -> dict[str, Any] | None:
        """The payload stored under ``key``, or None (the document must be extracted)."""

    # -- reads -------------------------------------------------------------------------
    @abstractmethod
    def companies(self, symbols: Sequence[str] | None = None) -> list[Company]:
        """Companies ordered by symbol (all, or those of ``symbols`` that exist)."""

    @abstractmethod
    def price_bars(
        self,
        symbols: Sequence[str] | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> dict[str, PriceBars]:
        """Symbol -> bars in [start, end], dates ascending."""

    @abstractmethod
    def close_matrix(
        self,
        symbols: Sequence[str] | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> CloseMatrix:
        """Closes on the union of dates, symbols sorted."""

    @abstractmethod
    def latest_days(self) -> dict[str, date]:
        """Symbol -> last day with a bar (incremental ingestion)."""

    @abstractmethod
    def events(
        self,
        symbol: str | None = None,
        kinds: Sequence[str] | None = None,
        start: date | None = None,
        end: date | None = None,
        limit: int | None = None,
    ) -> list[MarketEvent]:
        """Events ordered by (day, symbol, kind)."""

    @abstractmethod
    def correlation_edges(self, method: str | None = None) -> list[CorrelationEdge]:
        """Current edges ordered by (a, b)."""

    @abstractmethod
    def risk_scores(self, scenario_id: str) -> list[RiskScore]:
        """Scores of a scenario, largest loss first."""

    @abstractmethod
    def symbol_stats(self, symbols: Sequence[str] | None = None) -> list[SymbolStats]:
        """Stats ordered by symbol."""

    @abstractmethod
    def runs(self, pipeline: str | None = None, limit: int = 50) -> list[PipelineRun]:
        """Most recent runs first."""

    @abstractmethod
    def counts(self) -> dict[str, int]:
        """Table -> row count."""

    @abstractmethod
    def checksums(self) -> dict[str, str]:
        """Table -> digest of its ordered content (replay tests compare these)."""

    @abstractmethod
    def truncate(self) -> None:
        """Delete every row of every data table (not the schema, not pipeline_runs)."""


class Subscription(Closable, ABC):
    """A live channel subscription (pub/sub)."""

    @abstractmethod
    def get(self, timeout_s: float = 1.0) -> bytes | None:
        """Next message, or None after ``timeout_s``."""


class Cache(Closable, ABC):
    """Key-value cache with TTLs and pub/sub (latest bars, graph stats, hot queries)."""

    url: str

    @abstractmethod
    def get(self, key: str) -> bytes | None:
        """Value, or None if absent or expired."""

    @abstractmethod
    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Values in the order of ``keys``."""

    @abstractmethod
    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        """Store; ``ttl_s`` None keeps it until overwritten or deleted."""

    @abstractmethod
    def set_many(self, items: Mapping[str, bytes], ttl_s: float | None = None) -> None:
        """Store many in one round trip."""

    @abstractmethod
    def delete(self, *keys: str) -> int:
        """Remove; returns how many existed."""

    @abstractmethod
    def keys(self, prefix: str = "") -> list[str]:
        """Live keys starting with ``prefix``, sorted."""

    @abstractmethod
    def publish(self, channel: str, message: bytes) -> int:
        """Send to subscribers; returns how many received it."""

    @abstractmethod
    def subscribe(self, channel: str) -> Subscription:
        """Receive messages published on ``channel`` from now on."""

    @abstractmethod
    def clear(self) -> None:
        """Remove every key of this cache's namespace."""


@dataclass(frozen=True, slots=True)
class GraphCounts:
    """Node counts by label and relationship counts by type."""

    nodes: dict[str, int] = field(default_factory=dict)
    relationships: dict[str, int] = field(default_factory=dict)

    @property
    def total_nodes(self) -> int:
        """All nodes."""
        return sum(self.nodes.values())

    @property
    def total_relationships(self) -> int:
        """All relationships."""
        return sum(self.relationships.values())


@dataclass(frozen=True, slots=True)
class Neighbor:
    """A node reached from a start node, with its hop distance."""

    node: Node
    hops: int


class GraphStore(Closable, ABC):
    """The company knowledge graph. Node ids are ``label:key``."""

    url: str

    @abstractmethod
    def merge_nodes(self, nodes: Sequence[Node]) -> int:
        """Upsert by id (properties replaced); returns nodes written."""

    @abstractmethod
    def merge_edges(self, edges: Sequence[Edge]) -> int:
        """Upsert by (src, type, dst); returns edges written.

        Missing endpoint nodes are created bare (label from the id).
        """

    @abstractmethod
    def delete_edges(self, keys: Sequence[tuple[str, str, str]]) -> int:
        """Delete by (src, type, dst); returns how many existed."""

    @abstractmethod
    def node(self, node_id: str) -> Node | None:
        """The node, or None."""

    @abstractmethod
    def neighbors(
        self,
        node_id: str,
        hops: int = 1,
        edge_types: Sequence[str] | None = None,
        direction: str = "both",
        limit: int | None = None,
    ) -> list[Neighbor]:
        """Nodes within ``hops``, nearest first then by id; the start node is excluded.

        ``direction`` is ``both`` (default), ``out`` or ``in``.
        """

    @abstractmethod
    def subgraph(
        self, node_ids: Sequence[str], hops: int = 1, edge_types: Sequence[str] | None = None
    ) -> tuple[list[Node], list[Edge]]:
        """Nodes within ``hops`` of any of ``node_ids`` and the edges among them."""

    @abstractmethod
    def edges(self, edge_types: Sequence[str] | None = None) -> Iterator[Edge]:
        """Every edge (of the given types), for bulk analytics such as risk propagation."""

    @abstractmethod
    def shortest_path(
        self, src: str, dst: str, edge_types: Sequence[str] | None = None, max_hops: int = 6
    ) -> list[str] | None:
        """Node ids from src to dst (undirected), or None if farther than ``max_hops``."""

    @abstractmethod
    def counts(self) -> GraphCounts:
        """Counts by label and by type."""

    @abstractmethod
    def checksum(self) -> str:
        """Digest of all nodes and edges with their properties (replay tests)."""

    @abstractmethod
    def clear(self) -> None:
        """Delete every node and edge."""


@dataclass(frozen=True, slots=True)
class VectorHit:
    """A query result; ``distance`` is smaller for closer documents."""

    id: str
    distance: float
    document: str
    metadata: dict[str, Any]


class VectorIndex(Closable, ABC):
    """Documents with embeddings, searchable by text (company profiles, events)."""

    url: str

    @abstractmethod
    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        documents: Sequence[str],
        metadatas: Sequence[Mapping[str, str | int | float | bool]] | None = None,
    ) -> int:
        """Insert or replace by id; returns documents written."""

    @abstractmethod
    def query(
        self,
        collection: str,
        text: str,
        k: int = 5,
        where: Mapping[str, str | int | float | bool] | None = None,
    ) -> list[VectorHit]:
        """The ``k`` nearest documents, nearest first."""

    @abstractmethod
    def get(self, collection: str, ids: Sequence[str]) -> list[VectorHit]:
        """Documents by id (distance 0), in the order found."""

    @abstractmethod
    def count(self, collection: str) -> int:
        """Documents in ``collection`` (0 if it does not exist)."""

    @abstractmethod
    def delete(self, collection: str, ids: Sequence[str]) -> None:
        """Remove by id; unknown ids are ignored."""

    @abstractmethod
    def reset(self) -> None:
        """Drop every collection."""
