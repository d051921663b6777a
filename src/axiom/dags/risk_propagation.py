"""risk_propagation: DebtRank shock propagation over the company graph.

Triggered when either ``axiom://correlation-updates`` or ``axiom://graph-mutations`` is
updated. The scenario comes from the ``shocks`` param (default: the three most connected
companies lose 50 %); its id is derived from the shocks, so a re-run replaces its scores.
Before reading the graph it waits for the graph consumer. Updates ``axiom://risk-scores``.
"""

from __future__ import annotations

from airflow.sdk import dag

from axiom.orchestration import airflow_tasks as t


@dag(
    dag_id="risk_propagation",
    schedule=t.CORRELATIONS | t.GRAPH,
    start_date=t.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=t.DEFAULT_ARGS,
    params=t.dag_params("risk"),
    tags=t.tags("risk"),
    doc_md=__doc__,
)
def risk_propagation() -> None:
    """wait_for_consumers >> propagate_shocks."""
    t.wait_for_consumers("risk") >> t.propagate_shocks()


risk_propagation()
