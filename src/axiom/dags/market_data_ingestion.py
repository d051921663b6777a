"""market_data_ingestion: the universe's prices and fundamentals of each day, in batches.

Daily. A run publishes exactly its data interval's bars (a backfill of a day re-sends
that day, nothing else) and the fundamentals of every company, in batches of symbols
mapped over parallel tasks. Its success updates the assets ``axiom://price-updates`` and
``axiom://company-fundamentals``, which trigger ``events_tracker`` and
``correlation_analysis``. Trigger with ``{"start": ..., "end": ...}`` to load a longer
history in one run.
"""

from __future__ import annotations

from airflow.sdk import dag

from axiom.orchestration import airflow_tasks as t


@dag(
    dag_id="market_data_ingestion",
    schedule=t.every("@daily"),
    start_date=t.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=t.DEFAULT_ARGS,
    params=t.dag_params("ingestion"),
    tags=t.tags("ingestion"),
    doc_md=__doc__,
)
def market_data_ingestion() -> None:
    """Plan batches >> ingest each batch >> close the run and update the assets."""
    plan = t.plan_ingestion()
    outcomes = t.ingest_batch.expand(symbols=plan)
    t.close_ingestion(outcomes)


market_data_ingestion()
