"""Every Prometheus metric Axiom exports, defined once.

Names follow the seed design (``pipeline_runs_total``, ``records_processed_total``,
``neo4j_nodes_total``, ``claude_api_calls_total`` ...) under the ``axiom_`` namespace.
Labels never carry a symbol or another high-cardinality value. Pipelines, consumers and
the bus update these; ``serve(port)`` exposes them on ``/metrics``.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

NS = "axiom"

# -- pipelines (seed: pipeline_runs_total, pipeline_duration_seconds, records_processed_total)
PIPELINE_RUNS = Counter(
    "pipeline_runs", "Pipeline runs by outcome", ["name", "status"], namespace=NS
)
PIPELINE_DURATION = Histogram(
    "pipeline_duration_seconds",
    "Wall time of a pipeline run",
    ["name"],
    namespace=NS,
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800),
)
PIPELINE_RECORDS = Counter(
    "pipeline_records_processed", "Records a pipeline produced", ["pipeline"], namespace=NS
)
RECORDS_PROCESSED = Counter(
    "records_processed", "Records written to a store", ["pipeline", "database"], namespace=NS
)

# -- bus and consumers
BUS_PUBLISHED = Counter("bus_published_messages", "Messages published", ["topic"], namespace=NS)
CONSUMER_MESSAGES = Counter(
    "consumer_messages", "Messages a consumer processed", ["consumer"], namespace=NS
)
CONSUMER_DLQ = Counter(
    "consumer_dlq_messages",
    "Poison messages sent to a dead-letter topic",
    ["consumer"],
    namespace=NS,
)
CONSUMER_LAG = Gauge(
    "consumer_lag_messages",
    "Messages not yet committed by a consumer group",
    ["consumer"],
    namespace=NS,
)
CONSUMER_BATCH_SECONDS = Histogram(
    "consumer_batch_seconds",
    "Time to decode, write and commit one batch",
    ["consumer"],
    namespace=NS,
    buckets=(0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

# -- graph (seed: neo4j_nodes_total{label}, neo4j_relationships_total{type}, neo4j_graph_size)
GRAPH_NODES = Gauge("neo4j_nodes_total", "Graph nodes by label", ["label"], namespace=NS)
GRAPH_RELATIONSHIPS = Gauge(
    "neo4j_relationships_total", "Graph relationships by type", ["type"], namespace=NS
)
GRAPH_SIZE = Gauge("neo4j_graph_size", "Graph nodes / edges", ["type"], namespace=NS)

# -- agents and LLM (seed: langgraph_agent_calls, claude_api_calls_total, claude_api_cost_dollars)
AGENT_CALLS = Counter(
    "langgraph_agent_calls", "Agent (workflow node) calls", ["agent", "pipeline"], namespace=NS
)
AGENT_SECONDS = Histogram(
    "langgraph_agent_seconds",
    "Wall time of one workflow node call",
    ["agent"],
    namespace=NS,
    buckets=(0.001, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60),
)
AGENT_RELATIONS = Counter(
    "agent_relations",
    "Extracted relationships by outcome (accepted, rejected_<reason>)",
    ["outcome"],
    namespace=NS,
)
AGENT_CACHE = Counter(
    "agent_extraction_cache", "Extraction cache look-ups by result", ["result"], namespace=NS
)
CLAUDE_CALLS = Counter("claude_api_calls", "Claude API calls", ["model"], namespace=NS)
CLAUDE_COST = Counter(
    "claude_api_cost_dollars", "Claude API spend in dollars", ["pipeline"], namespace=NS
)
CLAUDE_TOKENS = Counter(
    "claude_api_tokens", "Claude API tokens", ["model", "pipeline", "direction"], namespace=NS
)
CLAUDE_RETRIES = Counter(
    "claude_api_retries", "Claude API retries by reason", ["model", "reason"], namespace=NS
)
CLAUDE_LATENCY = Histogram(
    "claude_api_latency_seconds",
    "Latency of one Claude API request",
    ["model"],
    namespace=NS,
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 30, 60),
)


def serve(port: int, addr: str = "127.0.0.1") -> None:
    """Expose ``/metrics`` on ``addr:port`` from a daemon thread (CLI ``--metrics-port``)."""
    start_http_server(port, addr=addr)


def record_graph_counts(nodes: dict[str, int], relationships: dict[str, int]) -> None:
    """Set the graph gauges from a store's counts (called after graph writes)."""
    for label, n in nodes.items():
        GRAPH_NODES.labels(label=label).set(n)
    for rtype, n in relationships.items():
        GRAPH_RELATIONSHIPS.labels(type=rtype).set(n)
    GRAPH_SIZE.labels(type="nodes").set(sum(nodes.values()))
    GRAPH_SIZE.labels(type="edges").set(sum(relationships.values()))
