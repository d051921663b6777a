"""Connection settings for the local Airflow's SQLite metadata database.

``deploy/local/airflow.sh`` points ``[database] sql_alchemy_connect_args`` here. The
api-server, the scheduler, the DAG processor and every task process share one SQLite file;
SQLite's default five-second busy wait is short when the scheduler commits a batch of task
states while the API creates a backfill, so writers wait up to a minute for the lock
instead. (The script also switches the file to write-ahead logging, so readers never block
the writer.) PostgreSQL metadata, as in ``compose.yaml``, needs none of this.
"""

from __future__ import annotations

from typing import Any

#: Passed to :func:`sqlite3.connect` by SQLAlchemy for every metadata connection.
SQLITE_CONNECT_ARGS: dict[str, Any] = {"timeout": 60.0}
