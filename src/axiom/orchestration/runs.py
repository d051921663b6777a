"""Run records and consumer barriers of orchestrated runs, free of Airflow.

A DAG run spreads one pipeline run over several tasks, so its ``pipeline_runs`` row is
written in steps: :func:`begin_run` by the task that plans the batches, :func:`finish_run`
by the task that closes the run, :func:`fail_run` by the failure callback of whichever
task failed for good. Pipelines that are one task use
:func:`~axiom.pipelines.base.execute` under the same :func:`record_id` instead. Rows have
the same shape and the same metrics as every CLI run.

A barrier is a point in time: the consumers writing the stores a pipeline reads have
caught up with it when each group's committed offset reaches, on every partition, the
first offset written at or after that time (:meth:`EventBus.offsets_for_time`). Work
published before the barrier is then in the stores, whatever is published later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from axiom.bus.base import EventBus
from axiom.consumers.registry import CONSUMER_NAMES, sink_port, sink_topics
from axiom.errors import AxiomError
from axiom.observability import metrics
from axiom.pipelines.catalog import get
from axiom.stores.base import PipelineRun, Warehouse

#: Width of ``pipeline_runs.run_id``.
MAX_RECORD_ID = 64


def record_id(pipeline: str, run_id: str) -> str:
    """The ``pipeline_runs`` key of an orchestrator's run: ``<pipeline>:<run id>``.

    Orchestrator run ids are unique per DAG only, hence the prefix. Ids longer than the
    column keep their head and get a digest of the whole, so they stay unique.
    """
    rid = f"{pipeline}:{run_id}"
    if len(rid) <= MAX_RECORD_ID:
        return rid
    digest = hashlib.blake2b(rid.encode(), digest_size=8).hexdigest()
    return f"{rid[: MAX_RECORD_ID - len(digest) - 1]}~{digest}"


def error_text(error: BaseException | str) -> str:
    """The one line stored for a failure, as :func:`~axiom.pipelines.base.execute` words it."""
    if isinstance(error, str):
        text = error
    elif isinstance(error, AxiomError):
        text = str(error)
    else:
        text = f"{type(error).__name__}: {error}"
    return text[:500]


def begin_run(wh: Warehouse, pipeline: str, rid: str, trigger: str = "airflow") -> PipelineRun:
    """Record ``rid`` as running from now (a retried first task starts it again)."""
    run = PipelineRun(rid, pipeline, trigger, "running", datetime.now(UTC))
    wh.record_run(run)
    return run


def started_at(wh: Warehouse, pipeline: str, rid: str) -> datetime | None:
    """When ``rid`` was recorded as started (None if it never was)."""
    known = [r for r in wh.runs(pipeline, limit=500) if r.run_id == rid]
    return known[0].started_at if known else None


def finish_run(
    wh: Warehouse,
    pipeline: str,
    rid: str,
    published: Mapping[str, int],
    trigger: str = "airflow",
) -> PipelineRun:
    """Record ``rid`` as a success with every message its tasks published.

    The start is the one :func:`begin_run` recorded (now if none was).
    """
    finished = datetime.now(UTC)
    started = started_at(wh, pipeline, rid) or finished
    records = sum(published.values())
    run = PipelineRun(
        rid,
        pipeline,
        trigger,
        "success",
        started,
        finished,
        records,
        0,
        (finished - started).total_seconds(),
        "",
    )
    wh.record_run(run)
    metrics.PIPELINE_RUNS.labels(name=pipeline, status="success").inc()
    metrics.PIPELINE_DURATION.labels(name=pipeline).observe(run.duration_s)
    metrics.PIPELINE_RECORDS.labels(pipeline=pipeline).inc(records)
    return run


def fail_run(
    wh: Warehouse,
    pipeline: str,
    rid: str,
    error: BaseException | str,
    trigger: str = "airflow",
) -> PipelineRun:
    """Record ``rid`` as failed with the error's one line (start: the recorded one, or now)."""
    finished = datetime.now(UTC)
    started = started_at(wh, pipeline, rid) or finished
    run = PipelineRun(
        rid,
        pipeline,
        trigger,
        "failed",
        started,
        finished,
        0,
        1,
        (finished - started).total_seconds(),
        error_text(error),
    )
    wh.record_run(run)
    metrics.PIPELINE_RUNS.labels(name=pipeline, status="failed").inc()
    return run


def consumer_groups(pipeline: str) -> list[str]:
    """The consumers writing the stores ``pipeline`` reads (the catalog's ``reads``)."""
    reads = get(pipeline).reads
    return [name for name in CONSUMER_NAMES if sink_port(name) in reads]


def behind(bus: EventBus, groups: Sequence[str], barrier_ms: int) -> dict[str, int]:
    """Consumer group -> messages published before ``barrier_ms`` it has not committed.

    Zero for every group means the stores they write hold everything published before
    the barrier. Read-only: safe to call from any process, as often as wanted.
    """
    out: dict[str, int] = {}
    for group in groups:
        missing = 0
        for topic in sink_topics(group):
            target = bus.offsets_for_time(topic, barrier_ms)
            done = bus.committed(group, topic)
            missing += sum(max(0, end - done.get(p, 0)) for p, end in target.items())
        out[group] = missing
    return out
