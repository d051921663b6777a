"""Graph builder: the seed's "Neo4j graph builder" (any graph store by URL)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from axiom.consumers.runner import Batch, Sink
from axiom.domain.models import CorrelationEdge, Edge, GraphMutation
from axiom.domain.topics import CORRELATION_UPDATES, GRAPH_MUTATIONS
from axiom.observability import metrics

if TYPE_CHECKING:
    from axiom.stores.base import GraphStore

CORRELATED_WITH = "CORRELATED_WITH"


def company_id(symbol: str) -> str:
    """Graph id of a company node."""
    return f"Company:{symbol}"


def correlation_edge(edge: CorrelationEdge) -> Edge:
    """The graph edge of a correlation (weight = |rho|, sign kept in ``rho``)."""
    return Edge(
        company_id(edge.a),
        CORRELATED_WITH,
        company_id(edge.b),
        weight=abs(edge.rho),
        props={
            "rho": edge.rho,
            "method": edge.method,
            "window_end": edge.window_end.isoformat(),
            "window": edge.window,
        },
    )


class GraphBuilder(Sink):
    """Applies graph mutations and correlation edges, in stream order within a batch.

    Nodes are merged before edges of the same batch so that endpoints carry their
    labels and properties; deletions run last. All operations are idempotent.
    """

    name = "graph-builder"
    database = "graph"
    topics = (GRAPH_MUTATIONS, CORRELATION_UPDATES)

    def __init__(self, graph: GraphStore) -> None:
        self.graph = graph

    def write(self, batch: Batch) -> int:
        """Merge nodes, then edges, then delete removed edges."""
        mutations: list[GraphMutation] = batch.of(GRAPH_MUTATIONS)
        nodes = [m.node for m in mutations if m.op == "merge_node" and m.node is not None]
        edges = [m.edge for m in mutations if m.op == "merge_edge" and m.edge is not None]
        deletes = [
            (m.edge.src, m.edge.type, m.edge.dst)
            for m in mutations
            if m.op == "delete_edge" and m.edge is not None
        ]
        for corr in batch.of(CORRELATION_UPDATES):
            e = correlation_edge(corr)
            if corr.removed:
                deletes.append((e.src, e.type, e.dst))
            else:
                edges.append(e)
        n = 0
        if nodes:
            n += self.graph.merge_nodes(nodes)
        if edges:
            n += self.graph.merge_edges(edges)
        if deletes:
            n += self.graph.delete_edges(deletes)
        return n

    def close(self) -> None:
        """Publish the final graph size to the metrics."""
        counts = self.graph.counts()
        metrics.record_graph_counts(counts.nodes, counts.relationships)
