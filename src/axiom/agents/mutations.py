"""Graph mutations from validated relations: every edge carries its provenance.

Called by the ``emit`` node of the company-graph workflow. Deterministic for the same
accepted relations (``extracted_at`` comes from the extraction cache, not the clock), so a
re-run over unchanged documents publishes mutations the graph already holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from axiom.agents.validate import Accepted
from axiom.agents.vocabulary import RELATION_TYPES, edge_type
from axiom.domain.models import Edge, GraphMutation, Node

SOURCE = "agent"
#: Graph edge types the agent writes (for reading back what a company already has).
AGENT_EDGE_TYPES: tuple[str, ...] = tuple(edge_type(r) for r in RELATION_TYPES)


def best_per_key(accepted: Sequence[Accepted]) -> list[Accepted]:
    """One relation per (src, type, dst): the most confident, then the first seen."""
    best: dict[tuple[str, str, str], Accepted] = {}
    for a in accepted:
        held = best.get(a.key)
        if held is None or a.claim.candidate.confidence > held.claim.candidate.confidence:
            best[a.key] = a
    return [best[k] for k in sorted(best)]


def provenance(a: Accepted, model: str, extracted_at: str) -> dict[str, Any]:
    """The properties of the edge of ``a``: where it was read, by what, and since when.

    ``evidence`` is the whole cited sentence(s) and ``span`` their ``[start, end)`` in the
    document's text (front matter excluded), so ``text[start:end] == evidence``.
    ``valid_from`` is the document's ``date:`` front matter; a document without one gets
    the UTC date of ``extracted_at`` (the first extraction of that text for that company,
    read from the extraction cache) and ``valid_from_source`` says which it is
    (``document`` or ``extracted_at``). Not the file's modification time: a checkout or a
    copy resets it, documents built in memory have none, and it would make a re-run over
    unchanged documents publish different edges. The extraction date is stable, and a
    safe start: the document stated the relation by then.
    """
    c, doc = a.claim.candidate, a.claim.doc
    if doc.valid_from is not None:
        valid_from, valid_from_source = doc.valid_from.isoformat(), "document"
    else:
        valid_from = datetime.fromisoformat(extracted_at).astimezone(UTC).date().isoformat()
        valid_from_source = "extracted_at"
    return {
        "source": SOURCE,
        "subject": a.claim.subject_id,
        "doc_id": doc.doc_id,
        "doc_hash": doc.content_hash[:16],
        "evidence": a.evidence,
        "span": [a.span[0], a.span[1]],
        "counterparty_text": c.counterparty,
        "resolution": a.claim.resolution.method,
        "confidence": round(c.confidence, 4),
        "model": model,
        "extracted_at": extracted_at,
        "valid_from": valid_from,
        "valid_from_source": valid_from_source,
    }


def build(
    accepted: Sequence[Accepted], models: dict[str, str], extracted_at: dict[str, str]
) -> list[GraphMutation]:
    """External-entity node merges first, then one edge merge per relation.

    ``models`` and ``extracted_at`` map a document id to the extractor that read it and
    when. Company endpoints are not merged here: the company graph pipeline owns their
    properties (a missing one is created bare by the graph store).
    """
    nodes: dict[str, Node] = {}
    edges: list[Edge] = []
    for a in best_per_key(accepted):
        res = a.claim.resolution
        if res.kind == "external":
            label, key = res.node_id.split(":", 1)
            nodes.setdefault(
                res.node_id, Node(label, key, {"name": res.canonical_name, "external": True})
            )
        src, rel, dst = a.key
        doc_id = a.claim.doc.doc_id
        props = provenance(a, models[doc_id], extracted_at[doc_id])
        edges.append(Edge(src, edge_type(rel), dst, round(a.claim.candidate.confidence, 4), props))
    return [GraphMutation("merge_node", node=n) for _, n in sorted(nodes.items())] + [
        GraphMutation("merge_edge", edge=e) for e in edges
    ]
