"""company_graph_builder: company data -> relationships -> the knowledge graph.

The seed's DAG: hourly, three retries five minutes apart, 30 minutes per task at most,
``fetch_company_data >> extract_relationships >> update_graph``. Extraction is mapped
over batches of companies; ``update_graph`` publishes the graph mutations once and
updates ``axiom://graph-mutations``, which triggers ``risk_propagation``. Before reading
the companies it waits for the warehouse consumers.
"""

from __future__ import annotations

from airflow.sdk import dag

from axiom.orchestration import airflow_tasks as t


@dag(
    dag_id="company_graph_builder",
    schedule=t.every("@hourly"),
    start_date=t.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=t.DEFAULT_ARGS,
    params=t.dag_params("company_graph"),
    tags=t.tags("company_graph"),
    doc_md=__doc__,
)
def company_graph_builder() -> None:
    """wait_for_consumers >> fetch_company_data >> extract_relationships >> update_graph."""
    companies = t.fetch_company_data()
    t.wait_for_consumers("company_graph") >> companies
    mutations = t.extract_relationships.expand(symbols=companies)
    t.update_graph(mutations)


company_graph_builder()
