"""The DAG files parse cleanly, fast, without touching Axiom's state, and say what the seed says.

Parsing happens in a child process with its own AIRFLOW_HOME (Airflow configures itself
from the environment at import, once per process) and an AXIOM_HOME that does not exist;
the child describes every DAG as JSON and the assertions run here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from axiom.domain.topics import MAIN_TOPICS
from axiom.pipelines.catalog import CATALOG, PIPELINES

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "src" / "axiom" / "dags"

_DESCRIBE = r"""
import json, sys, time
t0 = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import Asset
from airflow.sdk.bases.sensor import BaseSensorOperator
from airflow.sdk.definitions.mappedoperator import MappedOperator
airflow_import_s = time.perf_counter() - t0

def uris(obj):
    if isinstance(obj, Asset):
        return [obj.uri]
    if obj is None:
        return []
    if isinstance(obj, (list, tuple)):
        return [u for o in obj for u in uris(o)]
    return [u for o in getattr(obj, "objects", []) for u in uris(o)]

bag = DagBag(dag_folder=sys.argv[1])
out = {
    "airflow_import_s": airflow_import_s,
    "import_errors": bag.import_errors,
    "files": [
        {"file": s.file, "seconds": s.duration.total_seconds(), "dags": s.dag_num,
         "warnings": s.warning_num}
        for s in bag.dagbag_stats
    ],
    "dags": {},
}
for dag in bag.dags.values():
    tt = dag.timetable
    out["dags"][dag.dag_id] = {
        "file": dag.fileloc,
        "timetable": type(tt).__name__,
        "cron": getattr(tt, "expression", None),
        "timezone": str(getattr(tt, "timezone", "")),
        "schedule_assets": sorted(uris(dag.schedule)),
        "schedule_kind": type(dag.schedule).__name__,
        "catchup": dag.catchup,
        "max_active_runs": dag.max_active_runs,
        "default_args": {
            "retries": dag.default_args.get("retries"),
            "retry_delay_s": dag.default_args["retry_delay"].total_seconds(),
            "execution_timeout_s": dag.default_args["execution_timeout"].total_seconds(),
            "on_failure_callback": getattr(dag.default_args.get("on_failure_callback"),
                                           "__name__", None),
        },
        "params": sorted(dag.params.keys()),
        "tasks": {
            t.task_id: {
                "upstream": sorted(t.upstream_task_ids),
                "mapped": isinstance(t, MappedOperator),
                "sensor": isinstance(t, BaseSensorOperator),
                "mode": getattr(t, "mode", None),
                "retries": t.retries,
                "retry_delay_s": t.retry_delay.total_seconds(),
                "execution_timeout_s": t.execution_timeout.total_seconds()
                    if t.execution_timeout else None,
                "outlets": sorted(uris(list(t.outlets))),
            }
            for t in dag.tasks
        },
    }
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every DAG file parsed once by Airflow's DagBag in a clean child process."""
    root = tmp_path_factory.mktemp("dagbag")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AXIOM_", "AIRFLOW"))}
    env.update(
        AIRFLOW_HOME=str(root / "airflow"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(DAGS),
        AXIOM_HOME=str(root / "axiom-home-must-not-exist"),
    )
    proc = subprocess.run(
        [sys.executable, "-c", _DESCRIBE, str(DAGS)],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=root,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["root"] = str(root)
    return out


def test_every_dag_file_imports_without_errors_or_warnings(parsed: dict[str, Any]) -> None:
    assert parsed["import_errors"] == {}
    files = {Path(f["file"]).name: f for f in parsed["files"]}
    expected = {f"{dag_id}.py" for dag_id in _dag_ids()}
    assert expected <= set(files)
    for name in expected:
        assert files[name]["dags"] == 1, name
        assert files[name]["warnings"] == 0, name


def test_one_dag_per_catalog_pipeline(parsed: dict[str, Any]) -> None:
    assert set(parsed["dags"]) == set(_dag_ids())
    for dag_id, dag in parsed["dags"].items():
        assert Path(dag["file"]).name == f"{dag_id}.py"


def test_parsing_does_no_io_and_is_fast(parsed: dict[str, Any]) -> None:
    root = Path(parsed["root"])
    assert not (root / "axiom-home-must-not-exist").exists()
    assert not (root / ".axiom").exists()
    assert not any(root.glob("*.db"))
    total = sum(f["seconds"] for f in parsed["files"])
    slowest = max(f["seconds"] for f in parsed["files"])
    # The first file pays for importing Axiom's light modules; the rest only build tasks.
    assert slowest < 3.0, parsed["files"]
    assert total < 5.0, parsed["files"]


def test_company_graph_builder_carries_the_seed_settings(parsed: dict[str, Any]) -> None:
    dag = parsed["dags"]["company_graph_builder"]
    assert dag["timetable"] == "CronDataIntervalTimetable"
    assert dag["cron"] == "0 * * * *"  # @hourly
    assert dag["default_args"]["retries"] == 3
    assert dag["default_args"]["retry_delay_s"] == 300
    assert dag["default_args"]["execution_timeout_s"] == 1800
    tasks = dag["tasks"]
    assert tasks["extract_relationships"]["upstream"] == ["fetch_company_data"]
    assert tasks["update_graph"]["upstream"] == ["extract_relationships"]
    assert tasks["fetch_company_data"]["upstream"] == ["wait_for_consumers"]
    assert tasks["extract_relationships"]["mapped"]
    for task in tasks.values():
        assert (task["retries"], task["retry_delay_s"], task["execution_timeout_s"]) == (
            3,
            300,
            1800,
        )


def test_every_dag_has_the_retry_discipline_and_records_failures(parsed: dict[str, Any]) -> None:
    for dag_id, dag in parsed["dags"].items():
        assert dag["default_args"] == {
            "retries": 3,
            "retry_delay_s": 300,
            "execution_timeout_s": 1800,
            "on_failure_callback": "record_failure",
        }, dag_id
        assert dag["max_active_runs"] == 1, dag_id
        assert not dag["catchup"], dag_id
        assert {"universe", "start", "end"} <= set(dag["params"]), dag_id


def test_ingestion_is_daily_and_batched(parsed: dict[str, Any]) -> None:
    dag = parsed["dags"]["market_data_ingestion"]
    assert (dag["timetable"], dag["cron"], dag["timezone"]) == (
        "CronDataIntervalTimetable",
        "0 0 * * *",
        "UTC",
    )
    tasks = dag["tasks"]
    assert tasks["ingest_batch"]["mapped"]
    assert tasks["ingest_batch"]["upstream"] == ["plan_ingestion"]
    assert tasks["close_ingestion"]["upstream"] == ["ingest_batch"]
    assert parsed["dags"]["events_tracker"]["tasks"]["detect_events"]["mapped"]


def test_outlets_are_the_topics_each_pipeline_publishes(parsed: dict[str, Any]) -> None:
    for spec in CATALOG:
        dag = parsed["dags"][_dag_id(spec.name)]
        outlets = {u for t in dag["tasks"].values() for u in t["outlets"]}
        assert outlets == {_asset(t) for t in spec.publishes}, spec.name
        assert outlets <= {_asset(t) for t in MAIN_TOPICS}


def test_assets_trigger_the_pipelines_that_depend_on_them(parsed: dict[str, Any]) -> None:
    dags = parsed["dags"]
    assert dags["events_tracker"]["schedule_assets"] == [_asset("price-updates")]
    assert dags["correlation_analysis"]["schedule_assets"] == [_asset("price-updates")]
    risk = dags["risk_propagation"]
    assert risk["schedule_kind"] == "AssetAny"
    assert risk["schedule_assets"] == sorted(
        [_asset("correlation-updates"), _asset("graph-mutations")]
    )
    for dag_id in ("events_tracker", "correlation_analysis", "risk_propagation"):
        spec = PIPELINES[_pipeline(dag_id)]
        upstream = {_asset(t) for dep in spec.depends_on for t in PIPELINES[dep].publishes}
        assert set(dags[dag_id]["schedule_assets"]) <= upstream, dag_id


def test_every_store_read_waits_for_the_consumers(parsed: dict[str, Any]) -> None:
    for spec in CATALOG:
        tasks = parsed["dags"][_dag_id(spec.name)]["tasks"]
        if spec.name == "ingestion":  # reads no store, only publishes
            assert not any(t["sensor"] for t in tasks.values())
            continue
        sensor = tasks["wait_for_consumers"]
        assert sensor["sensor"] and sensor["mode"] == "reschedule", spec.name
        assert sensor["upstream"] == [], spec.name
        roots = [name for name, t in tasks.items() if not t["upstream"]]
        assert roots == ["wait_for_consumers"], spec.name


def _asset(topic: str) -> str:
    return f"axiom://{topic}/"


def _dag_ids() -> list[str]:
    return [_dag_id(spec.name) for spec in CATALOG]


_DAG_IDS = {
    "ingestion": "market_data_ingestion",
    "company_graph": "company_graph_builder",
    "events": "events_tracker",
    "correlations": "correlation_analysis",
    "risk": "risk_propagation",
}


def _dag_id(pipeline: str) -> str:
    return _DAG_IDS[pipeline]


def _pipeline(dag_id: str) -> str:
    return {v: k for k, v in _DAG_IDS.items()}[dag_id]
