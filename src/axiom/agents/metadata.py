"""The offline metadata extractor: relationships derived from real company metadata.

Called by the ``company_graph`` pipeline's ``extract_relationships`` task. Deterministic:
the same companies give the same mutations in the same order, so a re-run publishes
nothing the graph does not already hold. Relationships:

* ``IN_SECTOR`` / ``IN_INDUSTRY`` (Company -> Sector / Industry)
* ``HEADQUARTERED_IN`` (Company -> City), ``LOCATED_IN`` (City -> Country)
* ``MEMBER_OF`` (Company -> Index)
* ``OFFICER_OF`` (Person -> Company, with the roles)
* ``BOARD_INTERLOCK`` (Company -> Company sharing a key person; one edge per pair, a < b)
* ``PEER_OF`` (Company -> Company in the same industries; weight = Jaccard similarity of
  the industry sets; the ``peers`` strongest per company, one edge per pair, a < b)
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from axiom.domain.models import Company, Edge, GraphMutation, Node

PEERS_PER_COMPANY = 10
SOURCE = "metadata"


def _norm(name: str) -> str:
    return re.sub(r"\s+", " ", name).strip()


def _person_key(name: str) -> str:
    return re.sub(r"[^a-z0-9 ]", "", _norm(name).lower())


def _company_node(c: Company) -> Node:
    props = {
        "name": c.name,
        "symbol": c.symbol,
        "isin": c.isin,
        "sector": c.sector,
        "country": c.country,
        "hq_city": c.hq_city,
        "employees": c.employees,
        "revenue": c.revenue,
        "revenue_currency": c.revenue_currency,
    }
    return Node("Company", c.symbol, {k: v for k, v in props.items() if v is not None})


def peer_edges(companies: Sequence[Company], peers: int = PEERS_PER_COMPANY) -> list[Edge]:
    """``PEER_OF`` edges: Jaccard similarity of industry sets, top ``peers`` per company.

    Vectorised with a sparse company x industry matrix; ties are broken by same country,
    then by symbol, so the result is deterministic.
    """
    industries = sorted({i for c in companies for i in c.industries})
    col = {name: j for j, name in enumerate(industries)}
    rows, cols = [], []
    for i, c in enumerate(companies):
        for name in set(c.industries):
            rows.append(i)
            cols.append(col[name])
    n = len(companies)
    m = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, len(industries)))
    sizes = np.asarray(m.sum(axis=1)).ravel()
    inter = (m @ m.T).tocoo()
    keep = inter.row != inter.col
    r, c, v = inter.row[keep], inter.col[keep], inter.data[keep]
    jac = v / (sizes[r] + sizes[c] - v)
    country = np.array([x.country or "" for x in companies])
    score = jac + 1e-3 * (country[r] == country[c])
    order = np.lexsort((c, -score, r))
    r, c, jac = r[order], c[order], jac[order]
    first = np.searchsorted(r, r, side="left")
    rank = np.arange(r.size) - first
    top = rank < peers
    pairs: dict[tuple[int, int], float] = {}
    for a, b, w in zip(r[top].tolist(), c[top].tolist(), jac[top].tolist(), strict=True):
        key = (a, b) if companies[a].symbol < companies[b].symbol else (b, a)
        pairs[key] = w
    return [
        Edge(
            f"Company:{companies[a].symbol}",
            "PEER_OF",
            f"Company:{companies[b].symbol}",
            round(w, 6),
            {"source": SOURCE, "basis": "industries"},
        )
        for (a, b), w in sorted(
            pairs.items(), key=lambda kv: (companies[kv[0][0]].symbol, companies[kv[0][1]].symbol)
        )
    ]


def _interlocks(companies: Sequence[Company]) -> list[Edge]:
    by_person: dict[str, set[str]] = defaultdict(set)
    for c in companies:
        for p in c.key_people:
            by_person[_person_key(p.name)].add(c.symbol)
    shared: dict[tuple[str, str], list[str]] = defaultdict(list)
    for person, symbols in sorted(by_person.items()):
        ordered = sorted(symbols)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1 :]:
                shared[(a, b)].append(person)
    return [
        Edge(
            f"Company:{a}",
            "BOARD_INTERLOCK",
            f"Company:{b}",
            float(len(people)),
            {"source": SOURCE, "people": people},
        )
        for (a, b), people in sorted(shared.items())
    ]


def extract(companies: Sequence[Company], peers: int = PEERS_PER_COMPANY) -> list[GraphMutation]:
    """Graph mutations for ``companies``: node merges first, then edge merges."""
    companies = sorted(companies, key=lambda c: c.symbol)
    nodes: dict[str, Node] = {}
    edges: list[Edge] = []

    def add(node: Node) -> str:
        nodes.setdefault(node.id, node)
        return node.id

    for c in companies:
        cid = add(_company_node(c))
        if c.sector:
            edges.append(Edge(cid, "IN_SECTOR", add(Node("Sector", c.sector, {"name": c.sector}))))
        for ind in sorted(set(c.industries)):
            edges.append(Edge(cid, "IN_INDUSTRY", add(Node("Industry", ind, {"name": ind}))))
        country = c.hq_country or c.country
        if country:
            country_id = add(Node("Country", country, {"name": country}))
            if c.hq_city:
                city_id = add(
                    Node("City", f"{c.hq_city}, {country}", {"name": c.hq_city, "country": country})
                )
                edges.append(Edge(cid, "HEADQUARTERED_IN", city_id))
                edges.append(Edge(city_id, "LOCATED_IN", country_id))
        for index in sorted(set(c.indices)):
            edges.append(Edge(cid, "MEMBER_OF", add(Node("Index", index, {"name": index}))))
        for person in c.key_people:
            pid = add(Node("Person", _person_key(person.name), {"name": _norm(person.name)}))
            edges.append(Edge(pid, "OFFICER_OF", cid, props={"roles": list(person.roles)}))
    edges += _interlocks(companies)
    edges += peer_edges(companies, peers)
    unique = {(e.src, e.type, e.dst): e for e in edges}
    return [GraphMutation("merge_node", node=n) for n in nodes.values()] + [
        GraphMutation("merge_edge", edge=e) for e in unique.values()
    ]
