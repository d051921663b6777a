"""The company-graph agent end to end: ``axiom graph extract`` on the embedded backends.

Offline (rule-based) and ``anthropic:<model>`` through the real SDK against the local
Messages-API stand-in (:mod:`axiom.testing.anthropic_fake`, whose answers come from the
rule extractor, not from a model). Checked in the graph store itself: every edge cites a
sentence of its document, a re-run pays nothing and changes nothing, a budget stops the
run with whole companies only.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from axiom.agents.costs import CostGovernor
from axiom.agents.documents import load_folder
from axiom.agents.extractors.rules import extract_text
from axiom.agents.mutations import AGENT_EDGE_TYPES
from axiom.agents.worker import PIPELINE, AgentResources, CompanyGraphAgent, CompanyOutcome
from axiom.pipelines.graph_extract import jobs_for
from axiom.runtime import Runtime
from axiom.settings import Settings
from axiom.testing.anthropic_fake import FakeAnthropicServer
from tests.conftest import Cli

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
MODEL = "anthropic:claude-sonnet-4-6"


def _graph_edges(home: Path) -> dict[tuple[str, str, str], dict[str, Any]]:
    with Runtime(Settings(home=home)) as rt:
        return {(e.src, e.type, e.dst): e.props for e in rt.graph.edges(AGENT_EDGE_TYPES)}


def _by_subject(edges: dict[tuple[str, str, str], dict[str, Any]]) -> dict[str, set[Any]]:
    out: dict[str, set[Any]] = defaultdict(set)
    for key, props in edges.items():
        out[props["subject"]].add(key)
    return out


@pytest.fixture
def fake() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer(responder=extract_text) as srv:
        yield srv


@pytest.fixture
def llm_env(fake: FakeAnthropicServer, tmp_path: Path) -> dict[str, str]:
    return {
        "AXIOM_LLM": MODEL,
        "ANTHROPIC_BASE_URL": fake.url,
        "ANTHROPIC_API_KEY": "test-key",
        "HOME": str(tmp_path),  # no SDK profile of the developer's is picked up
        # The defaults (50 requests, 40k tokens a minute) are a first API tier's limits;
        # the stand-in has none, so the tests are not paced by them.
        "AXIOM_LLM_RPM": "10000",
        "AXIOM_LLM_TPM": "100000000",
    }


def test_offline_extract_cites_its_evidence_and_a_rerun_changes_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    docs = {d.doc_id: d for d in load_folder(CORPUS)}
    first = cli.json("graph", "extract", "--docs", str(CORPUS))
    assert isinstance(first, dict)
    assert first["status"] == "success" and first["documents"] == len(docs)
    assert first["relations_accepted"] > 10 and first["llm"]["calls"] == 0
    edges = _graph_edges(tmp_path / "home")
    assert len(edges) == first["relations_accepted"] == first["relations_added"]
    for (src, _type, _dst), p in edges.items():
        text = docs[p["doc_id"]].text
        assert text[p["span"][0] : p["span"][1]] == p["evidence"]
        assert p["model"] == "offline" and p["source"] == "agent"
        assert src.startswith(("Company:", "External:"))
    externals = [k for k in edges if k[2].startswith("External:")]
    assert externals, "counterparties outside the universe are kept as External nodes"

    again = cli.json("graph", "extract", "--docs", str(CORPUS))
    assert isinstance(again, dict)
    assert again["documents_cached"] == len(docs) and again["relations_added"] == 0
    assert _graph_edges(tmp_path / "home") == edges
    with Runtime(Settings(home=tmp_path / "home")) as rt:
        runs = rt.warehouse.runs("company_graph_agent")
    assert [r.status for r in runs] == ["success", "success"]


def test_claude_path_pays_once_per_document(
    cli: Cli, fake: FakeAnthropicServer, llm_env: dict[str, str], tmp_path: Path
) -> None:
    n_docs = len(load_folder(CORPUS))
    first = cli.json("graph", "extract", "--docs", str(CORPUS), env=llm_env)
    assert isinstance(first, dict) and first["status"] == "success"
    assert fake.stats.ok == n_docs == first["llm"]["calls"]
    assert first["llm"]["cost_usd"] > 0 and first["llm"]["input_tokens"] > 0
    assert sum(first["cost_by_company"].values()) == pytest.approx(first["llm"]["cost_usd"])
    edges = _graph_edges(tmp_path / "home")
    assert edges and all(p["model"].startswith("claude-sonnet-4-6") for p in edges.values())

    fake.reset_stats()
    again = cli.json("graph", "extract", "--docs", str(CORPUS), env=llm_env)
    assert isinstance(again, dict)
    assert fake.stats.requests == 0 and again["llm"]["calls"] == 0
    assert again["documents_cached"] == n_docs
    assert _graph_edges(tmp_path / "home") == edges


def test_fabricated_evidence_never_reaches_the_graph(
    cli: Cli, fake: FakeAnthropicServer, llm_env: dict[str, str], tmp_path: Path
) -> None:
    def lying(symbol: str, name: str, text: str) -> list[dict[str, Any]]:
        made_up = f"{name} buys all of its graphics chips from Nvidia."
        return [
            *extract_text(symbol, name, text),
            {"relation": "customer_of", "counterparty": "NVIDIA", "evidence": made_up,
             "confidence": 0.99},
        ]  # fmt: skip

    fake.responder = lying
    report = cli.json("graph", "extract", "--docs", str(CORPUS), env=llm_env)
    assert isinstance(report, dict)
    n_docs = len(load_folder(CORPUS))
    assert report["rejected"].get("evidence_not_found", 0) >= n_docs
    edges = _graph_edges(tmp_path / "home")
    assert not any("graphics chips from Nvidia" in p["evidence"] for p in edges.values())


def test_budget_stops_cleanly_with_whole_companies_only(
    cli: Cli, fake: FakeAnthropicServer, llm_env: dict[str, str], tmp_path: Path
) -> None:
    full_home = tmp_path / "full"
    full = cli.json("graph", "extract", "--docs", str(CORPUS),
                    env={**llm_env, "AXIOM_HOME": str(full_home)})  # fmt: skip
    assert isinstance(full, dict) and full["status"] == "success"
    expected = _by_subject(_graph_edges(full_home))
    fake.reset_stats()

    budget = 3.5 * full["llm"]["cost_usd"] / full["llm"]["calls"] + 0.031
    proc = cli.run("graph", "extract", "--docs", str(CORPUS), "--budget", f"{budget:.4f}",
                   "--json", env=llm_env, check=False)  # fmt: skip
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: LLM budget of $") and "AXIOM_LLM_BUDGET_USD" in last
    paid_first = fake.stats.ok
    assert 0 < paid_first < full["llm"]["calls"]
    got = _by_subject(_graph_edges(tmp_path / "home"))
    done = [s for s in expected if got.get(s)]
    assert 0 < len(done) < len(expected)
    for subject, keys in got.items():
        assert keys == expected[subject], f"{subject} was half written"
    with Runtime(Settings(home=tmp_path / "home")) as rt:
        (run,) = rt.warehouse.runs("company_graph_agent")
    assert run.status == "partial" and "budget" in run.detail

    fake.reset_stats()
    rest = cli.json("graph", "extract", "--docs", str(CORPUS), env=llm_env)
    assert isinstance(rest, dict) and rest["status"] == "success"
    assert fake.stats.ok == full["llm"]["calls"] - paid_first, "a document was paid twice"
    assert _by_subject(_graph_edges(tmp_path / "home")) == expected


def test_documents_of_an_unknown_company_are_reported_not_written(cli: Cli, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(CORPUS, docs)
    (docs / "ZZZZ9.md").write_text("ZZZZ9 Corp competes with Apple Inc. in phones.\n")
    proc = cli.run("graph", "extract", "--docs", str(docs), "--json", check=False)
    assert proc.returncode == 1
    assert "1 of" in proc.stderr.strip().splitlines()[-1]
    edges = _graph_edges(tmp_path / "home")
    assert edges and not any("ZZZZ9" in p["subject"] for p in edges.values())


#: One body, read about Apple: Apple buys from TSMC and competes with Microsoft; read about
#: Microsoft: only that Microsoft competes with Apple (the TSMC sentence is not about it).
SHARED_BODY = (
    "Apple buys most of its processors from Taiwan Semiconductor Manufacturing.\n"
    "Microsoft competes with Apple in personal computers.\n"
)


def _filed(folder: Path, name: str, company: str) -> None:
    (folder / name).write_text(f"---\ncompany: {company}\n---\n{SHARED_BODY}")


def _run_folder(agent: CompanyGraphAgent, folder: Path) -> dict[str, CompanyOutcome]:
    return {job.symbol: agent(job) for job in jobs_for(load_folder(folder))}


def _edges(outcome: CompanyOutcome) -> set[tuple[str, str, str, str]]:
    return {(a["src"], a["relation"], a["dst"], a["evidence"]) for a in outcome.accepted}


@pytest.mark.parametrize("llm", ["offline", MODEL])
def test_same_body_under_two_companies_is_extracted_for_each(
    llm: str,
    fake: FakeAnthropicServer,
    llm_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The extraction cache is keyed by the subject company too, not by text alone.

    In process on the embedded backends; ``fake.stats.ok`` counts the paid calls of the
    Claude path (the offline path never calls it).
    """
    for var in ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "HOME"):
        monkeypatch.setenv(var, llm_env[var])
    settings = Settings(home=tmp_path / "home", llm=llm, llm_rpm=10_000, llm_tpm=10**8)
    calls = 2 if llm == MODEL else 0
    docs = tmp_path / "docs"
    docs.mkdir()
    _filed(docs, "a-apple.md", "AAPL")
    _filed(docs, "b-microsoft.md", "MSFT")
    tsmc = "Apple buys most of its processors from Taiwan Semiconductor Manufacturing."
    rivals = "Microsoft competes with Apple in personal computers."
    apple = {
        ("Company:AAPL", "customer_of", "External:taiwan-semiconductor-manufacturing", tsmc),
        ("Company:AAPL", "competes_with", "Company:MSFT", rivals),
    }
    microsoft = {("Company:MSFT", "competes_with", "Company:AAPL", rivals)}
    agent = CompanyGraphAgent(
        AgentResources(settings, CostGovernor.from_settings(settings, PIPELINE)), owns=True
    )
    try:
        first = _run_folder(agent, docs)
        assert {s: o.status for s, o in first.items()} == {"AAPL": "done", "MSFT": "done"}
        assert _edges(first["AAPL"]) == apple
        assert _edges(first["MSFT"]) == microsoft, "Microsoft was served Apple's extraction"
        assert first["AAPL"].cached_docs == first["MSFT"].cached_docs == 0
        assert fake.stats.ok == calls == sum(o.calls for o in first.values())

        fake.reset_stats()
        again = _run_folder(agent, docs)  # unchanged documents: never extracted again
        assert again["AAPL"].cached_docs == again["MSFT"].cached_docs == 1
        assert fake.stats.requests == 0 and sum(o.calls for o in again.values()) == 0
        assert _edges(again["AAPL"]) == apple and _edges(again["MSFT"]) == microsoft

        _filed(docs, "b-microsoft.md", "GOOGL")  # its company: front matter changed
        moved = _run_folder(agent, docs)
        assert moved["AAPL"].cached_docs == 1 and moved["GOOGL"].cached_docs == 0
        assert fake.stats.ok == calls // 2
        assert moved["GOOGL"].status == "done" and _edges(moved["GOOGL"]) == set()
    finally:
        agent.close()
