"""What every pipeline shares: parameters, context, publisher, progress and run records.

A pipeline is a module with small task functions (``fetch -> compute -> publish``) and a
``run(ctx)`` that chains them. Pipelines never write a store: they publish to the bus and
the consumers write. The one exception is the ``pipeline_runs`` bookkeeping row, written
by :func:`execute` around every run, whoever triggered it.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from axiom.bus.serde import encode
from axiom.domain.topics import TOPICS
from axiom.errors import AxiomError, DateRangeError
from axiom.observability import metrics
from axiom.stores.base import PipelineRun

if TYPE_CHECKING:
    from axiom.bus.base import Producer
    from axiom.runtime import Runtime


@dataclass(frozen=True, slots=True)
class RunParams:
    """Parameters of a run; one object for the whole catalog (unused fields are ignored).

    ``start``/``end`` bound the data a run reads or writes (Airflow passes its data
    interval here); None means everything available.
    """

    universe: str = "all"
    years: int = 5
    seed: int = 7
    start: date | None = None
    end: date | None = None
    source: str = "simulated"  # or a folder of CSV/Parquet files
    window: int = 252
    method: str = "pearson"  # or ledoit_wolf
    top_k: int = 5
    threshold: float = 0.3
    shocks: Mapping[str, float] = field(default_factory=dict)
    full_refresh: bool = False

    def __post_init__(self) -> None:
        if self.years < 1 or self.years > 50:
            raise DateRangeError(f"years must be between 1 and 50, got {self.years}")
        if self.start and self.end and self.start > self.end:
            raise DateRangeError(f"start {self.start} is after end {self.end}")
        if self.window < 20:
            raise DateRangeError(f"correlation window must be >= 20 days, got {self.window}")

    def with_(self, **changes: Any) -> RunParams:
        """A copy with some fields changed."""
        return replace(self, **changes)


def universe_symbols(params: RunParams) -> list[str] | None:
    """Symbols of the run's universe, or None for ``all`` (everything the stores hold).

    Downstream pipelines read the stores through this, so companies ingested from a
    folder of files (outside any index) are included when the universe is ``all``.
    """
    if params.universe.strip().lower() == "all":
        return None
    from axiom.sources.universe import load_universe

    return [c.symbol for c in load_universe(params.universe)]


class TaskProgress(Protocol):
    """A progress bar of one task."""

    def advance(self, n: int = 1) -> None:
        """Add ``n`` units of work done."""


class Progress(Protocol):
    """Where pipelines report long work (the CLI draws rich progress bars)."""

    def task(self, description: str, total: int | None) -> TaskProgress:
        """Start a bar."""


class _NullTask:
    def advance(self, n: int = 1) -> None:
        del n


class NullProgress:
    """Progress that shows nothing (API, Airflow, tests)."""

    def task(self, description: str, total: int | None) -> TaskProgress:
        """A bar that draws nothing."""
        del description, total
        return _NullTask()


@dataclass(slots=True)
class PipelineContext:
    """What a pipeline run gets: the runtime, its parameters, who triggered it."""

    runtime: Runtime
    params: RunParams = field(default_factory=RunParams)
    trigger: str = "cli"
    progress: Progress = field(default_factory=NullProgress)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])


@dataclass(slots=True)
class PipelineResult:
    """Outcome of one run: messages published per topic and a pipeline-specific detail."""

    pipeline: str
    run_id: str
    published: dict[str, int] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    #: ``success``, or ``partial`` when the run stopped early on purpose (an LLM budget)
    status: str = "success"
    errors: int = 0
    message: str = ""

    @property
    def records(self) -> int:
        """Messages published in total."""
        return sum(self.published.values())


class Publisher:
    """Encodes domain payloads in envelopes and sends them; counts per topic.

    ``flush`` must be called before the run reports success (``publishing`` does it).
    """

    def __init__(self, producer: Producer, source: str) -> None:
        self.producer = producer
        self.source = source
        self.counts: dict[str, int] = {}

    def send(self, topic: str, key: str | None, payload: Any) -> None:
        """Publish one message on ``topic`` with the catalog's message type."""
        value = encode(TOPICS[topic].message_type, payload, key=key, source=self.source)
        self.send_raw(topic, key, value)

    def send_raw(self, topic: str, key: str | None, value: bytes) -> None:
        """Publish an already encoded envelope."""
        self.producer.send(topic, value, key=key)
        self.counts[topic] = self.counts.get(topic, 0) + 1

    def flush(self) -> None:
        """Make everything sent durable; update the metrics."""
        self.producer.flush()
        for topic, n in self.counts.items():
            metrics.BUS_PUBLISHED.labels(topic=topic).inc(n)


@contextmanager
def publishing(ctx: PipelineContext, source: str) -> Iterator[Publisher]:
    """A publisher whose messages are flushed when the block ends without error."""
    producer = ctx.runtime.bus.producer(client_id=source)
    pub = Publisher(producer, source)
    try:
        yield pub
        pub.flush()
    finally:
        producer.close()


def execute(
    name: str, fn: Callable[[PipelineContext], PipelineResult], ctx: PipelineContext
) -> PipelineResult:
    """Run ``fn`` with metrics and a ``pipeline_runs`` row (running -> success/failed)."""
    started = datetime.now(UTC)
    t0 = time.perf_counter()
    wh = ctx.runtime.warehouse
    wh.record_run(PipelineRun(ctx.run_id, name, ctx.trigger, "running", started))
    try:
        result = fn(ctx)
    except BaseException as exc:
        elapsed = time.perf_counter() - t0
        wh.record_run(
            PipelineRun(
                ctx.run_id,
                name,
                ctx.trigger,
                "failed",
                started,
                datetime.now(UTC),
                0,
                1,
                elapsed,
                str(exc)[:500]
                if isinstance(exc, AxiomError)
                else f"{type(exc).__name__}: {exc}"[:500],
            )
        )
        metrics.PIPELINE_RUNS.labels(name=name, status="failed").inc()
        metrics.PIPELINE_DURATION.labels(name=name).observe(elapsed)
        raise
    result.duration_s = time.perf_counter() - t0
    wh.record_run(
        PipelineRun(
            ctx.run_id,
            name,
            ctx.trigger,
            result.status,
            started,
            datetime.now(UTC),
            result.records,
            result.errors,
            result.duration_s,
            result.message[:500],
        )
    )
    metrics.PIPELINE_RUNS.labels(name=name, status=result.status).inc()
    metrics.PIPELINE_DURATION.labels(name=name).observe(result.duration_s)
    metrics.PIPELINE_RECORDS.labels(pipeline=name).inc(result.records)
    return result
