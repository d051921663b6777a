"""events_tracker: market events (jumps, gaps, spikes, highs/lows, drawdowns) of new days.

Triggered by ``axiom://price-updates``: a run covers the days the ingestion runs that
triggered it covered, reading the history before them as context. Detection is mapped
over batches of symbols. Before reading prices it waits for the warehouse consumers.
Updates ``axiom://market-events``.
"""

from __future__ import annotations

from airflow.sdk import dag

from axiom.orchestration import airflow_tasks as t


@dag(
    dag_id="events_tracker",
    schedule=[t.PRICES],
    start_date=t.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=t.DEFAULT_ARGS,
    params=t.dag_params("events"),
    tags=t.tags("events"),
    doc_md=__doc__,
)
def events_tracker() -> None:
    """wait_for_consumers >> plan batches >> detect each batch >> close the run."""
    plan = t.plan_events()
    t.wait_for_consumers("events") >> plan
    outcomes = t.detect_events.expand(symbols=plan)
    t.close_events(outcomes)


events_tracker()
