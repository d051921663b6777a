"""SQL of the embedded graph store: schema, statements and set-based traversal steps.

Used only by :mod:`axiom.stores.graph_embedded`, which owns the connection and the
transactions; every function here runs inside a transaction it is handed.

Both tables are ``WITHOUT ROWID``: an edge lookup by ``src`` reads one contiguous range of
the primary key, and the ``dst`` index (which carries the key columns) covers inbound
lookups without touching the table. A traversal step is one query for a whole frontier
(``WHERE src IN (...)`` in chunks), never one query per node.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from axiom.domain.models import Node
from axiom.errors import ConfigError
from axiom.stores.graph_common import chunks

if TYPE_CHECKING:
    from axiom.settings import Settings

CHUNK = 4000  # ids per IN (...) list; "both" binds them twice, far below SQLite's limit
PAGE = 10_000  # edges per page when iterating

SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    key TEXT NOT NULL,
    props TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS edges (
    src TEXT NOT NULL,
    type TEXT NOT NULL,
    dst TEXT NOT NULL,
    weight REAL NOT NULL,
    props TEXT NOT NULL,
    PRIMARY KEY (src, type, dst)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS edges_dst ON edges (dst);
CREATE INDEX IF NOT EXISTS edges_type ON edges (type);
"""

UPSERT_NODE = (
    "INSERT INTO nodes (id, label, key, props) VALUES (?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET label = excluded.label, key = excluded.key, "
    "props = excluded.props"
)
BARE_NODE = (
    "INSERT INTO nodes (id, label, key, props) VALUES (?, ?, ?, '{}') ON CONFLICT DO NOTHING"
)
UPSERT_EDGE = (
    "INSERT INTO edges (src, type, dst, weight, props) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (src, type, dst) DO UPDATE SET weight = excluded.weight, props = excluded.props"
)
DELETE_EDGE = "DELETE FROM edges WHERE src = ? AND type = ? AND dst = ?"


def db_path(url: str, settings: Settings) -> Path:
    """File of an ``embedded://`` URL: AXIOM_HOME/graph.db, an absolute path, or relative.

    Raises:
        ConfigError: the URL has another scheme.
    """
    scheme, _, rest = url.partition("://")
    if scheme.strip().lower() != "embedded":
        raise ConfigError(f"embedded graph store needs an embedded:// URL, got '{url}'")
    if not rest.strip("/"):
        return settings.home_dir / "graph.db"
    path = Path(rest)
    return path if path.is_absolute() else settings.home_dir / path


def marks(n: int) -> str:
    """``n`` SQL parameter placeholders."""
    return ",".join("?" * n)


def type_clause(edge_types: Sequence[str] | None) -> tuple[str, list[str]]:
    """``AND type IN (...)`` and its parameters; empty when every type is allowed."""
    if edge_types is None:
        return "", []
    types = sorted(set(edge_types))
    return f" AND type IN ({marks(len(types))})", types


def fetch_nodes(db: sqlite3.Connection, ids: Sequence[str]) -> dict[str, Node]:
    """Id -> node for those of ``ids`` that exist."""
    out: dict[str, Node] = {}
    for part in chunks(ids, CHUNK):
        sql = f"SELECT id, label, key, props FROM nodes WHERE id IN ({marks(len(part))})"  # noqa: S608
        for node_id, label, key, props in db.execute(sql, list(part)):
            out[node_id] = Node(label, key, orjson.loads(props))
    return out


def _edge_sql(direction: str, n: int, tc: str, pairs: bool) -> str:
    """SQL of one traversal step from ``n`` frontier ids.

    Rows are ``(from, to)`` when ``pairs`` is set (path search needs the parent), else
    just ``to``: one column is markedly cheaper to bring into Python.
    """
    ph = marks(n)
    out_cols, in_cols = ("src, dst", "dst, src") if pairs else ("dst", "src")
    out_sql = f"SELECT {out_cols} FROM edges WHERE src IN ({ph}){tc}"  # noqa: S608
    in_sql = f"SELECT {in_cols} FROM edges WHERE dst IN ({ph}){tc}"  # noqa: S608
    if direction == "out":
        return out_sql
    if direction == "in":
        return in_sql
    return f"{out_sql} UNION ALL {in_sql}"


def step_pairs(
    db: sqlite3.Connection, frontier: Sequence[str], edge_types: Sequence[str] | None
) -> list[tuple[str, str]]:
    """``(from, to)`` for every edge touching the frontier, either direction."""
    tc, types = type_clause(edge_types)
    rows: list[tuple[str, str]] = []
    for part in chunks(frontier, CHUNK):
        params = [*part, *types]
        rows.extend(db.execute(_edge_sql("both", len(part), tc, True), params * 2))
    return rows


def step_ids(
    db: sqlite3.Connection,
    frontier: Sequence[str],
    direction: str,
    edge_types: Sequence[str] | None,
) -> set[str]:
    """Ids one edge away from the frontier in ``direction`` (``both``, ``out``, ``in``)."""
    tc, types = type_clause(edge_types)
    out: set[str] = set()
    for part in chunks(frontier, CHUNK):
        params = [*part, *types]
        sql = _edge_sql(direction, len(part), tc, False)
        out.update(r[0] for r in db.execute(sql, params * 2 if direction == "both" else params))
    return out


def reach(
    db: sqlite3.Connection,
    starts: Iterable[str],
    hops: int,
    edge_types: Sequence[str] | None,
    direction: str,
    stop_after: int | None = None,
) -> dict[str, int]:
    """Breadth-first distances from ``starts`` (distance 0) up to ``hops``.

    Stops early once more than ``stop_after`` nodes are known, since further layers could
    not enter a ``limit``-ed answer ordered by distance. ``edge_types=[]`` allows no edge.
    """
    dist = dict.fromkeys(starts, 0)
    frontier = sorted(dist)
    if edge_types is not None and not edge_types:
        return dist
    for hop in range(1, hops + 1):
        if not frontier or (stop_after is not None and len(dist) > stop_after):
            break
        fresh = step_ids(db, frontier, direction, edge_types) - dist.keys()
        for n in fresh:
            dist[n] = hop
        frontier = sorted(fresh)
    return dist
