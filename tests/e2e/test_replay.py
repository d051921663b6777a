"""Replay rebuilds: drop the stores, replay every topic from offset 0, identical stores."""

from __future__ import annotations

from axiom.domain.topics import MAIN_TOPICS
from axiom.pipelines.base import PipelineContext, RunParams
from axiom.pipelines.orchestrate import run_all
from axiom.runtime import Runtime
from axiom.settings import Settings
from tests.conftest import Cli


def _snapshot(rt: Runtime) -> dict[str, object]:
    return {
        "warehouse": rt.warehouse.checksums(),
        "counts": rt.warehouse.counts(),
        "graph": rt.graph.checksum(),
        "companies_docs": rt.vectors.count("companies"),
        "event_docs": rt.vectors.count("market_events"),
    }


def test_replay_from_zero_rebuilds_identical_stores(settings: Settings, cli: Cli) -> None:
    with Runtime(settings) as rt:
        run_all(PipelineContext(rt, RunParams(universe="DOW JONES", years=2)))
        before = _snapshot(rt)
        assert before["counts"]["prices"] > 0  # type: ignore[index]
        rt.warehouse.truncate()
        rt.graph.clear()
        rt.vectors.reset()
        assert rt.warehouse.counts()["prices"] == 0
        assert rt.graph.counts().total_nodes == 0

    for topic in MAIN_TOPICS:
        moved = cli.json("replay", "--topic", topic, "--from-offset", "0")
        assert isinstance(moved, dict) and moved["groups"], topic
    report = cli.json("consume", "--until-caught-up")
    assert isinstance(report, dict)
    assert all(v["dead_lettered"] == 0 for v in report.values())

    with Runtime(settings) as rt:
        after = _snapshot(rt)
    assert after == before
