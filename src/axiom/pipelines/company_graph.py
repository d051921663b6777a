"""Company graph pipeline: fetch company data -> extract relationships -> update graph.

The three tasks are the seed's ``fetch_company_data >> extract_relationships >>
update_graph``. ``update_graph`` publishes ``graph-mutations``; the graph builder
consumer writes the graph store.
"""

from __future__ import annotations

from collections.abc import Sequence

from axiom.agents.metadata import extract
from axiom.domain.models import Company, GraphMutation
from axiom.domain.topics import GRAPH_MUTATIONS
from axiom.errors import PipelineError
from axiom.pipelines.base import PipelineContext, PipelineResult, publishing, universe_symbols

NAME = "company_graph"


def fetch_company_data(ctx: PipelineContext) -> list[Company]:
    """Companies of the run's universe as the warehouse holds them (ingested first)."""
    companies = ctx.runtime.warehouse.companies(universe_symbols(ctx.params))
    if not companies:
        raise PipelineError(
            f"no companies of universe '{ctx.params.universe}' in the warehouse; "
            "run the ingestion pipeline first (axiom run ingestion)"
        )
    return companies


def extract_relationships(
    ctx: PipelineContext, companies: Sequence[Company]
) -> list[GraphMutation]:
    """Relationships from the metadata (the offline extractor)."""
    return extract(companies)


def update_graph(ctx: PipelineContext, mutations: Sequence[GraphMutation]) -> dict[str, int]:
    """Publish the mutations, keyed by their source node so one node's changes stay ordered."""
    bar = ctx.progress.task("graph mutations", len(mutations))
    with publishing(ctx, NAME) as pub:
        for i, m in enumerate(mutations, 1):
            key = m.node.id if m.node is not None else m.edge.src if m.edge is not None else None
            pub.send(GRAPH_MUTATIONS, key, m.to_payload())
            if i % 1000 == 0:
                bar.advance(1000)
        bar.advance(len(mutations) % 1000)
    return pub.counts


def run(ctx: PipelineContext) -> PipelineResult:
    """All three tasks in order."""
    companies = fetch_company_data(ctx)
    mutations = extract_relationships(ctx, companies)
    published = update_graph(ctx, mutations)
    nodes = sum(1 for m in mutations if m.op == "merge_node")
    return PipelineResult(
        NAME,
        ctx.run_id,
        published,
        {"companies": len(companies), "nodes": nodes, "edges": len(mutations) - nodes},
    )
