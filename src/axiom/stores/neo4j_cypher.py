"""Cypher of the Neo4j graph store: identifiers, write rows, statements, record decoding.

Used only by :mod:`axiom.stores.neo4j`, which owns the driver and the transactions.

Graph model: every node carries the label ``Node`` (unique constraint on ``Node.id``) plus
its own label, and the properties ``id``, ``label``, ``key`` and ``props`` (the canonical
JSON of :func:`~axiom.stores.graph_common.props_json`, so nested values round-trip and the
checksum text is the embedded store's). Top-level scalar properties are also copied flat
(``n.name``, ``r.rho``) so that ad-hoc Cypher can filter on them. A relationship keeps
``weight`` and ``props`` the same way.

Labels and relationship types cannot be Cypher parameters: rows are grouped by them and
each is checked against :data:`_IDENT` before it is formatted into a statement. Every value
travels as a parameter.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from axiom.domain.models import Edge, Node
from axiom.errors import MessageError
from axiom.stores.graph_common import props_json, split_node_id

NODE_LABEL = "Node"
CONSTRAINT = "CREATE CONSTRAINT axiom_node_id IF NOT EXISTS FOR (n:Node) REQUIRE n.id IS UNIQUE"

# Write plans are index seeks on the unique constraint whatever the statistics say; without
# this, a load into an empty graph replans each statement as the counts grow (measured:
# ~40 % of the server's CPU time for the universe graph in consumer-sized batches).
_WRITE = "CYPHER replan=skip UNWIND $rows AS r "

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_NODE_RESERVED = frozenset({"id", "label", "key", "props"})
_EDGE_RESERVED = frozenset({"weight", "props"})
_INT64 = (-(2**63), 2**63 - 1)

Row = dict[str, Any]
Statement = tuple[str, list[Row]]


def is_ident(name: str) -> bool:
    """True if ``name`` may be formatted into Cypher as a label or relationship type."""
    return _IDENT.fullmatch(name) is not None


def check_label(label: str) -> str:
    """The label, or a MessageError (the graph builder sends the mutation to the DLQ)."""
    if not is_ident(label) or label == NODE_LABEL:
        raise MessageError(
            f"node label {label!r} is not usable in Neo4j "
            f"(need [A-Za-z_][A-Za-z0-9_]*, not '{NODE_LABEL}')"
        )
    return label


def check_type(rel_type: str) -> str:
    """The relationship type, or a MessageError naming the rule it breaks."""
    if not is_ident(rel_type):
        raise MessageError(
            f"relationship type {rel_type!r} is not usable in Neo4j (need [A-Za-z_][A-Za-z0-9_]*)"
        )
    return rel_type


def type_pattern(edge_types: Sequence[str] | None) -> str | None:
    """``:`A`|`B``` for a relationship pattern, ``""`` for any type, None when none can match.

    Read paths call this: a type that is not an identifier cannot exist in the store, so it
    is dropped rather than rejected.
    """
    if edge_types is None:
        return ""
    valid = sorted({t for t in edge_types if is_ident(t)})
    if not valid:
        return None
    return ":" + "|".join(f"`{t}`" for t in valid)


def _flat(props: Mapping[str, Any], reserved: frozenset[str]) -> Row:
    """Top-level scalar properties under plain names, which Neo4j can store as they are."""
    out: Row = {}
    for k, v in props.items():
        if k in reserved or v is None or not is_ident(k):
            continue
        if isinstance(v, bool | float | str) or (
            isinstance(v, int) and _INT64[0] <= v <= _INT64[1]
        ):
            out[k] = v
    return out


def _grouped(rows: Iterable[tuple[str, Row]]) -> dict[str, list[Row]]:
    groups: dict[str, list[Row]] = defaultdict(list)
    for name, row in rows:
        groups[name].append(row)
    return groups


def node_statements(nodes: Sequence[Node]) -> tuple[int, list[Statement], set[str]]:
    """Upsert statements for ``nodes`` (the last of duplicate ids wins), rows sorted by id.

    Returns:
        (distinct ids, statements grouped by label, labels used).

    Raises:
        MessageError: a label is not an identifier; nothing was written.
    """
    last = {n.id: n for n in nodes}
    rows = []
    for node_id in sorted(last):
        n = last[node_id]
        label = check_label(n.label)
        p = {**_flat(n.props, _NODE_RESERVED), "id": node_id, "label": label, "key": n.key}
        p["props"] = props_json(n.props)
        rows.append((label, {"id": node_id, "p": p}))
    groups = _grouped(rows)
    stmts = [
        (
            f"{_WRITE}MERGE (n:Node {{id: r.id}}) SET n = r.p, n:`{label}`",
            part,
        )
        for label, part in sorted(groups.items())
    ]
    return len(last), stmts, set(groups)


def edge_statements(edges: Sequence[Edge]) -> tuple[int, list[Statement], set[str]]:
    """Statements creating missing endpoints bare, then upserting ``edges``.

    Endpoint rows are sorted by id and edge rows by (src, type, dst), so concurrent writers
    take node locks in one order. Duplicate keys keep the last edge.

    Returns:
        (distinct edges, statements: bare endpoints first, labels of the endpoints).

    Raises:
        MessageError: an endpoint id is not ``label:key``, or a label or type is not an
            identifier; nothing was written.
    """
    last = {(e.src, e.type, e.dst): e for e in edges}
    endpoints = sorted({k[0] for k in last} | {k[2] for k in last})
    bare = []
    for node_id in endpoints:
        label, key = split_node_id(node_id)
        bare.append((check_label(label), {"id": node_id, "label": label, "key": key}))
    rels = []
    for k in sorted(last):
        e = last[k]
        p = {**_flat(e.props, _EDGE_RESERVED), "weight": float(e.weight)}
        p["props"] = props_json(e.props)
        rels.append((check_type(e.type), {"s": e.src, "d": e.dst, "p": p}))
    labels = _grouped(bare)
    stmts: list[Statement] = [
        (
            f"{_WRITE}MERGE (n:Node {{id: r.id}}) "
            f"ON CREATE SET n:`{label}`, n.label = r.label, n.key = r.key, n.props = '{{}}'",
            part,
        )
        for label, part in sorted(labels.items())
    ]
    stmts += [
        (
            f"{_WRITE}MATCH (a:Node {{id: r.s}}) MATCH (b:Node {{id: r.d}}) "
            f"MERGE (a)-[e:`{t}`]->(b) SET e = r.p",
            part,
        )
        for t, part in sorted(_grouped(rels).items())
    ]
    return len(last), stmts, set(labels)


def delete_statements(keys: Sequence[tuple[str, str, str]]) -> list[Statement]:
    """One counting delete per relationship type; types that cannot exist are left out."""
    rows = [(t, {"s": s, "d": d}) for s, t, d in sorted(set(keys)) if is_ident(t)]
    return [
        (
            f"{_WRITE}MATCH (:Node {{id: r.s}})-[e:`{t}`]->(:Node {{id: r.d}}) "
            "DELETE e RETURN count(*) AS n",
            part,
        )
        for t, part in sorted(_grouped(rows).items())
    ]


def key_index(label: str) -> str:
    """Index on ``key`` of one label (``MATCH (c:Company {key: 'AAPL'})`` in ad-hoc Cypher)."""
    return f"CREATE INDEX axiom_key_{check_label(label)} IF NOT EXISTS FOR (n:`{label}`) ON (n.key)"


def arrow(direction: str, rel: str) -> str:
    """A relationship pattern between ``(s)`` and ``(m)`` in ``direction``."""
    if direction == "out":
        return f"-[{rel}]->"
    if direction == "in":
        return f"<-[{rel}]-"
    return f"-[{rel}]-"


def neighbors_query(types: str, hops: int, direction: str) -> str:
    """Nodes within ``hops`` of ``$id``, each with its smallest distance, nearest first."""
    pattern = arrow(direction, f"{types}*1..{int(hops)}")
    return (
        "MATCH (s:Node {id: $id}) "
        f"MATCH p = (s){pattern}(m:Node) WHERE m <> s "
        "WITH m, min(length(p)) AS hops "
        "RETURN m.label AS label, m.key AS key, m.props AS props, hops "
        "ORDER BY hops, m.id LIMIT $limit"
    )


def reach_query(types: str, hops: int) -> str:
    """Ids within ``hops`` (either direction) of any node in ``$ids``, seeds included."""
    pattern = arrow("both", f"{types}*0..{int(hops)}")
    return (
        "UNWIND $ids AS sid MATCH (s:Node {id: sid}) "
        f"MATCH (s){pattern}(m:Node) RETURN DISTINCT m.id AS id"
    )


def shortest_query(types: str, max_hops: int) -> str:
    """Ids along one shortest undirected path from ``$src`` to ``$dst``."""
    pattern = arrow("both", f"{types}*..{int(max_hops)}")
    return (
        "MATCH (a:Node {id: $src}) MATCH (b:Node {id: $dst}) "
        f"MATCH p = shortestPath((a){pattern}(b)) "
        "RETURN [n IN nodes(p) | n.id] AS ids"
    )


ALL_NODES = "MATCH (n:Node) RETURN n.id AS id, n.label AS label, n.key AS key, n.props AS props"
ALL_EDGES = (
    "MATCH (a:Node)-[r]->(b:Node) "
    "RETURN a.id AS src, type(r) AS type, b.id AS dst, r.weight AS weight, r.props AS props"
)
NODES_BY_ID = (
    "UNWIND $ids AS i MATCH (n:Node {id: i}) "
    "RETURN n.id AS id, n.label AS label, n.key AS key, n.props AS props"
)


def edges_among_query(types: str) -> str:
    """Edges whose both endpoints are in ``$ids``."""
    return (
        f"MATCH (a:Node)-[r{types}]->(b:Node) WHERE a.id IN $ids AND b.id IN $ids "
        "RETURN a.id AS src, type(r) AS type, b.id AS dst, r.weight AS weight, r.props AS props"
    )


def edge_page_query(types: str) -> str:
    """Edges out of the next ``$n`` nodes after ``$after`` (by id), ordered by key.

    Nodes without such edges still give one row with ``type`` null, so the caller always
    learns where the page of nodes ended.
    """
    return (
        "MATCH (a:Node) WHERE a.id > $after WITH a ORDER BY a.id LIMIT $n "
        f"OPTIONAL MATCH (a)-[r{types}]->(b:Node) "
        "RETURN a.id AS src, type(r) AS type, b.id AS dst, r.weight AS weight, r.props AS props "
        "ORDER BY src, type, dst"
    )


def to_node(label: str, key: str, props: str | None) -> Node:
    """The domain node of a stored record."""
    return Node(label, key, orjson.loads(props) if props else {})


def to_edge(src: str, rel_type: str, dst: str, weight: float | None, props: str | None) -> Edge:
    """The domain edge of a stored record."""
    return Edge(src, rel_type, dst, float(weight if weight is not None else 1.0), _props(props))


def _props(props: str | None) -> dict[str, Any]:
    loaded = orjson.loads(props) if props else {}
    return loaded if isinstance(loaded, dict) else {}


def counts_query(names: Sequence[str], nodes: bool) -> str:
    """One UNION of count-store lookups, a row ``(name, n)`` per label or type."""
    if nodes:
        parts = [f"MATCH (x:`{n}`) RETURN '{n}' AS name, count(x) AS n" for n in names]
    else:
        parts = [f"MATCH ()-[x:`{n}`]->() RETURN '{n}' AS name, count(x) AS n" for n in names]
    return " UNION ALL ".join(parts)
