"""The topic catalog: every topic Axiom publishes to, declared once.

The five topics of the seed, ``risk-scores``, and a ``<topic>.dlq`` for each. Bus adapters
create topics from this catalog (partitions, retention); producers and consumers refer to
the constants, never to string literals.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICE_UPDATES = "price-updates"
COMPANY_FUNDAMENTALS = "company-fundamentals"
MARKET_EVENTS = "market-events"
CORRELATION_UPDATES = "correlation-updates"
GRAPH_MUTATIONS = "graph-mutations"
RISK_SCORES = "risk-scores"

DLQ_SUFFIX = ".dlq"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic's shape. ``retention_ms=-1`` keeps everything (replay rebuilds the stores)."""

    name: str
    partitions: int
    message_type: str
    retention_ms: int = -1
    description: str = ""


def dlq_name(topic: str) -> str:
    """Name of the dead-letter topic of ``topic``."""
    return topic + DLQ_SUFFIX


def is_dlq(topic: str) -> bool:
    """True for a dead-letter topic."""
    return topic.endswith(DLQ_SUFFIX)


_MAIN: tuple[TopicSpec, ...] = (
    TopicSpec(PRICE_UPDATES, 6, "price_bars", description="OHLCV bars, many per message"),
    TopicSpec(COMPANY_FUNDAMENTALS, 3, "fundamentals", description="company metadata"),
    TopicSpec(MARKET_EVENTS, 3, "market_event", description="detected market events"),
    TopicSpec(CORRELATION_UPDATES, 3, "correlation_edge", description="changed edges"),
    TopicSpec(GRAPH_MUTATIONS, 3, "graph_mutation", description="node/edge merges"),
    TopicSpec(RISK_SCORES, 3, "risk_score", description="shock propagation results"),
)

#: Every topic, main topics first, then their dead-letter topics (1 partition each).
CATALOG: tuple[TopicSpec, ...] = _MAIN + tuple(
    TopicSpec(dlq_name(t.name), 1, "dead_letter", description=f"poison messages of {t.name}")
    for t in _MAIN
)

TOPICS: dict[str, TopicSpec] = {t.name: t for t in CATALOG}
MAIN_TOPICS: tuple[str, ...] = tuple(t.name for t in _MAIN)
