"""Connection settings for the local Airflow's SQLite metadata database.

``deploy/local/airflow.sh`` points ``[database] sql_alchemy_connect_args`` here when the
metadata DB is its default SQLite file. The api-server, the scheduler, the DAG processor
and every task process share that file; SQLite's default five-second busy wait is short
when the scheduler commits a batch of task states while the API writes, so writers wait
up to a minute for the lock instead. SQLite still serialises every writer: Airflow itself
answers 503 to a backfill created while the scheduler holds the lock, which is why the
scheduler tests, like ``compose.yaml``, run Airflow on PostgreSQL (``AXIOM_AIRFLOW_DB``).
"""

from __future__ import annotations

from typing import Any

#: Passed to :func:`sqlite3.connect` by SQLAlchemy for every metadata connection.
SQLITE_CONNECT_ARGS: dict[str, Any] = {"timeout": 60.0}
