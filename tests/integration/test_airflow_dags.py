"""The five DAGs run end to end by Airflow (``dag.test()``) on the embedded backends.

Airflow runs in a child process (:mod:`tests.integration.airflow_harness`) with a
migrated SQLite metadata DB; the consumers run here, in a ConsumerFleet on the same
AXIOM_HOME, as separate processes would in a deployment. The DAGs' sensors wait for
them through the bus, so a test that starts the fleet late proves the waiting.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from axiom.agents.metadata import extract
from axiom.consumers.fleet import ConsumerFleet
from axiom.domain.topics import GRAPH_MUTATIONS, PRICE_UPDATES
from axiom.pipelines import correlations, events
from axiom.pipelines.base import PipelineContext, RunParams
from axiom.runtime import Runtime
from axiom.settings import Settings
from axiom.sources.base import business_days
from axiom.sources.universe import load_universe
from tests.integration.airflow_harness import migrate, run_dags

pytestmark = pytest.mark.slow

DOW = sorted(c.symbol for c in load_universe("dow"))


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated metadata DB for the module (run ids never collide between tests)."""
    home = tmp_path_factory.mktemp("airflow")
    migrate(home)
    return home


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def fleet(home: Path) -> Iterator[ConsumerFleet]:
    consumers = ConsumerFleet(Settings(home=home)).start()
    try:
        yield consumers
    finally:
        consumers.stop()


def _states(report: dict[str, Any]) -> Counter[tuple[str, str]]:
    return Counter((t["task_id"], t["state"]) for t in report["tis"])


def _bus_ends(rt: Runtime, topic: str) -> int:
    return sum(rt.bus.end_offsets(topic).values())


def test_all_five_dags_end_to_end(airflow_home: Path, home: Path) -> None:
    settings = Settings(home=home)
    started: dict[str, Any] = {}

    def consumers_after_ingestion(report: dict[str, Any]) -> None:
        if report["dag_id"] == "market_data_ingestion":
            with Runtime(settings) as rt:  # nothing consumed yet: the graph DAG must wait
                started["companies_before"] = rt.warehouse.counts()["companies"]
            started["fleet"] = ConsumerFleet(settings).start()

    dow = {"universe": "dow", "batch_size": 12}
    try:
        reports = run_dags(
            airflow_home,
            home,
            [
                {
                    "dag_id": "market_data_ingestion",
                    "conf": {**dow, "start": "2024-07-01", "end": "2025-06-30"},
                },
                {"dag_id": "company_graph_builder", "conf": dow},
                {
                    "dag_id": "events_tracker",
                    "conf": {**dow, "start": "2025-06-02", "end": "2025-06-30"},
                },
                {
                    "dag_id": "correlation_analysis",
                    "conf": {"universe": "dow", "end": "2025-06-30", "window": 120},
                },
                {"dag_id": "risk_propagation", "conf": {"universe": "dow"}},
            ],
            on_report=consumers_after_ingestion,
        )
        started["fleet"].wait_caught_up(180)
    finally:
        if "fleet" in started:
            started["fleet"].stop()

    ingestion, graph, found, _, risk = reports
    for r in reports:
        assert r["state"] == "success", r
        assert all(t["state"] == "success" and t["try_number"] == 1 for t in r["tis"]), r
    assert _states(ingestion)[("ingest_batch", "success")] == 3  # 30 symbols, 12 per task
    assert _states(graph)[("extract_relationships", "success")] == 3
    assert _states(found)[("detect_events", "success")] == 3
    assert started["companies_before"] == 0

    with Runtime(settings) as rt:
        wh = rt.warehouse
        # ingestion: exactly the requested days of every symbol, one message per topic each
        days = business_days(date(2024, 7, 1), date(2025, 6, 30))
        bars = wh.price_bars(DOW)
        assert sorted(bars) == DOW
        assert all(np.array_equal(b.dates, days) for b in bars.values())
        assert [c.symbol for c in wh.companies()] == DOW
        assert len(wh.symbol_stats()) == 30
        (prices_event,) = [
            e for e in ingestion["asset_events"] if e["uri"] == "axiom://price-updates/"
        ]
        assert prices_event["extra"] == {
            "pipeline": "ingestion",
            "universe": "dow",
            "start": "2024-07-01",
            "end": "2025-06-30",
            "records": 60,
        }
        assert {e["uri"] for e in ingestion["asset_events"]} == {
            "axiom://price-updates/",
            "axiom://company-fundamentals/",
        }

        # company graph: the union of the batches is exactly the whole extraction
        expected = extract(wh.companies())
        nodes = Counter(m.node.label for m in expected if m.node is not None)
        rels = Counter(m.edge.type for m in expected if m.edge is not None)
        got = rt.graph.counts()
        assert got.nodes == dict(nodes)
        corr_edges = wh.correlation_edges("pearson")
        assert got.relationships == {**rels, "CORRELATED_WITH": len(corr_edges)}
        assert _bus_ends(rt, GRAPH_MUTATIONS) == len(expected)

        # events: the batches found what one detection over everything finds in the interval
        ctx = PipelineContext(
            rt, RunParams(universe="dow", start=date(2025, 6, 2), end=date(2025, 6, 30))
        )
        want = events.detect_events(ctx, events.fetch_prices(ctx))
        stored = wh.events()
        assert {e.event_id for e in stored} == {e.event_id for e in want}
        assert stored and all(date(2025, 6, 2) <= e.day <= date(2025, 6, 30) for e in stored)

        # correlations: the window ends on the run's last day
        ctx = replace(ctx, params=RunParams(universe="dow", end=date(2025, 6, 30), window=120))
        symbols, rets, window_end = correlations.fetch_returns(ctx)
        want_edges = correlations.compute_edges(ctx, symbols, rets, window_end)
        assert window_end == date(2025, 6, 30)
        assert {(e.a, e.b) for e in corr_edges} == {(e.a, e.b) for e in want_edges}
        assert corr_edges

        # risk: every published score landed under the scenario's id
        (risk_event,) = risk["asset_events"]
        assert wh.counts()["risk_scores"] == risk_event["extra"]["records"] > 0

        runs = {r.pipeline: r for r in wh.runs()}

        # every run recorded once, by Airflow, under its Airflow run id
        assert set(runs) == {"ingestion", "company_graph", "events", "correlations", "risk"}
        for report in reports:
            pipeline = {
                "market_data_ingestion": "ingestion",
                "company_graph_builder": "company_graph",
                "events_tracker": "events",
                "correlation_analysis": "correlations",
                "risk_propagation": "risk",
            }[report["dag_id"]]
            run = runs[pipeline]
            assert run.run_id == f"{pipeline}:{report['run_id']}"
            assert (run.trigger, run.status, run.errors) == ("airflow", "success", 0)
        assert runs["ingestion"].records == 60
        assert runs["company_graph"].records == len(expected)
        assert runs["events"].records == len(want)
        assert len(wh.runs()) == 5


def test_backfill_of_three_days_writes_those_days_and_again_changes_nothing(
    airflow_home: Path, home: Path, fleet: ConsumerFleet
) -> None:
    # A manual run at a day's midnight covers the interval before it, as a backfill does.
    runs = [
        {"dag_id": "market_data_ingestion", "logical_date": f"2025-07-0{d}T00:00:00+00:00",
         "conf": {"universe": "dow", "batch_size": 12}}
        for d in (2, 3, 4)
    ]  # fmt: skip
    first = run_dags(airflow_home, home, runs)
    fleet.wait_caught_up(180)
    assert [r["interval"] for r in first] == [
        [f"2025-07-0{d}T00:00:00+00:00", f"2025-07-0{d + 1}T00:00:00+00:00"] for d in (1, 2, 3)
    ]
    with Runtime(Settings(home=home)) as rt:
        wh = rt.warehouse
        bars = wh.price_bars()
        assert sorted(bars) == DOW
        expected_days = business_days(date(2025, 7, 1), date(2025, 7, 3))
        assert all(np.array_equal(b.dates, expected_days) for b in bars.values())
        assert wh.counts()["prices"] == 30 * 3
        checksums, sent = wh.checksums(), _bus_ends(rt, PRICE_UPDATES)

    second = run_dags(airflow_home, home, runs)
    fleet.wait_caught_up(180)
    assert [r["state"] for r in first + second] == ["success"] * 6
    with Runtime(Settings(home=home)) as rt:
        assert _bus_ends(rt, PRICE_UPDATES) == 2 * sent  # every day was sent again ...
        assert rt.warehouse.checksums() == checksums  # ... and nothing changed
        runs_recorded = rt.warehouse.runs("ingestion")
        assert sorted(r.run_id for r in runs_recorded) == sorted(
            f"ingestion:{r['run_id']}" for r in first + second
        )
        assert {r.status for r in runs_recorded} == {"success"}


def test_a_task_that_fails_twice_then_succeeds_and_one_that_never_does(
    airflow_home: Path, home: Path
) -> None:
    reports = run_dags(
        airflow_home,
        home,
        [
            # no prices at all: every try fails, the run is recorded as failed
            {"dag_id": "events_tracker", "conf": {"universe": "dow"}, "retry_delay_s": 0},
            # no companies until the second retry: the third try succeeds
            {
                "dag_id": "company_graph_builder",
                "conf": {"universe": "dow"},
                "retry_delay_s": 1,
                "heal_on_retry": {"task_id": "fetch_company_data", "after": 2, "universe": "dow"},
            },
        ],
    )
    failed, healed = reports
    assert failed["state"] == "failed"
    (plan,) = [t for t in failed["tis"] if t["task_id"] == "plan_events"]
    assert (plan["state"], plan["try_number"]) == ("failed", 4)  # 1 try + 3 retries
    assert healed["state"] == "success"
    (fetch,) = [t for t in healed["tis"] if t["task_id"] == "fetch_company_data"]
    assert (fetch["state"], fetch["try_number"]) == ("success", 3)
    earlier = [h["try_number"] for h in healed["history"] if h["task_id"] == "fetch_company_data"]
    assert earlier == [1, 2]
    with Runtime(Settings(home=home)) as rt:
        (events_run,) = rt.warehouse.runs("events")
        assert events_run.run_id == f"events:{failed['run_id']}"
        assert (events_run.status, events_run.trigger, events_run.errors) == (
            "failed",
            "airflow",
            1,
        )
        assert events_run.detail.startswith("plan_events: no price bars of universe 'dow'")
        (graph_run,) = rt.warehouse.runs("company_graph")
        assert (graph_run.status, graph_run.run_id) == (
            "success",
            f"company_graph:{healed['run_id']}",
        )
        assert graph_run.records == _bus_ends(rt, GRAPH_MUTATIONS) > 0


def test_backends_come_from_airflow_connections_then_variables_then_env(
    airflow_home: Path, tmp_path: Path
) -> None:
    env_home = tmp_path / "from-env"  # AXIOM_HOME of the worker: overridden, never used
    variable_home = tmp_path / "from-variable"
    warehouse = tmp_path / "from-connection" / "warehouse.db"
    warehouse.parent.mkdir()
    url = f"sqlite:///{warehouse}"
    consumers = ConsumerFleet(Settings(home=variable_home, warehouse=url)).start()
    try:
        (report,) = run_dags(
            airflow_home,
            env_home,
            [
                {
                    "dag_id": "market_data_ingestion",
                    "conf": {"universe": "dow", "start": "2025-07-01", "end": "2025-07-02"},
                }
            ],
            extra_env={
                "AIRFLOW_VAR_AXIOM_SETTINGS": json.dumps({"home": str(variable_home)}),
                "AIRFLOW_CONN_AXIOM_WAREHOUSE": url,
            },
        )
        consumers.wait_caught_up(120)
    finally:
        consumers.stop()
    assert report["state"] == "success"
    assert not env_home.exists()
    assert (variable_home / "bus.db").exists()
    assert not (variable_home / "warehouse.db").exists()
    with Runtime(Settings(home=variable_home, warehouse=url)) as rt:
        assert rt.warehouse.counts()["prices"] == 30 * 2
        (run,) = rt.warehouse.runs()
        assert run.run_id == f"ingestion:{report['run_id']}"
