"""Embedded graph store on SQLite (``embedded://``).

``embedded://`` keeps the graph in ``AXIOM_HOME/graph.db``; ``embedded:///abs/path.db``
picks the file. The database runs in WAL mode, so the CLI or the API in another process
reads what the graph builder consumer is writing, without blocking it.

Two tables: ``nodes(id, label, key, props)`` and ``edges(src, type, dst, weight, props)``
keyed by ``(src, type, dst)``, with indexes on ``dst`` and ``type``; the SQL lives in
:mod:`axiom.stores.graph_embedded_sql`. Traversals are breadth-first with one set-based
query per hop, not one query per node.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from axiom.domain.models import Edge, Node
from axiom.errors import BackendError, BackendUnavailableError
from axiom.stores.base import GraphCounts, GraphStore, Neighbor
from axiom.stores.graph_common import (
    bidirectional_path,
    check_direction,
    chunks,
    graph_digest,
    props_json,
    split_node_id,
)
from axiom.stores.graph_embedded_sql import (
    BARE_NODE,
    CHUNK,
    DELETE_EDGE,
    PAGE,
    SCHEMA,
    UPSERT_EDGE,
    UPSERT_NODE,
    db_path,
    fetch_nodes,
    marks,
    reach,
    step_pairs,
    type_clause,
)

if TYPE_CHECKING:
    from axiom.settings import Settings


class EmbeddedGraphStore(GraphStore):
    """The :class:`~axiom.stores.base.GraphStore` port on a SQLite file.

    Built by the registry from ``AXIOM_GRAPH=embedded://``. The graph builder consumer
    writes (every write is one transaction, so a crash leaves the batch all-or-nothing
    and a re-delivered batch changes nothing); pipelines, the CLI and the API read.
    One instance may be shared by threads; several processes may open the same file.
    """

    def __init__(self, path: Path, url: str | None = None) -> None:
        self.url = url or f"embedded://{path}"
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                path, timeout=30.0, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA cache_size=-65536")
            conn.executescript(SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise BackendUnavailableError(
                f"graph store {self.url} cannot be opened: {exc}"
            ) from exc
        self._conn: sqlite3.Connection | None = conn
        self._lock = threading.RLock()

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> EmbeddedGraphStore:
        """Open (creating if needed) the database of ``url``; called by the registry."""
        return cls(db_path(url, settings), url)

    # -- transactions --------------------------------------------------------------------
    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise BackendUnavailableError(f"graph store {self.url} is closed")
        return self._conn

    @contextmanager
    def _tx(self, write: bool) -> Iterator[sqlite3.Connection]:
        """One transaction: IMMEDIATE for writes (no lock-upgrade deadlock), else a snapshot.

        Raises:
            BackendError: SQLite failed, e.g. another process held the write lock for
                longer than the 30 s busy timeout; the transaction was rolled back.
        """
        with self._lock:
            db = self._db
            try:
                db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield db
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
                db.execute("COMMIT")
            except sqlite3.OperationalError as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise BackendError(f"graph store {self.url}: {exc}") from exc

    # -- writes --------------------------------------------------------------------------
    def merge_nodes(self, nodes: Sequence[Node]) -> int:
        """Upsert by id, replacing label, key and properties; returns distinct ids written."""
        rows = {n.id: (n.label, n.key, props_json(n.props)) for n in nodes}
        if not rows:
            return 0
        with self._tx(write=True) as db:
            db.executemany(UPSERT_NODE, [(i, *rows[i]) for i in sorted(rows)])
        return len(rows)

    def merge_edges(self, edges: Sequence[Edge]) -> int:
        """Upsert by (src, type, dst) in one transaction; returns distinct edges written.

        Endpoints that are not nodes yet are created bare, with the label taken from the
        id. Every id is validated before anything is written.

        Raises:
            MessageError: an endpoint id is not ``label:key``; nothing was written.
        """
        rows = {(e.src, e.type, e.dst): (float(e.weight), props_json(e.props)) for e in edges}
        if not rows:
            return 0
        endpoints = {s for s, _, _ in rows} | {d for _, _, d in rows}
        bare = [(i, *split_node_id(i)) for i in sorted(endpoints)]
        with self._tx(write=True) as db:
            db.executemany(BARE_NODE, bare)
            # Key order turns random B-tree inserts into appends: about twice as fast.
            db.executemany(UPSERT_EDGE, [(*k, *rows[k]) for k in sorted(rows)])
        return len(rows)

    def delete_edges(self, keys: Sequence[tuple[str, str, str]]) -> int:
        """Delete by (src, type, dst); returns how many existed. Endpoint nodes stay."""
        unique = sorted(set(keys))
        if not unique:
            return 0
        with self._tx(write=True) as db:
            cur = db.executemany(DELETE_EDGE, unique)
            return max(cur.rowcount, 0)

    def clear(self) -> None:
        """Delete every node and edge (the schema stays)."""
        with self._tx(write=True) as db:
            db.execute("DELETE FROM edges")
            db.execute("DELETE FROM nodes")

    # -- reads ---------------------------------------------------------------------------
    def node(self, node_id: str) -> Node | None:
        """The node with its properties, or None."""
        with self._tx(write=False) as db:
            found = fetch_nodes(db, [node_id])
        return found.get(node_id)

    def neighbors(
        self,
        node_id: str,
        hops: int = 1,
        edge_types: Sequence[str] | None = None,
        direction: str = "both",
        limit: int | None = None,
    ) -> list[Neighbor]:
        """Nodes within ``hops`` of ``node_id``, nearest first then by id, start excluded.

        Raises:
            InputError: ``direction`` is not ``both``, ``out`` or ``in``.
        """
        check_direction(direction)
        if hops < 1 or (limit is not None and limit <= 0):
            return []
        with self._tx(write=False) as db:
            dist = reach(db, [node_id], hops, edge_types, direction, limit)
            del dist[node_id]
            ranked = sorted(dist, key=lambda n: (dist[n], n))
            if limit is not None:
                ranked = ranked[:limit]
            nodes = fetch_nodes(db, ranked)
        return [Neighbor(nodes[n], dist[n]) for n in ranked if n in nodes]

    def subgraph(
        self, node_ids: Sequence[str], hops: int = 1, edge_types: Sequence[str] | None = None
    ) -> tuple[list[Node], list[Edge]]:
        """Nodes within ``hops`` of ``node_ids`` and the edges among them.

        Traversal ignores direction; ids that are not nodes are left out. Nodes come sorted
        by id, edges (only of ``edge_types`` when given) by (src, type, dst).
        """
        tc, types = type_clause(edge_types)
        with self._tx(write=False) as db:
            seeds = fetch_nodes(db, sorted(set(node_ids)))
            dist = reach(db, seeds, max(hops, 0), edge_types, "both")
            nodes = fetch_nodes(db, sorted(dist))
            ids = sorted(nodes)
            edges: list[Edge] = []
            if edge_types is None or edge_types:
                for part in chunks(ids, CHUNK):
                    sql = (
                        "SELECT src, type, dst, weight, props FROM edges "  # noqa: S608
                        f"WHERE src IN ({marks(len(part))}){tc}"
                    )
                    for s, t, d, w, p in db.execute(sql, [*part, *types]):
                        if d in nodes:
                            edges.append(Edge(s, t, d, w, orjson.loads(p)))
        edges.sort(key=lambda e: (e.src, e.type, e.dst))
        return [nodes[i] for i in ids], edges

    def edges(self, edge_types: Sequence[str] | None = None) -> Iterator[Edge]:
        """Every edge (of ``edge_types``) ordered by (src, type, dst), read page by page.

        Each page is its own read, so a long iteration never blocks writers; edges
        written meanwhile may or may not appear.
        """
        tc, types = type_clause(edge_types)
        if edge_types is not None and not types:
            return
        if len(types) > 1:
            # Several types: walk the primary key and filter (``+type`` keeps the planner off
            # the type index, whose order would need a sort of the whole rest every page).
            tc = tc.replace("type IN", "+type IN")
        after: tuple[str, str, str] = ("", "", "")
        sql = (
            "SELECT src, type, dst, weight, props FROM edges "  # noqa: S608
            f"WHERE (src, type, dst) > (?, ?, ?){tc} ORDER BY src, type, dst LIMIT {PAGE}"
        )
        while True:
            with self._tx(write=False) as db:
                page = db.execute(sql, [*after, *types]).fetchall()
            for s, t, d, w, p in page:
                yield Edge(s, t, d, w, orjson.loads(p))
            if len(page) < PAGE:
                return
            last = page[-1]
            after = (last[0], last[1], last[2])

    def shortest_path(
        self, src: str, dst: str, edge_types: Sequence[str] | None = None, max_hops: int = 6
    ) -> list[str] | None:
        """Node ids of a shortest undirected path, or None beyond ``max_hops`` or unknown."""
        with self._tx(write=False) as db:
            if src == dst:
                return [src] if fetch_nodes(db, [src]) else None
            if edge_types is not None and not edge_types:
                return None

            return bidirectional_path(
                src, dst, lambda frontier: step_pairs(db, frontier, edge_types), max_hops
            )

    def counts(self) -> GraphCounts:
        """Nodes by label and edges by type (GROUP BY), keys sorted."""
        with self._tx(write=False) as db:
            labels = db.execute("SELECT label, COUNT(*) FROM nodes GROUP BY label ORDER BY label")
            nodes = {str(k): int(v) for k, v in labels}
            types = db.execute("SELECT type, COUNT(*) FROM edges GROUP BY type ORDER BY type")
            rels = {str(k): int(v) for k, v in types}
        return GraphCounts(nodes=nodes, relationships=rels)

    def checksum(self) -> str:
        """:func:`~axiom.stores.graph_common.graph_digest` of one consistent snapshot."""
        with self._tx(write=False) as db:
            nodes = db.execute("SELECT id, label, key, props FROM nodes ORDER BY id")
            edges = db.execute(
                "SELECT src, type, dst, weight, props FROM edges ORDER BY src, type, dst"
            )
            return graph_digest(nodes, edges)

    def close(self) -> None:
        """Close the connection; safe to call twice. Later calls raise BackendUnavailableError."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
