"""`axiom demo --universe "DOW JONES"` end to end, then the query commands on its state."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Cli

REQUIRED = {
    "companies",
    "price_bars",
    "events",
    "correlation_edges",
    "graph",
    "risk",
    "elapsed_s",
    "companies_per_min",
    "simulated",
}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Cli, dict[str, Any]]:
    import os

    home = tmp_path_factory.mktemp("demo")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AXIOM_")}
    env["AXIOM_HOME"] = str(home / "home")
    cli = Cli(env)
    summary = cli.json("demo", "--universe", "DOW JONES")
    assert isinstance(summary, dict)
    return cli, summary


def test_summary_has_every_figure(demo: tuple[Cli, dict[str, Any]]) -> None:
    _, s = demo
    assert s.keys() >= REQUIRED
    assert s["companies"] == 30
    assert s["simulated"] is True
    # 5 years of business days for 30 symbols
    assert 30 * 1250 <= s["price_bars"] <= 30 * 1310
    assert s["events"]["total"] > 0
    assert {"jump", "volume_spike"} <= s["events"]["by_kind"].keys()
    assert s["correlation_edges"] > 0
    g = s["graph"]
    assert g["nodes_by_label"]["Company"] == 30
    assert g["nodes"] == sum(g["nodes_by_label"].values())
    assert g["relationships"] == sum(g["relationships_by_type"].values())
    assert {"PEER_OF", "MEMBER_OF", "IN_INDUSTRY", "CORRELATED_WITH"} <= g[
        "relationships_by_type"
    ].keys()
    assert s["companies_per_min"] > 0 and s["elapsed_s"] > 0


def test_risk_scenario_propagates(demo: tuple[Cli, dict[str, Any]]) -> None:
    _, s = demo
    risk = s["risk"]
    assert len(risk["shocks"]) == 3
    assert risk["debtrank"] > 0
    assert risk["rounds"] >= 1
    top = risk["top"]
    assert top and all(0 < r["loss"] <= 1 for r in top)
    assert [r["loss"] for r in top] == sorted((r["loss"] for r in top), reverse=True)
    # what the summary reports is what the risk consumer wrote to the warehouse
    assert all(r["stored_loss"] == pytest.approx(r["loss"]) for r in top)


def test_every_consumer_caught_up_without_dead_letters(demo: tuple[Cli, dict[str, Any]]) -> None:
    cli, s = demo
    assert set(s["consumers"]) == {
        "warehouse-writer",
        "cache-updater",
        "graph-builder",
        "vector-indexer",
        "analytics-engine",
    }
    assert all(c["dead_lettered"] == 0 for c in s["consumers"].values())
    topics = cli.json("topics")
    assert isinstance(topics, dict)
    for row in topics["topics"]:
        assert all(lag == 0 for lag in row["lag"].values()), row


def test_graph_neighbors_and_filters(demo: tuple[Cli, dict[str, Any]]) -> None:
    cli, _ = demo
    one = cli.json("graph", "neighbors", "AAPL", "--hops", "1")
    assert isinstance(one, dict)
    labels = {n["label"] for n in one["neighbors"]}
    assert {"Index", "Industry", "Company"} <= labels
    peers = cli.json("graph", "neighbors", "AAPL", "--hops", "2", "--type", "PEER_OF")
    assert isinstance(peers, dict)
    assert peers["neighbors"] and all(n["label"] == "Company" for n in peers["neighbors"])
    assert {n["hops"] for n in peers["neighbors"]} <= {1, 2}


def test_risk_shock_command(demo: tuple[Cli, dict[str, Any]]) -> None:
    cli, _ = demo
    detail = cli.json("risk", "shock", "AAPL=-0.3", "MSFT=-0.2")
    assert isinstance(detail, dict)
    assert detail["shocks"] == {"AAPL": -0.3, "MSFT": -0.2}
    assert detail["per_round"][0]["newly_distressed"] == 2
    assert detail["affected"] > 2
