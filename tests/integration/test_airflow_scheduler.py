"""A real Airflow 3 (``deploy/local/airflow.sh``) driven through its REST API.

The script starts the api-server, the scheduler (LocalExecutor), the dag-processor and
the consumers under a temporary services folder on a free port. The tests log in for a
JWT, trigger company_graph_builder through ``/api/v2`` and poll it to the end, then post
a ``price-updates`` asset event and watch the scheduler trigger events_tracker and
correlation_analysis, and those trigger risk_propagation; the stores and
``pipeline_runs`` are read after each. Airflow is stopped whatever happens. Its metadata
lives in a fresh database of the local PostgreSQL server (``make services-up``).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from axiom.agents.metadata import extract
from axiom.consumers.registry import CONSUMER_NAMES, sink_topics
from axiom.domain.topics import GRAPH_MUTATIONS, PRICE_UPDATES
from axiom.orchestration.runs import record_id
from axiom.pipelines import events
from axiom.pipelines.base import PipelineContext, RunParams
from axiom.runtime import Runtime
from axiom.settings import Settings
from axiom.sources.base import business_days
from axiom.sources.universe import load_universe
from tests.servers import server_url

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy" / "local" / "airflow.sh"
SEED_DAYS = ("--start", "2025-06-02", "--end", "2025-06-30", "--no-consume", "--json")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Airflow:
    """A running local Airflow: its URL, the AXIOM_HOME of its tasks, the script's env."""

    url: str
    axiom_home: Path
    env: dict[str, str]
    token: str = ""

    def call(self, method: str, path: str, body: object | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310
        req.add_header("Content-Type", "application/json")
        if self.token:
            req.add_header("Authorization", f"Bearer {self.token}")
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - our own server
            raw = resp.read()
        return json.loads(raw) if raw else None

    def login(self, user: str = "admin", password: str = "admin") -> None:  # noqa: S107 - local
        answer = self.call("POST", "/auth/token", {"username": user, "password": password})
        self.token = answer["access_token"]


def _script(verb: str, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), verb], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def metadata_db() -> Iterator[str]:
    """A fresh PostgreSQL database for Airflow's metadata, dropped afterwards.

    The scheduler, the api-server and the tasks write the metadata at once; on SQLite
    Airflow refuses a backfill created while the scheduler holds the file's lock (503),
    so these tests run Airflow as a cluster does, on the local PostgreSQL server.
    """
    url = server_url("postgres")
    name = f"airflow_test_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(url)
    try:
        yield urlunsplit(("postgresql+psycopg", parts.netloc, f"/{name}", "", ""))
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory, metadata_db: str) -> Iterator[Airflow]:
    services = tmp_path_factory.mktemp("services")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AXIOM_", "AIRFLOW"))}
    env.update(
        AXIOM_SERVICES_HOME=str(services),
        AXIOM_AIRFLOW_PORT=str(port),
        AXIOM_AIRFLOW_DB=metadata_db,
    )
    try:
        started = _script("start", env, timeout=300)
        assert started.returncode == 0, started.stderr[-3000:]
        yield Airflow(f"http://127.0.0.1:{port}", services / "airflow" / "axiom-home", env)
    finally:
        stopped = _script("stop", env, timeout=180)
        assert stopped.returncode == 0, stopped.stderr[-3000:]
        assert _script("status", env, timeout=60).returncode != 0


def _wait(what: str, check: Any, timeout_s: float, every_s: float = 2.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached after {timeout_s}s")
        time.sleep(every_s)


def test_login_is_required_and_the_ui_is_served(airflow: Airflow) -> None:
    with pytest.raises(urllib.error.HTTPError) as denied:
        airflow.call("GET", "/api/v2/dags")
    assert denied.value.code == 401
    with pytest.raises(urllib.error.HTTPError) as wrong:
        airflow.login(password="not-the-password")  # noqa: S106
    assert wrong.value.code == 401
    with urllib.request.urlopen(airflow.url + "/", timeout=30) as resp:  # noqa: S310
        assert resp.status == 200
        assert "<html" in resp.read().decode().lower()


@pytest.fixture(scope="module")
def seeded(airflow: Airflow) -> Airflow:
    """A month of dow prices ingested by the CLI; the consumers of the script write them."""
    seeded = subprocess.run(
        [sys.executable, "-m", "axiom", "run", "ingestion", "--universe", "dow", *SEED_DAYS],
        env={**airflow.env, "AXIOM_HOME": str(airflow.axiom_home)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    airflow.login()
    _wait(
        "the five DAGs parsed",
        lambda: airflow.call("GET", "/api/v2/dags")["total_entries"] == 5,
        timeout_s=120,
    )
    return airflow


@pytest.fixture(scope="module")
def graph_run(seeded: Airflow) -> dict[str, Any]:
    """company_graph_builder triggered through the REST API, polled until it ended."""
    airflow = seeded
    dag = "/api/v2/dags/company_graph_builder"
    trigger = {"logical_date": None, "conf": {"universe": "dow"}}
    run = airflow.call("POST", f"{dag}/dagRuns", trigger)
    airflow.call("PATCH", dag, {"is_paused": False})
    try:
        done: dict[str, Any] = _wait(
            "the run finished",
            lambda: _finished(airflow, "company_graph_builder", run["dag_run_id"]),
            timeout_s=300,
        )
    finally:
        airflow.call("PATCH", dag, {"is_paused": True})
    path = f"{dag}/dagRuns/{run['dag_run_id']}/taskInstances"
    done["task_instances"] = airflow.call("GET", path)["task_instances"]
    return done


def _finished(airflow: Airflow, dag_id: str, run_id: str) -> dict[str, Any] | None:
    run: dict[str, Any] = airflow.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
    return run if run["state"] in ("success", "failed") else None


def _runs(airflow: Airflow, dag_id: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = airflow.call("GET", f"/api/v2/dags/{dag_id}/dagRuns")["dag_runs"]
    return runs


def test_company_graph_builder_triggered_through_the_rest_api(
    seeded: Airflow, graph_run: dict[str, Any]
) -> None:
    airflow = seeded
    assert {d["dag_id"] for d in airflow.call("GET", "/api/v2/dags")["dags"]} == {
        "market_data_ingestion",
        "company_graph_builder",
        "events_tracker",
        "correlation_analysis",
        "risk_propagation",
    }
    assert airflow.call("GET", "/api/v2/importErrors")["total_entries"] == 0
    tis = graph_run["task_instances"]
    assert graph_run["state"] == "success", tis
    assert sorted((t["task_id"], t["state"]) for t in tis) == [
        ("extract_relationships", "success"),
        ("fetch_company_data", "success"),
        ("update_graph", "success"),
        ("wait_for_consumers", "success"),
    ]
    with Runtime(Settings(home=airflow.axiom_home)) as rt:
        expected = extract(rt.warehouse.companies())
        nodes = dict(Counter(m.node.label for m in expected if m.node is not None))
        rels = dict(Counter(m.edge.type for m in expected if m.edge is not None))
        _wait("the graph written", lambda: rt.graph.counts().nodes == nodes, 120, 1.0)
        assert {k: v for k, v in rt.graph.counts().relationships.items() if k in rels} == rels
        runs = {r.run_id: r for r in rt.warehouse.runs("company_graph")}
        record = runs[record_id("company_graph", graph_run["dag_run_id"])]
        assert (record.trigger, record.status, record.errors) == ("airflow", "success", 0)
        assert record.records == len(expected)
        # the seeding `axiom run ingestion` is a row of the same table, next to Airflow's
        cli = [r for r in rt.warehouse.runs("ingestion") if r.trigger == "cli"]
        assert [(r.status, r.errors) for r in cli] == [("success", 0)]
        assert cli[0].records > 0
        # the unpause adds the latest scheduled run; it publishes the same mutations again
        assert sum(rt.bus.end_offsets(GRAPH_MUTATIONS).values()) >= len(expected)


def test_an_asset_event_triggers_events_correlations_then_risk(
    seeded: Airflow, graph_run: dict[str, Any]
) -> None:
    airflow = seeded
    assert graph_run["state"] == "success"  # risk reads the company graph
    downstream = ("events_tracker", "correlation_analysis", "risk_propagation")
    for dag_id in downstream:
        airflow.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
    try:
        assets = airflow.call("GET", "/api/v2/assets")["assets"]
        (prices,) = [a["id"] for a in assets if a["uri"] == "axiom://price-updates/"]
        days = {"universe": "dow", "start": "2025-06-16", "end": "2025-06-30"}
        airflow.call("POST", "/api/v2/assets/events", {"asset_id": prices, "extra": days})

        def settled() -> dict[str, list[dict[str, Any]]] | None:
            runs = {d: _runs(airflow, d) for d in downstream}
            ended = all(r["state"] in ("success", "failed") for v in runs.values() for r in v)
            # the correlation run's asset event is emitted by its last task, before the
            # scheduler closes that run, so compare with its start, not its end
            corr_start = min(
                (r["start_date"] or "" for r in runs["correlation_analysis"]), default=""
            )
            risk_after = any(
                (r["start_date"] or "") > corr_start > "" for r in runs["risk_propagation"]
            )
            return runs if ended and runs["events_tracker"] and risk_after else None

        runs = _wait("the triggered runs", settled, timeout_s=300)
    finally:
        for dag_id in downstream:
            airflow.call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})
    for dag_id, dag_runs in runs.items():
        assert {r["run_type"] for r in dag_runs} == {"asset_triggered"}, dag_id
        assert {r["state"] for r in dag_runs} == {"success"}, dag_id
    (events_run,) = runs["events_tracker"]
    (corr_run,) = runs["correlation_analysis"]
    with Runtime(Settings(home=airflow.axiom_home)) as rt:
        wh = rt.warehouse
        # the days came from the asset event that triggered the runs
        ctx = PipelineContext(
            rt, RunParams(universe="dow", start=date(2025, 6, 16), end=date(2025, 6, 30))
        )
        want = events.detect_events(ctx, events.fetch_prices(ctx))
        _wait("the events written", lambda: len(wh.events()) == len(want), 60, 1.0)
        assert {e.event_id for e in wh.events()} == {e.event_id for e in want}
        assert {e.window_end for e in wh.correlation_edges()} <= {date(2025, 6, 30)}
        recorded = {r.run_id: r for r in wh.runs()}
        for pipeline, run in (("events", events_run), ("correlations", corr_run)):
            record = recorded[record_id(pipeline, run["dag_run_id"])]
            assert (record.trigger, record.status) == ("airflow", "success")
        risk = [r for r in wh.runs("risk") if r.status == "success"]
        assert risk and all(r.trigger == "airflow" for r in risk)
        # the consumers write the risk scores after the run has ended
        _wait("the risk scores written", lambda: wh.counts()["risk_scores"] > 0, 60, 1.0)


def _backfill(airflow: Airflow, start: str, end: str, reprocess: str) -> list[dict[str, Any]]:
    """``POST /api/v2/backfills`` for market_data_ingestion; its runs once it completed.

    A second backfill of the same days clears and re-runs the same dag runs, so a run
    belongs to this backfill when it is a backfill run of those days queued after it.
    """
    body = {
        "dag_id": "market_data_ingestion",
        "from_date": f"{start}T00:00:00Z",
        "to_date": f"{end}T00:00:00Z",
        "dag_run_conf": {"universe": "dow", "batch_size": 12},
        "reprocess_behavior": reprocess,
        "max_active_runs": 3,
    }
    backfill = airflow.call("POST", "/api/v2/backfills", body)
    _wait(
        "the backfill completed",
        lambda: airflow.call("GET", f"/api/v2/backfills/{backfill['id']}")["completed_at"],
        timeout_s=400,
    )
    created = backfill["created_at"]
    return [
        r
        for r in _runs(airflow, "market_data_ingestion")
        if r["run_type"] == "backfill"
        and start <= r["logical_date"][:10] <= end
        and (r["queued_at"] or "") >= created[:19]
    ]


def _prices_after(rt: Runtime, day: date) -> dict[str, list[date]]:
    return {
        s: [d for d in b.dates.tolist() if d > day]
        for s, b in rt.warehouse.price_bars(DOW_SYMBOLS).items()
    }


DOW_SYMBOLS = sorted(c.symbol for c in load_universe("dow"))


def _caught_up(rt: Runtime) -> bool:
    """Every consumer of the script's fleet has committed everything published."""
    return all(rt.bus.total_lag(n, sink_topics(n)) == 0 for n in CONSUMER_NAMES)


def test_backfill_through_the_scheduler_writes_those_days_and_again_changes_nothing(
    seeded: Airflow,
) -> None:
    """``airflow backfill`` over 3 days, run by the scheduler, then the same again.

    A backfill only runs while its DAG is unpaused, and unpausing lets the scheduler add
    the DAG's latest scheduled run (catchup is off); that run's own day is read from the
    API and set apart, so every other new day must come from the backfill.
    """
    airflow = seeded
    dag = "/api/v2/dags/market_data_ingestion"
    airflow.call("PATCH", dag, {"is_paused": False})
    try:
        first = _backfill(airflow, "2025-07-01", "2025-07-03", "none")
        _wait(
            "the scheduled run ended",
            lambda: all(
                r["state"] in ("success", "failed") for r in _runs(airflow, "market_data_ingestion")
            ),
            timeout_s=400,
        )
        scheduled = [
            r for r in _runs(airflow, "market_data_ingestion") if r["run_type"] == "scheduled"
        ]
        with Runtime(Settings(home=airflow.axiom_home)) as rt:
            _wait("the consumers caught up", lambda: _caught_up(rt), 120, 1.0)
            days = _prices_after(rt, date(2025, 6, 30))
            checksums = rt.warehouse.checksums()
            sent = sum(rt.bus.end_offsets(PRICE_UPDATES).values())
        second = _backfill(airflow, "2025-07-01", "2025-07-03", "completed")
    finally:
        airflow.call("PATCH", dag, {"is_paused": True})
    assert len(first) == len(second) == 3
    assert {r["state"] for r in first + second} == {"success"}
    intervals = sorted((r["data_interval_start"][:10], r["data_interval_end"][:10]) for r in first)
    assert intervals == [("2025-07-01", "2025-07-02"), ("2025-07-02", "2025-07-03"),
                         ("2025-07-03", "2025-07-04")]  # fmt: skip
    scheduled_days = {date.fromisoformat(r["data_interval_start"][:10]) for r in scheduled}
    backfilled = {d for ds in days.values() for d in ds} - scheduled_days
    assert backfilled == set(business_days(date(2025, 7, 1), date(2025, 7, 3)).tolist())
    assert all(sorted(set(ds) - scheduled_days) == sorted(backfilled) for ds in days.values()), (
        "every dow symbol got exactly the three backfilled days"
    )
    with Runtime(Settings(home=airflow.axiom_home)) as rt:
        _wait("the consumers caught up", lambda: _caught_up(rt), 120, 1.0)
        # every day was sent again ... and nothing changed
        assert sum(rt.bus.end_offsets(PRICE_UPDATES).values()) > sent
        assert rt.warehouse.checksums() == checksums
        recorded = {r.run_id: r for r in rt.warehouse.runs("ingestion", limit=500)}
    for run in first + second:
        record = recorded[record_id("ingestion", run["dag_run_id"])]
        assert (record.trigger, record.status, record.errors) == ("airflow", "success", 0)
