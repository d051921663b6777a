"""Pure domain types and the topic catalog; no I/O, imported by every layer."""

from __future__ import annotations

from axiom.domain.models import (
    Company,
    CorrelationEdge,
    Edge,
    Fundamentals,
    GraphMutation,
    KeyPerson,
    MarketEvent,
    Node,
    PriceBars,
    RiskScore,
)

__all__ = [
    "Company",
    "CorrelationEdge",
    "Edge",
    "Fundamentals",
    "GraphMutation",
    "KeyPerson",
    "MarketEvent",
    "Node",
    "PriceBars",
    "RiskScore",
]
