"""Airflow DAG files, one per pipeline of the catalog (the folder is AIRFLOW__CORE__DAGS_FOLDER).

The files only wire tasks of :mod:`axiom.orchestration.airflow_tasks`; parsing them
opens no backend and reads no data.
"""

from __future__ import annotations
