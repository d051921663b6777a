"""Warehouse writer: the seed's "PostgreSQL writer" (any SQL warehouse by URL)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from axiom.consumers.runner import Batch, Sink
from axiom.domain.topics import (
    COMPANY_FUNDAMENTALS,
    CORRELATION_UPDATES,
    MARKET_EVENTS,
    PRICE_UPDATES,
    RISK_SCORES,
)

if TYPE_CHECKING:
    from axiom.stores.base import Warehouse


class WarehouseWriter(Sink):
    """Upserts companies, bars, events, correlation edges and risk scores.

    Every table has a natural key, so a re-delivered batch rewrites the same rows.
    """

    name = "warehouse-writer"
    database = "warehouse"
    topics = (PRICE_UPDATES, COMPANY_FUNDAMENTALS, MARKET_EVENTS, CORRELATION_UPDATES, RISK_SCORES)

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def write(self, batch: Batch) -> int:
        """Write each topic's part of the batch with the store's bulk path."""
        w = self.warehouse
        n = 0
        fundamentals = batch.of(COMPANY_FUNDAMENTALS)
        if fundamentals:
            latest = {f.company.symbol: f.company for f in fundamentals}
            n += w.upsert_companies(list(latest.values()))
        if bars := batch.of(PRICE_UPDATES):
            n += w.upsert_prices(bars)
        if events := batch.of(MARKET_EVENTS):
            n += w.upsert_events(events)
        if edges := batch.of(CORRELATION_UPDATES):
            n += w.apply_correlation_edges(edges)
        if scores := batch.of(RISK_SCORES):
            n += w.upsert_risk_scores(scores)
        return n
