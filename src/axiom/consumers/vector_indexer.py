"""Vector indexer: the seed's "ChromaDB indexer" (any vector index by URL).

Collections: ``companies`` (one profile per company, id = symbol) and ``market_events``
(one line per event of the kinds in :data:`INDEXED_EVENT_KINDS`, id = event_id). Ids are
natural keys, so re-indexing replaces. Only jumps (the rare large moves) are embedded;
the routine events (52-week extremes, volume spikes, gaps, drawdowns) stay in the
warehouse, where they are queried by filter: embedding all ~70k of the full universe
would take Chroma over a minute on two cores and make the index the slowest consumer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from axiom.consumers.runner import Batch, Sink
from axiom.domain.models import Company, Fundamentals, MarketEvent
from axiom.domain.topics import COMPANY_FUNDAMENTALS, MARKET_EVENTS

if TYPE_CHECKING:
    from axiom.stores.base import VectorIndex

COMPANIES = "companies"
EVENTS = "market_events"
#: Event kinds worth semantic search (the big moves).
INDEXED_EVENT_KINDS = frozenset({"jump"})


def company_profile(c: Company) -> str:
    """The text indexed for a company (also what the agent retrieves as context)."""
    parts = [f"{c.name} ({c.symbol})"]
    if c.sector:
        parts.append(f"sector {c.sector}")
    if c.industries:
        parts.append("industries: " + ", ".join(c.industries))
    where = ", ".join(x for x in (c.hq_city, c.hq_country or c.country) if x)
    if where:
        parts.append(f"headquartered in {where}")
    if c.indices:
        parts.append("member of " + ", ".join(c.indices))
    if c.key_people:
        people = "; ".join(
            f"{p.name} ({', '.join(p.roles)})" if p.roles else p.name for p in c.key_people
        )
        parts.append(f"key people: {people}")
    if c.employees:
        parts.append(f"{c.employees:,} employees")
    return ". ".join(parts) + "."


def event_text(e: MarketEvent) -> str:
    """The text indexed for a market event."""
    label = e.kind.replace("_", " ")
    return f"{e.symbol} {label} on {e.day.isoformat()} (magnitude {e.magnitude:.2f})"


class VectorIndexer(Sink):
    """Indexes company profiles and market events."""

    name = "vector-indexer"
    database = "vectors"
    topics = (COMPANY_FUNDAMENTALS, MARKET_EVENTS)

    def __init__(self, vectors: VectorIndex) -> None:
        self.vectors = vectors

    def wants(self, topic: str, payload: Any) -> bool:
        """Events of the kinds not indexed are skipped before they are validated."""
        if topic != MARKET_EVENTS:
            return True
        return not isinstance(payload, dict) or payload.get("kind") in INDEXED_EVENT_KINDS

    def write(self, batch: Batch) -> int:
        """Upsert the batch's documents, one call per collection."""
        n = 0
        funds: list[Fundamentals] = batch.of(COMPANY_FUNDAMENTALS)
        if funds:
            latest = {f.company.symbol: f.company for f in funds}
            n += self.vectors.upsert(
                COMPANIES,
                list(latest),
                [company_profile(c) for c in latest.values()],
                [
                    {"symbol": c.symbol, "sector": c.sector or "", "country": c.country or ""}
                    for c in latest.values()
                ],
            )
        events: list[MarketEvent] = batch.of(MARKET_EVENTS)
        unique = {e.event_id: e for e in events if e.kind in INDEXED_EVENT_KINDS}
        if unique:
            n += self.vectors.upsert(
                EVENTS,
                list(unique),
                [event_text(e) for e in unique.values()],
                [
                    {"symbol": e.symbol, "kind": e.kind, "day": e.day.isoformat()}
                    for e in unique.values()
                ],
            )
        return n
