"""correlation_analysis: return correlations over the window ending on the run's last day.

Triggered by ``axiom://price-updates``. Only edges that changed against the stored ones
are published, so a re-run publishes nothing. One task: a correlation matrix is one
computation over the whole universe. Before reading prices it waits for the warehouse
consumers. Updates ``axiom://correlation-updates``, which triggers ``risk_propagation``.
"""

from __future__ import annotations

from airflow.sdk import dag

from axiom.orchestration import airflow_tasks as t


@dag(
    dag_id="correlation_analysis",
    schedule=[t.PRICES],
    start_date=t.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=t.DEFAULT_ARGS,
    params=t.dag_params("correlations"),
    tags=t.tags("correlations"),
    doc_md=__doc__,
)
def correlation_analysis() -> None:
    """wait_for_consumers >> compute_correlations."""
    t.wait_for_consumers("correlations") >> t.compute_correlations()


correlation_analysis()
