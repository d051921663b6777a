"""Run the real DAGs with ``dag.test()`` in a child process and report what Airflow recorded.

Airflow configures itself from the environment once per process, when it is imported, so
every batch of DAG runs goes to a fresh ``python airflow_harness.py spec.json`` with its
own AIRFLOW_HOME (a migrated SQLite metadata DB) and the test's AXIOM_HOME. The child
prints one JSON line per run: the run's state and data interval, every task instance
with its try number, the history of earlier tries, and the asset events it emitted.

The test process owns the consumers (a ConsumerFleet on the same AXIOM_HOME); the
DAGs' sensors wait for them exactly as they would in a deployment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "src" / "axiom" / "dags"
_STARTED = "HARNESS-RESULT "


def airflow_env(airflow_home: Path, axiom_home: Path) -> dict[str, str]:
    """Environment of a child: no AXIOM_/AIRFLOW settings leak from the parent."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AXIOM_", "AIRFLOW"))}
    env.update(
        AIRFLOW_HOME=str(airflow_home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{airflow_home / 'airflow.db'}",
        AIRFLOW__LOGGING__BASE_LOG_FOLDER=str(airflow_home / "logs"),
        AXIOM_HOME=str(axiom_home),
    )
    return env


def migrate(airflow_home: Path) -> None:
    """Create the metadata DB of ``airflow_home`` (once per test module)."""
    airflow_home.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        env=airflow_env(airflow_home, airflow_home / "unused"),
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]


def run_dags(
    airflow_home: Path,
    axiom_home: Path,
    runs: list[dict[str, Any]],
    *,
    on_report: Callable[[dict[str, Any]], None] | None = None,
    extra_env: dict[str, str] | None = None,
    timeout_s: float = 420,
) -> list[dict[str, Any]]:
    """``dag.test()`` each run of ``runs`` in order in one child; their reports.

    A run is ``{"dag_id": ..., "conf": {...}, "logical_date": iso or None,
    "retry_delay_s": seconds (every task), "heal_on_retry": {"task_id", "after",
    "universe"}}``; the last one makes the companies of ``universe`` land in the
    warehouse when ``task_id`` is retried for the ``after``-th time. ``on_report`` is
    called with each report as soon as its run ends, while the next run goes on. The
    child is killed (by its pid) if it outlives ``timeout_s``. ``extra_env`` is added to
    the child's environment (``AIRFLOW_VAR_*``, ``AIRFLOW_CONN_*``).
    """
    spec = airflow_home / "spec.json"
    spec.write_text(json.dumps(runs))
    reports: list[dict[str, Any]] = []
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(
            [sys.executable, __file__, str(spec)],
            env={**airflow_env(airflow_home, axiom_home), **(extra_env or {})},
            cwd=axiom_home.parent,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
        )
        killer = threading.Timer(timeout_s, proc.kill)
        killer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith(_STARTED):
                    reports.append(json.loads(line[len(_STARTED) :]))
                    if on_report is not None:
                        on_report(reports[-1])
            code = proc.wait()
        finally:
            killer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        err.seek(0)
        assert code == 0 and len(reports) == len(runs), f"exit {code}\n{err.read()[-5000:]}"
    return reports


# -- the child -------------------------------------------------------------------------------


def _heal_callback(universe: str, after: int) -> Any:
    retries = {"n": 0}

    def on_retry(context: Any) -> None:
        retries["n"] += 1
        if retries["n"] == after:
            from axiom.runtime import Runtime
            from axiom.settings import Settings
            from axiom.sources.universe import load_universe

            with Runtime(Settings()) as rt:
                rt.warehouse.upsert_companies(load_universe(universe))

    return on_retry


def _report(dr: Any) -> dict[str, Any]:
    from airflow.models.asset import AssetEvent
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        tis = [
            {
                "task_id": ti.task_id,
                "map_index": ti.map_index,
                "state": str(ti.state),
                "try_number": ti.try_number,
                "seconds": (ti.end_date - ti.start_date).total_seconds()
                if ti.start_date and ti.end_date
                else None,
            }
            for ti in dr.get_task_instances(session=session)
        ]
        history = [
            {"task_id": h.task_id, "try_number": h.try_number, "state": str(h.state)}
            for h in session.scalars(
                select(TaskInstanceHistory).where(
                    TaskInstanceHistory.dag_id == dr.dag_id,
                    TaskInstanceHistory.run_id == dr.run_id,
                )
            )
        ]
        events = [
            {"uri": e.asset.uri, "extra": e.extra, "task_id": e.source_task_id}
            for e in session.scalars(
                select(AssetEvent).where(
                    AssetEvent.source_dag_id == dr.dag_id, AssetEvent.source_run_id == dr.run_id
                )
            )
        ]
    start, end = dr.data_interval_start, dr.data_interval_end
    return {
        "dag_id": dr.dag_id,
        "run_id": dr.run_id,
        "state": str(dr.state),
        "interval": [start.isoformat() if start else None, end.isoformat() if end else None],
        "tis": sorted(tis, key=lambda t: (t["task_id"], t["map_index"])),
        "history": sorted(history, key=lambda h: (h["task_id"], h["try_number"])),
        "asset_events": events,
    }


def _main(spec_path: str) -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    for run in json.loads(Path(spec_path).read_text()):
        dag = bag.dags[run["dag_id"]]
        if run.get("retry_delay_s") is not None:
            for task in dag.tasks:
                task.retry_delay = timedelta(seconds=run["retry_delay_s"])
        heal = run.get("heal_on_retry")
        if heal:
            task = dag.get_task(heal["task_id"])
            task.on_retry_callback = [_heal_callback(heal["universe"], heal["after"])]
        kwargs: dict[str, Any] = {"run_conf": run.get("conf") or {}}
        if run.get("logical_date"):
            kwargs["logical_date"] = datetime.fromisoformat(run["logical_date"])
        dr = dag.test(**kwargs)
        print(_STARTED + json.dumps(_report(dr)), flush=True)


if __name__ == "__main__":
    _main(sys.argv[1])
