"""The tasks, assets, schedules and default arguments the DAGs in :mod:`axiom.dags` wire.

Each DAG file names its pipeline and connects these tasks; each task opens its own
runtime, resolves its parameters from the Airflow context
(:mod:`axiom.orchestration.airflow_context`) and calls one function of
:mod:`axiom.orchestration.work`. Nothing here does work at import time: DAG parsing
imports this module and only builds task objects.

A DAG run of a batched pipeline is: a task that records the run and plans the symbol
batches -> one mapped task per batch (``.expand``) -> a task that closes the run record
and emits the pipeline's asset events, whose ``extra`` carries the run's days and
universe to the DAGs they trigger. A failure that exhausts the retries is recorded by
:func:`record_failure`, the ``on_failure_callback`` of every task.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from airflow.sdk import (
    Asset,
    CronDataIntervalTimetable,
    Param,
    get_current_context,
    task,
)

from axiom.domain.topics import (
    COMPANY_FUNDAMENTALS,
    CORRELATION_UPDATES,
    GRAPH_MUTATIONS,
    MARKET_EVENTS,
    PRICE_UPDATES,
    RISK_SCORES,
)
from axiom.orchestration.airflow_sensor import ConsumersCaughtUpSensor

if TYPE_CHECKING:
    from airflow.sdk import Context

    from axiom.orchestration.work import Outcome
    from axiom.pipelines.base import PipelineContext

T = TypeVar("T")
Batches = list[list[str]]
#: How a mapped task instance is labelled in the UI: the first symbol of its batch.
_BATCH_LABEL = "{{ task.op_kwargs['symbols'][0] }}.."

#: Catalog pipeline -> DAG id.
DAG_IDS: dict[str, str] = {
    "ingestion": "market_data_ingestion",
    "company_graph": "company_graph_builder",
    "events": "events_tracker",
    "correlations": "correlation_analysis",
    "risk": "risk_propagation",
}
PIPELINE_OF: dict[str, str] = {dag_id: name for name, dag_id in DAG_IDS.items()}
#: Symbols per mapped task (DAG param ``batch_size``).
BATCH_SIZE = 200
#: First scheduled interval; catchup is off, older days are backfilled on demand.
START_DATE = datetime(2025, 1, 1, tzinfo=UTC)


def topic_asset(topic: str) -> Asset:
    """The asset of a bus topic: updated when a run has published to it."""
    return Asset(name=topic, uri=f"axiom://{topic}", group="axiom")


PRICES = topic_asset(PRICE_UPDATES)
FUNDAMENTALS = topic_asset(COMPANY_FUNDAMENTALS)
EVENTS = topic_asset(MARKET_EVENTS)
CORRELATIONS = topic_asset(CORRELATION_UPDATES)
GRAPH = topic_asset(GRAPH_MUTATIONS)
RISK = topic_asset(RISK_SCORES)


def record_failure(context: Context) -> None:
    """``on_failure_callback`` of every task: mark the run's record as failed.

    Called by Airflow in the task's process once the task failed for good (retries
    exhausted or a sensor timeout). Best effort: if the warehouse cannot be reached the
    callback's error is logged by Airflow and the task stays failed.
    """
    from axiom.orchestration.airflow_context import airflow_settings, run_record_id
    from axiom.orchestration.runs import error_text, fail_run
    from axiom.runtime import Runtime

    pipeline = PIPELINE_OF.get(context["dag"].dag_id)
    if pipeline is None:
        return
    text = f"{context['ti'].task_id}: {error_text(context.get('exception') or 'failed')}"
    with Runtime(airflow_settings()) as rt:
        fail_run(rt.warehouse, pipeline, run_record_id(context, pipeline), text)


#: Retry discipline of every task (the seed's company_graph_builder settings).
DEFAULT_ARGS: dict[str, Any] = {
    "owner": "axiom",
    "retries": 3,
    "retry_delay": timedelta(minutes=5),
    "execution_timeout": timedelta(minutes=30),
    "on_failure_callback": record_failure,
}


def every(cron: str) -> CronDataIntervalTimetable:
    """A cron schedule whose runs each cover the interval since the previous one (UTC)."""
    return CronDataIntervalTimetable(cron, timezone="UTC")


def dag_params(pipeline: str) -> dict[str, Param]:
    """The trigger form of a pipeline's DAG (``--conf`` keys); defaults = scheduled runs."""
    day = ["null", "string"]
    out: dict[str, Param] = {
        "universe": Param("all", type="string", description="index name or 'all'"),
        "start": Param(None, type=day, format="date", description="first day (default: interval)"),
        "end": Param(None, type=day, format="date", description="last day (inclusive)"),
    }
    if pipeline in ("ingestion", "company_graph", "events"):
        out["batch_size"] = Param(BATCH_SIZE, type="integer", minimum=1, description="per task")
    if pipeline == "ingestion":
        out["source"] = Param("simulated", type="string", description="or a CSV/Parquet folder")
        out["seed"] = Param(7, type="integer", description="seed of the simulated market")
    if pipeline == "correlations":
        out["window"] = Param(252, type="integer", minimum=20, description="days of returns")
        out["method"] = Param("pearson", enum=["pearson", "ledoit_wolf"])
        out["top_k"] = Param(5, type="integer", minimum=1)
        out["threshold"] = Param(0.3, type="number", minimum=0, maximum=1)
    if pipeline == "risk":
        out["shocks"] = Param({}, type="object", description="symbol -> loss fraction")
    return out


def tags(pipeline: str) -> list[str]:
    """UI tags of a pipeline's DAG."""
    return ["axiom", pipeline]


# -- helpers shared by the tasks -------------------------------------------------------------


def _items(value: object) -> list[Any]:
    """The values of a mapped task's outputs (a lazy XCom sequence) as a list.

    Indexed up to its length: iterating would probe one offset past the end.
    """
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        raise TypeError(f"expected the outputs of a mapped task, got {value!r}")
    return [value[i] for i in range(len(value))]


def _plan(pipeline: str, planner: Callable[[PipelineContext, int], list[list[str]]]) -> Batches:
    """Record the run as started, then plan its symbol batches."""
    from axiom.orchestration.airflow_context import pipeline_context
    from axiom.orchestration.runs import begin_run

    context = get_current_context()
    size = int(context["params"].get("batch_size") or BATCH_SIZE)
    with pipeline_context(context, pipeline) as ctx:
        begin_run(ctx.runtime.warehouse, pipeline, ctx.run_id)
        return planner(ctx, size)


def _batch(pipeline: str, worker: Callable[[PipelineContext, list[str]], T], batch: list[str]) -> T:
    """Do one batch of a run with ``worker``."""
    from axiom.orchestration.airflow_context import pipeline_context

    with pipeline_context(get_current_context(), pipeline) as ctx:
        return worker(ctx, batch)


def _announce(context: Context, ctx: PipelineContext, pipeline: str, records: int) -> None:
    """Attach the run's days and universe to the asset events this task emits."""
    from axiom.orchestration.params import announcement

    extra = announcement(ctx.params, pipeline, records)
    for outlet in context["task"].outlets:
        if isinstance(outlet, Asset):
            context["outlet_events"][outlet].extra = extra


def _close(pipeline: str, total: Callable[[PipelineContext], Outcome]) -> Outcome:
    """Compute the run's total, record its success, announce it downstream."""
    from axiom.orchestration.airflow_context import pipeline_context
    from axiom.orchestration.runs import finish_run

    context = get_current_context()
    with pipeline_context(context, pipeline) as ctx:
        result = total(ctx)
        finish_run(ctx.runtime.warehouse, pipeline, ctx.run_id, result["published"])
        _announce(context, ctx, pipeline, sum(result["published"].values()))
    return result


def _whole(pipeline: str) -> Outcome:
    """Run a one-task pipeline under its record id (``execute`` records it), announce it."""
    from axiom.orchestration.airflow_context import pipeline_context
    from axiom.orchestration.work import run_whole

    context = get_current_context()
    with pipeline_context(context, pipeline) as ctx:
        result = run_whole(ctx, pipeline)
        _announce(context, ctx, pipeline, sum(result["published"].values()))
    return result


# -- market_data_ingestion -------------------------------------------------------------------


@task
def plan_ingestion() -> Batches:
    """First task of market_data_ingestion: record the run, cut the universe in batches.

    Fails (and is retried) for an unknown universe or an unreachable warehouse.
    """
    from axiom.orchestration.work import plan_ingestion as planner

    return _plan("ingestion", planner)


@task(map_index_template=_BATCH_LABEL, multiple_outputs=False)
def ingest_batch(symbols: list[str]) -> Outcome:
    """Mapped over the batches: fundamentals and the interval's bars of one batch.

    Idempotent: a retry re-sends the same messages and the consumers upsert them. A
    failure fails this batch only; the run closes once every batch succeeded.
    """
    from axiom.orchestration.work import ingest_batch as worker

    return _batch("ingestion", worker, symbols)


@task(outlets=[PRICES, FUNDAMENTALS], multiple_outputs=False)
def close_ingestion(outcomes: object) -> Outcome:
    """Record the run's success; update price-updates and company-fundamentals.

    Runs only when every batch succeeded, so the asset events (which trigger the
    downstream DAGs) always follow a complete, flushed publication.
    """
    from axiom.orchestration.work import merge_outcomes

    return _close("ingestion", lambda ctx: merge_outcomes(_items(outcomes)))


# -- company_graph_builder (the seed's three tasks) ------------------------------------------


@task
def fetch_company_data() -> Batches:
    """Record the run; batches of the companies the warehouse holds.

    Fails while the warehouse holds none of the universe's companies (ingestion has not
    landed yet); the retries give it time to.
    """
    from axiom.orchestration.work import plan_graph

    return _plan("company_graph", plan_graph)


@task(map_index_template=_BATCH_LABEL)
def extract_relationships(symbols: list[str]) -> list[dict[str, Any]]:
    """Mapped over the batches: the graph mutations one batch of companies owns.

    Deterministic: a retry returns the same mutations. Publishes nothing.
    """
    from axiom.orchestration.work import extract_batch

    return _batch("company_graph", extract_batch, symbols)


@task(outlets=[GRAPH], multiple_outputs=False)
def update_graph(mutations: object) -> Outcome:
    """Publish every batch's mutations once; record the run; update graph-mutations.

    Merges are idempotent: a retry after a partial publication re-sends them all.
    """
    from axiom.orchestration.work import publish_graph

    return _close("company_graph", lambda ctx: publish_graph(ctx, _items(mutations)))


# -- events_tracker --------------------------------------------------------------------------


@task
def plan_events() -> Batches:
    """Record the run; batches of the universe's symbols with stored bars (none: fails)."""
    from axiom.orchestration.work import plan_events as planner

    return _plan("events", planner)


@task(map_index_template=_BATCH_LABEL, multiple_outputs=False)
def detect_events(symbols: list[str]) -> Outcome:
    """Mapped over the batches: detect and publish the interval's events of one batch.

    Event ids are natural keys: a retry re-publishes the same events, nothing doubles.
    """
    from axiom.orchestration.work import detect_batch

    return _batch("events", detect_batch, symbols)


@task(outlets=[EVENTS], multiple_outputs=False)
def close_events(outcomes: object) -> Outcome:
    """Record the run's success; update market-events."""
    from axiom.orchestration.work import merge_outcomes

    return _close("events", lambda ctx: merge_outcomes(_items(outcomes)))


# -- correlation_analysis and risk_propagation -----------------------------------------------


@task(outlets=[CORRELATIONS], multiple_outputs=False)
def compute_correlations() -> Outcome:
    """Correlations over the window ending on the run's last day; publish the changes.

    One task: the matrix is one computation. A re-run on the same data publishes nothing.
    """
    return _whole("correlations")


@task(outlets=[RISK], multiple_outputs=False)
def propagate_shocks() -> Outcome:
    """DebtRank of the scenario (``shocks`` param, default: the most connected companies).

    The scenario id comes from the shocks: a re-run replaces the scenario's scores.
    """
    return _whole("risk")


def wait_for_consumers(pipeline: str) -> ConsumersCaughtUpSensor:
    """The sensor (task ``wait_for_consumers``) that guards the store reads of a DAG."""
    return ConsumersCaughtUpSensor(pipeline=pipeline)
