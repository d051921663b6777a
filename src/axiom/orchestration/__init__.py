"""Orchestration on Apache Airflow: what the DAG files in :mod:`axiom.dags` wire together.

``work`` and ``runs`` hold the batch work and the run bookkeeping and know nothing of
Airflow (unit tests call them directly); ``airflow_context`` turns an Airflow task context
into settings and :class:`~axiom.pipelines.base.RunParams`; ``airflow_tasks`` declares the
tasks, the sensor, the assets and the default arguments every DAG shares.
"""

from __future__ import annotations
