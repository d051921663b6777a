"""The offline metadata extractor on real universe records."""

from __future__ import annotations

from collections import Counter

from axiom.agents.metadata import extract, peer_edges
from axiom.domain.models import Company, KeyPerson
from axiom.sources.universe import load_universe


def test_extract_dow_jones_is_deterministic_and_complete() -> None:
    companies = load_universe("DOW JONES")
    first = extract(companies)
    assert first == extract(list(reversed(companies)))
    nodes = [m.node for m in first if m.op == "merge_node" and m.node]
    edges = [m.edge for m in first if m.op == "merge_edge" and m.edge]
    labels = Counter(n.label for n in nodes)
    assert labels["Company"] == 30
    assert labels["Index"] >= 3
    types = Counter(e.type for e in edges)
    assert types["MEMBER_OF"] >= 30
    assert types["IN_SECTOR"] == sum(1 for c in companies if c.sector)
    assert types["PEER_OF"] > 0
    # node merges come before the edges that use them
    last_node = max(i for i, m in enumerate(first) if m.op == "merge_node")
    first_edge = min(i for i, m in enumerate(first) if m.op == "merge_edge")
    assert last_node < first_edge
    ids = {n.id for n in nodes}
    assert all(e.src in ids and e.dst in ids for e in edges)


def test_peer_edges_jaccard_and_top_k() -> None:
    cs = [
        Company("A", "A", industries=("x", "y")),
        Company("B", "B", industries=("x", "y")),
        Company("C", "C", industries=("x", "z")),
        Company("D", "D", industries=("q",)),
    ]
    edges = {(e.src, e.dst): e.weight for e in peer_edges(cs, peers=1)}
    assert edges[("Company:A", "Company:B")] == 1.0
    assert ("Company:C", "Company:D") not in edges
    assert all(a < b for a, b in edges)
    assert edges.get(("Company:A", "Company:C"), edges.get(("Company:B", "Company:C"))) == (
        round(1 / 3, 6)
    )


def test_board_interlock_from_shared_person() -> None:
    cs = [
        Company("A", "A", key_people=(KeyPerson("Jane  Doe", ("chair",)),)),
        Company("B", "B", key_people=(KeyPerson("Jane Doe", ("director",)),)),
    ]
    edges = [m.edge for m in extract(cs) if m.edge and m.edge.type == "BOARD_INTERLOCK"]
    assert len(edges) == 1 and edges[0].src == "Company:A" and edges[0].dst == "Company:B"
    assert edges[0].props["people"] == ["jane doe"]
