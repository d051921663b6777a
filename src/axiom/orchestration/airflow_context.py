"""From an Airflow task context to what a pipeline needs: settings, parameters, run id.

Called inside running tasks only (never at DAG parse time): Variables and Connections
are read through the Task SDK, which needs a running task.

Settings, lowest to highest precedence:

1. ``AXIOM_*`` environment variables of the worker (and its ``.env``), as everywhere;
2. Variable ``axiom_settings``: a JSON object of :class:`~axiom.settings.Settings` fields,
   e.g. ``{"home": "/srv/axiom", "bus": "kafka://kafka:9092"}``;
3. Connections ``axiom_bus``, ``axiom_warehouse``, ``axiom_cache``, ``axiom_graph``,
   ``axiom_vectors``: the connection's URI is the backend URL (credentials stay in
   Airflow's connection store, never in DAG code).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from airflow.sdk import Connection, Variable
from airflow.sdk.exceptions import AirflowNotFoundException

from axiom.errors import ConfigError

if TYPE_CHECKING:
    from airflow.sdk import Context

    from axiom.pipelines.base import PipelineContext, RunParams
    from axiom.settings import Settings

SETTINGS_VARIABLE = "axiom_settings"
#: Settings fields that a connection ``axiom_<field>`` may set.
CONNECTION_FIELDS = ("bus", "warehouse", "cache", "graph", "vectors")


def _variable_settings() -> dict[str, Any]:
    from axiom.settings import Settings

    raw = Variable.get(SETTINGS_VARIABLE, default=None)
    if raw is None or raw == "":
        return {}
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except json.JSONDecodeError as exc:
        raise ConfigError(f"Variable {SETTINGS_VARIABLE} is not JSON: {exc}") from None
    if not isinstance(value, Mapping):
        raise ConfigError(f"Variable {SETTINGS_VARIABLE} must be a JSON object of settings")
    unknown = sorted(set(value) - set(Settings.model_fields))
    if unknown:
        raise ConfigError(
            f"Variable {SETTINGS_VARIABLE}: unknown setting(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(Settings.model_fields))}"
        )
    return dict(value)


def _connection_url(field: str) -> str | None:
    """The URI of connection ``axiom_<field>``, or None if there is none.

    Airflow percent-encodes a SQLite file path (it sits where a schema name would); it is
    decoded back. Other URIs keep their encoding: a password may need it.
    """
    try:
        conn = Connection.get(f"axiom_{field}")
    except AirflowNotFoundException:
        return None
    uri = str(conn.get_uri() or "")
    if uri.startswith("sqlite:"):
        uri = unquote(uri)
    return uri or None


def airflow_settings() -> Settings:
    """Settings of this task: environment, then Variable ``axiom_settings``, then Connections.

    Raises ConfigError for a malformed Variable or a setting that fails validation.
    """
    from pydantic import ValidationError

    from axiom.settings import Settings

    overrides = _variable_settings()
    for field in CONNECTION_FIELDS:
        url = _connection_url(field)
        if url:
            overrides[field] = url
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"bad Airflow setting for axiom '{where}': {first['msg']}") from None


def triggering_extras(context: Context) -> list[dict[str, Any]]:
    """The ``extra`` of every asset event that triggered this run (oldest first)."""
    events = context.get("triggering_asset_events") or {}
    found = [e for evs in events.values() for e in evs]
    found.sort(key=lambda e: e.timestamp)
    return [dict(e.extra or {}) for e in found]


def run_params(context: Context) -> RunParams:
    """The RunParams of this task's run (rules in :mod:`axiom.orchestration.params`)."""
    from axiom.orchestration.params import resolve_params

    dag_run = context["dag_run"]
    interval: tuple[datetime | None, datetime | None] = (
        context.get("data_interval_start"),
        context.get("data_interval_end"),
    )
    return resolve_params(
        dict(context["params"]), dict(dag_run.conf or {}), triggering_extras(context), interval
    )


def run_record_id(context: Context, pipeline: str) -> str:
    """The ``pipeline_runs`` id of this Airflow run: ``<pipeline>:<Airflow run id>``."""
    from axiom.orchestration.runs import record_id

    return record_id(pipeline, context["run_id"])


@contextmanager
def pipeline_context(context: Context, pipeline: str) -> Iterator[PipelineContext]:
    """A PipelineContext on a fresh runtime for this task, closed when the block ends.

    ``trigger`` is ``airflow`` and ``run_id`` the run's record id, so whatever the task
    records lands in the same ``pipeline_runs`` row.
    """
    from axiom.pipelines.base import PipelineContext
    from axiom.runtime import Runtime

    params = run_params(context)
    with Runtime(airflow_settings()) as rt:
        yield PipelineContext(
            rt, params, trigger="airflow", run_id=run_record_id(context, pipeline)
        )
