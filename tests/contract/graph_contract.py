"""The GraphStore contract: every adapter of :class:`axiom.stores.base.GraphStore` passes it.

A subclass provides a ``graph`` fixture yielding an empty store and closes it afterwards.
Only the public port API is used, so a server adapter (Neo4j) subclasses this unchanged.

The sample graph::

    Person:tim-cook -CEO_OF-> Company:AAPL <-LENDS_TO- Company:JPM
    Company:TSM -SUPPLIES-> Company:AAPL -IN_SECTOR-> Sector:Tech
    Company:TSM -SUPPLIES-> Company:NVDA -IN_SECTOR-> Sector:Tech
    Company:NVDA -COMPETES_WITH-> Company:AMD          (AMD is never merged as a node)
"""

from __future__ import annotations

from itertools import pairwise

from axiom.domain.models import Edge, Node
from axiom.stores.base import GraphStore, Neighbor

NODES = [
    Node("Company", "AAPL", {"name": "Apple", "sector": "Technology"}),
    Node("Company", "TSM", {"name": "TSMC"}),
    Node("Company", "NVDA", {"name": "NVIDIA"}),
    Node("Company", "JPM", {"name": "JPMorgan Chase"}),
    Node("Sector", "Tech", {"name": "Information Technology"}),
    Node("Person", "tim-cook", {"name": "Tim Cook"}),
]
EDGES = [
    Edge("Company:TSM", "SUPPLIES", "Company:AAPL", 0.8, {"source": "10-K"}),
    Edge("Company:TSM", "SUPPLIES", "Company:NVDA", 0.6),
    Edge("Company:AAPL", "IN_SECTOR", "Sector:Tech"),
    Edge("Company:NVDA", "IN_SECTOR", "Sector:Tech"),
    Edge("Person:tim-cook", "CEO_OF", "Company:AAPL", 1.0, {"since": 2011}),
    Edge("Company:JPM", "LENDS_TO", "Company:AAPL", 0.25),
    Edge("Company:NVDA", "COMPETES_WITH", "Company:AMD", 0.5),
]
LINKED = {frozenset((e.src, e.dst)) for e in EDGES}


def _ids(neighbors: list[Neighbor]) -> list[tuple[str, int]]:
    return [(n.node.id, n.hops) for n in neighbors]


def _edge_keys(edges: list[Edge]) -> list[tuple[str, str, str]]:
    return [(e.src, e.type, e.dst) for e in edges]


def _is_path(path: list[str]) -> bool:
    return all(frozenset(pair) in LINKED for pair in pairwise(path))


class GraphStoreContract:
    __test__ = False

    def _load(self, graph: GraphStore) -> None:
        assert graph.merge_nodes(NODES) == len(NODES)
        assert graph.merge_edges(EDGES) == len(EDGES)

    # -- merges --------------------------------------------------------------------------
    def test_empty_store(self, graph: GraphStore) -> None:
        counts = graph.counts()
        assert counts.total_nodes == 0
        assert counts.total_relationships == 0
        assert list(graph.edges()) == []
        assert graph.node("Company:AAPL") is None

    def test_merge_is_idempotent(self, graph: GraphStore) -> None:
        self._load(graph)
        counts, digest = graph.counts(), graph.checksum()
        self._load(graph)
        assert graph.counts() == counts
        assert graph.checksum() == digest

    def test_node_round_trips_properties(self, graph: GraphStore) -> None:
        nested = Node("Company", "X", {"name": "X", "tags": ["a", "b"], "meta": {"n": 1.5}})
        graph.merge_nodes([nested])
        assert graph.node("Company:X") == nested

    def test_merge_replaces_node_properties(self, graph: GraphStore) -> None:
        graph.merge_nodes([Node("Company", "AAPL", {"name": "Apple", "hq": "Cupertino"})])
        graph.merge_nodes([Node("Company", "AAPL", {"name": "Apple Inc."})])
        assert graph.node("Company:AAPL") == Node("Company", "AAPL", {"name": "Apple Inc."})
        assert graph.counts().nodes == {"Company": 1}

    def test_merge_replaces_edge_weight_and_properties(self, graph: GraphStore) -> None:
        graph.merge_edges([Edge("Company:A", "SUPPLIES", "Company:B", 0.5, {"x": 1, "y": 2})])
        graph.merge_edges([Edge("Company:A", "SUPPLIES", "Company:B", 0.9, {"x": 3})])
        assert list(graph.edges()) == [Edge("Company:A", "SUPPLIES", "Company:B", 0.9, {"x": 3})]

    def test_merge_creates_bare_endpoints(self, graph: GraphStore) -> None:
        self._load(graph)
        assert graph.node("Company:AMD") == Node("Company", "AMD", {})
        assert graph.counts().nodes == {"Company": 5, "Person": 1, "Sector": 1}

    def test_bare_endpoint_keeps_existing_properties(self, graph: GraphStore) -> None:
        graph.merge_nodes([NODES[0]])
        graph.merge_edges([Edge("Company:AAPL", "IN_SECTOR", "Sector:Tech")])
        assert graph.node("Company:AAPL") == NODES[0]
        graph.merge_nodes([NODES[4]])
        assert graph.node("Sector:Tech") == NODES[4]

    def test_edges_round_trip_and_filter_by_type(self, graph: GraphStore) -> None:
        self._load(graph)
        assert sorted(graph.edges(), key=lambda e: (e.src, e.type, e.dst)) == sorted(
            EDGES, key=lambda e: (e.src, e.type, e.dst)
        )
        supplies = sorted(_edge_keys(list(graph.edges(["SUPPLIES"]))))
        assert supplies == [
            ("Company:TSM", "SUPPLIES", "Company:AAPL"),
            ("Company:TSM", "SUPPLIES", "Company:NVDA"),
        ]
        assert len(list(graph.edges(["SUPPLIES", "CEO_OF"]))) == 3
        assert list(graph.edges(["NO_SUCH_TYPE"])) == []

    # -- traversal -----------------------------------------------------------------------
    def test_neighbors_one_hop_both_directions(self, graph: GraphStore) -> None:
        self._load(graph)
        assert _ids(graph.neighbors("Company:AAPL")) == [
            ("Company:JPM", 1),
            ("Company:TSM", 1),
            ("Person:tim-cook", 1),
            ("Sector:Tech", 1),
        ]

    def test_neighbors_carry_node_properties(self, graph: GraphStore) -> None:
        self._load(graph)
        found = {n.node.id: n.node for n in graph.neighbors("Company:AAPL")}
        assert found["Company:TSM"] == NODES[1]

    def test_neighbors_two_hops_nearest_first(self, graph: GraphStore) -> None:
        self._load(graph)
        assert _ids(graph.neighbors("Company:AAPL", hops=2)) == [
            ("Company:JPM", 1),
            ("Company:TSM", 1),
            ("Person:tim-cook", 1),
            ("Sector:Tech", 1),
            ("Company:NVDA", 2),
        ]
        three = _ids(graph.neighbors("Company:AAPL", hops=3))
        assert three[-1] == ("Company:AMD", 3)
        assert ("Company:AAPL", 0) not in three

    def test_neighbors_by_direction(self, graph: GraphStore) -> None:
        self._load(graph)
        assert _ids(graph.neighbors("Company:AAPL", hops=2, direction="out")) == [
            ("Sector:Tech", 1)
        ]
        assert _ids(graph.neighbors("Company:AAPL", hops=2, direction="in")) == [
            ("Company:JPM", 1),
            ("Company:TSM", 1),
            ("Person:tim-cook", 1),
        ]
        assert _ids(graph.neighbors("Company:TSM", hops=2, direction="out")) == [
            ("Company:AAPL", 1),
            ("Company:NVDA", 1),
            ("Company:AMD", 2),
            ("Sector:Tech", 2),
        ]

    def test_neighbors_by_edge_type(self, graph: GraphStore) -> None:
        self._load(graph)
        assert _ids(graph.neighbors("Company:AAPL", hops=2, edge_types=["SUPPLIES"])) == [
            ("Company:TSM", 1),
            ("Company:NVDA", 2),
        ]
        sector_only = graph.neighbors("Company:AAPL", hops=3, edge_types=["IN_SECTOR"])
        assert _ids(sector_only) == [("Sector:Tech", 1), ("Company:NVDA", 2)]

    def test_neighbors_limit_keeps_the_nearest(self, graph: GraphStore) -> None:
        self._load(graph)
        assert _ids(graph.neighbors("Company:AAPL", hops=3, limit=2)) == [
            ("Company:JPM", 1),
            ("Company:TSM", 1),
        ]
        assert len(graph.neighbors("Company:AAPL", hops=3, limit=5)) == 5

    def test_neighbors_of_unknown_node_is_empty(self, graph: GraphStore) -> None:
        self._load(graph)
        assert graph.neighbors("Company:NOPE", hops=2) == []

    def test_subgraph_collects_nodes_and_edges_among_them(self, graph: GraphStore) -> None:
        self._load(graph)
        nodes, edges = graph.subgraph(["Company:TSM"], hops=1)
        assert sorted(n.id for n in nodes) == ["Company:AAPL", "Company:NVDA", "Company:TSM"]
        assert sorted(_edge_keys(edges)) == [
            ("Company:TSM", "SUPPLIES", "Company:AAPL"),
            ("Company:TSM", "SUPPLIES", "Company:NVDA"),
        ]
        assert {n.id: n for n in nodes}["Company:TSM"] == NODES[1]

    def test_subgraph_of_several_seeds_and_types(self, graph: GraphStore) -> None:
        self._load(graph)
        nodes, edges = graph.subgraph(
            ["Company:AAPL", "Company:NVDA"], hops=1, edge_types=["IN_SECTOR"]
        )
        assert sorted(n.id for n in nodes) == ["Company:AAPL", "Company:NVDA", "Sector:Tech"]
        assert sorted(_edge_keys(edges)) == [
            ("Company:AAPL", "IN_SECTOR", "Sector:Tech"),
            ("Company:NVDA", "IN_SECTOR", "Sector:Tech"),
        ]

    def test_subgraph_edges_keep_weight_and_properties(self, graph: GraphStore) -> None:
        self._load(graph)
        _, edges = graph.subgraph(["Company:AAPL"], hops=1, edge_types=["CEO_OF"])
        assert edges == [Edge("Person:tim-cook", "CEO_OF", "Company:AAPL", 1.0, {"since": 2011})]

    # -- paths ---------------------------------------------------------------------------
    def test_shortest_path_found(self, graph: GraphStore) -> None:
        self._load(graph)
        path = graph.shortest_path("Company:AAPL", "Company:AMD")
        assert path is not None
        assert len(path) == 4
        assert path[0] == "Company:AAPL"
        assert path[-1] == "Company:AMD"
        assert _is_path(path)

    def test_shortest_path_ignores_direction(self, graph: GraphStore) -> None:
        self._load(graph)
        assert graph.shortest_path("Person:tim-cook", "Company:JPM") == [
            "Person:tim-cook",
            "Company:AAPL",
            "Company:JPM",
        ]

    def test_shortest_path_respects_max_hops(self, graph: GraphStore) -> None:
        self._load(graph)
        assert graph.shortest_path("Company:AAPL", "Company:AMD", max_hops=2) is None
        assert graph.shortest_path("Company:AAPL", "Company:AMD", max_hops=3) is not None

    def test_shortest_path_filters_edge_types(self, graph: GraphStore) -> None:
        self._load(graph)
        assert graph.shortest_path(
            "Company:AAPL", "Company:AMD", edge_types=["SUPPLIES", "COMPETES_WITH"]
        ) == ["Company:AAPL", "Company:TSM", "Company:NVDA", "Company:AMD"]
        assert graph.shortest_path(
            "Company:AAPL", "Company:AMD", edge_types=["IN_SECTOR", "COMPETES_WITH"]
        ) == ["Company:AAPL", "Sector:Tech", "Company:NVDA", "Company:AMD"]
        assert graph.shortest_path("Company:AAPL", "Company:AMD", edge_types=["IN_SECTOR"]) is None

    def test_shortest_path_to_unknown_or_disconnected_node(self, graph: GraphStore) -> None:
        self._load(graph)
        graph.merge_nodes([Node("Company", "ALONE")])
        assert graph.shortest_path("Company:AAPL", "Company:ALONE") is None
        assert graph.shortest_path("Company:AAPL", "Company:NOPE") is None

    def test_shortest_path_to_itself(self, graph: GraphStore) -> None:
        self._load(graph)
        assert graph.shortest_path("Company:AAPL", "Company:AAPL") == ["Company:AAPL"]

    # -- counts, deletes, digest ---------------------------------------------------------
    def test_counts_by_label_and_type(self, graph: GraphStore) -> None:
        self._load(graph)
        counts = graph.counts()
        assert counts.nodes == {"Company": 5, "Person": 1, "Sector": 1}
        assert counts.relationships == {
            "CEO_OF": 1,
            "COMPETES_WITH": 1,
            "IN_SECTOR": 2,
            "LENDS_TO": 1,
            "SUPPLIES": 2,
        }
        assert counts.total_nodes == 7
        assert counts.total_relationships == 7

    def test_delete_edges_counts_existing_and_keeps_nodes(self, graph: GraphStore) -> None:
        self._load(graph)
        gone = graph.delete_edges(
            [
                ("Company:TSM", "SUPPLIES", "Company:AAPL"),
                ("Company:TSM", "SUPPLIES", "Company:AAPL"),
                ("Company:AAPL", "SUPPLIES", "Company:TSM"),
            ]
        )
        assert gone == 1
        assert graph.counts().relationships["SUPPLIES"] == 1
        assert graph.node("Company:TSM") == NODES[1]
        assert ("Company:TSM", 1) not in _ids(graph.neighbors("Company:AAPL"))
        assert graph.delete_edges([("Company:TSM", "SUPPLIES", "Company:AAPL")]) == 0
        assert graph.delete_edges([]) == 0

    def test_checksum_ignores_insertion_order(self, graph: GraphStore) -> None:
        self._load(graph)
        forward = graph.checksum()
        graph.clear()
        graph.merge_edges(list(reversed(EDGES))[:3])
        graph.merge_nodes(list(reversed(NODES)))
        graph.merge_edges(list(reversed(EDGES))[3:])
        assert graph.checksum() == forward

    def test_checksum_sees_property_and_weight_changes(self, graph: GraphStore) -> None:
        self._load(graph)
        before = graph.checksum()
        graph.merge_edges([Edge("Company:TSM", "SUPPLIES", "Company:NVDA", 0.7)])
        after_weight = graph.checksum()
        graph.merge_nodes([Node("Company", "TSM", {"name": "TSMC", "country": "TW"})])
        after_props = graph.checksum()
        assert len({before, after_weight, after_props}) == 3

    def test_clear_empties_the_graph(self, graph: GraphStore) -> None:
        empty = graph.checksum()
        self._load(graph)
        assert graph.checksum() != empty
        graph.clear()
        assert graph.counts().total_nodes == 0
        assert graph.counts().total_relationships == 0
        assert list(graph.edges()) == []
        assert graph.checksum() == empty
