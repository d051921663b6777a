"""The agent fanned out over a Ray actor pool, with an actor killed mid-run.

``AXIOM_EXECUTOR=ray://local``: each actor holds its own Claude client (the real SDK
against the local Messages-API stand-in, 0.3 s per answer), graph store and producer.
Actors are threaded (two companies at once, a producer per thread). While the run is
going the test SIGKILLs one actor process; Ray restarts it and re-runs
its in-flight company, and every company still ends in the graph exactly once, with the
same edges as a run on local threads.
"""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from pathlib import Path

import orjson
import psutil
import pytest
from prometheus_client import REGISTRY

from axiom.agents.documents import load_folder
from axiom.agents.extractors.rules import extract_text
from axiom.agents.mutations import AGENT_EDGE_TYPES
from axiom.pipelines import graph_extract
from axiom.pipelines.base import PipelineContext
from axiom.runtime import Runtime
from axiom.settings import Settings
from axiom.testing.anthropic_fake import FakeAnthropicServer
from tests.conftest import Cli

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
ACTOR_TITLE = "ray::_WorkerHost"


def _actor_pids(root: int) -> list[int]:
    try:
        kids = psutil.Process(root).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    out = []
    for p in kids:
        try:
            if any(ACTOR_TITLE in part for part in p.cmdline()):
                out.append(p.pid)
        except psutil.Error:
            continue
    return out


def _edges(home: Path) -> dict[tuple[str, str, str], str]:
    with Runtime(Settings(home=home)) as rt:
        return {(e.src, e.type, e.dst): e.props["doc_id"] for e in rt.graph.edges(AGENT_EDGE_TYPES)}


def test_actor_killed_mid_run_every_company_once(cli: Cli, tmp_path: Path) -> None:
    companies = {d.company for d in load_folder(CORPUS)}
    with FakeAnthropicServer(responder=extract_text, latency_s=0.3) as fake:
        env = {
            "AXIOM_LLM": "anthropic:claude-haiku-4-5",
            "ANTHROPIC_BASE_URL": fake.url,
            "ANTHROPIC_API_KEY": "test-key",
            "HOME": str(tmp_path),
            "AXIOM_LLM_RPM": "10000",
            "AXIOM_LLM_TPM": "100000000",
        }
        reference = cli.json("graph", "extract", "--docs", str(CORPUS),
                             env={**env, "AXIOM_HOME": str(tmp_path / "ref")})  # fmt: skip
        assert isinstance(reference, dict) and reference["status"] == "success"
        fake.reset_stats()

        cli.env.update(
            env,
            AXIOM_EXECUTOR="ray://local",
            AXIOM_AGENT_ACTORS="3",
            AXIOM_AGENT_ACTOR_CONCURRENCY="2",
        )
        proc = cli.popen("graph", "extract", "--docs", str(CORPUS), "--json")
        killed = None
        deadline = time.monotonic() + 180
        while killed is None and time.monotonic() < deadline and proc.poll() is None:
            actors = _actor_pids(proc.pid)
            if fake.stats.ok >= 4 and actors:
                killed = actors[0]
                os.kill(killed, signal.SIGKILL)
            time.sleep(0.05)
        out, err = proc.communicate(timeout=300)
    assert killed is not None, f"no actor process seen to kill:\n{err[-2000:]}"
    assert proc.returncode == 0, err[-3000:]
    report = orjson.loads(out)  # stdout holds the report only, whatever Ray prints
    assert report["companies_by_status"] == {"done": len(companies)}
    assert report["workers"] >= 2  # outcomes came from several actor processes
    edges = _edges(tmp_path / "home")
    assert edges == _edges(tmp_path / "ref")
    subjects = Counter(src for src, _, _ in edges)
    assert {s.split(":", 1)[1] for s in subjects} <= companies
    assert len(report["relations"]) == len(
        {(r["src"], r["relation"], r["dst"]) for r in report["relations"]}
    )


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_what_ray_actors_spend_is_in_the_drivers_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Actors book spend in their own processes; the driver, which is scraped, adds it up."""
    model, pipeline = "claude-haiku-4-5", "company_graph_agent"
    keys = {
        "calls": ("axiom_claude_api_calls_total", {"model": model}),
        "cost": ("axiom_claude_api_cost_dollars_total", {"pipeline": pipeline}),
        "input": (
            "axiom_claude_api_tokens_total",
            {"model": model, "pipeline": pipeline, "direction": "input"},
        ),
        "output": (
            "axiom_claude_api_tokens_total",
            {"model": model, "pipeline": pipeline, "direction": "output"},
        ),
    }
    before = {k: _metric(n, **labels) for k, (n, labels) in keys.items()}
    with FakeAnthropicServer(responder=extract_text, latency_s=0.05) as fake:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
        settings = Settings(
            home=tmp_path / "home", llm=f"anthropic:{model}", executor="ray://local",
            agent_actors=2, workers=2, llm_rpm=10_000, llm_tpm=100_000_000,
        )  # fmt: skip
        with Runtime(settings) as rt:
            result = graph_extract.run(PipelineContext(rt), CORPUS)
        served = fake.stats.ok
    llm = result.detail["llm"]
    assert result.detail["workers"] >= 1 and llm["calls"] == served > 0
    grew = {k: _metric(n, **labels) - before[k] for k, (n, labels) in keys.items()}
    assert grew["calls"] == llm["calls"]
    assert grew["input"] == llm["input_tokens"] > 0
    assert grew["output"] == llm["output_tokens"] > 0
    assert grew["cost"] == pytest.approx(llm["cost_usd"], rel=1e-6)
