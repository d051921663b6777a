"""Pipelines on the embedded backends: folder source, idempotent re-runs, metrics, runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from prometheus_client import REGISTRY

from axiom.pipelines.base import PipelineContext, RunParams
from axiom.pipelines.orchestrate import run_with_consumers
from axiom.runtime import Runtime


def _write_csv(folder: Path, symbol: str, seed: int) -> int:
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2023-01-02", "2024-06-28")
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.015, len(days))))
    frame = pd.DataFrame(
        {
            "Date": days.strftime("%Y-%m-%d"),
            "Open": close * 0.999,
            "High": close * 1.01,
            "Low": close * 0.99,
            "Close": close,
            "Adj Close": close,
            "Volume": rng.integers(1e5, 1e6, len(days)),
        }
    )
    frame.to_csv(folder / f"{symbol}.csv", index=False)
    return len(days)


def test_folder_source_keeps_real_metadata_and_is_not_simulated(
    runtime: Runtime, tmp_path: Path
) -> None:
    folder = tmp_path / "prices"
    folder.mkdir()
    n = sum(_write_csv(folder, s, i) for i, s in enumerate(["AAPL", "MSFT", "ZZZZ"]))
    ctx = PipelineContext(runtime, RunParams(source=str(folder)))
    result = run_with_consumers(ctx, ["ingestion", "events", "correlations"])
    ingestion = result.results[0]
    assert ingestion.detail["simulated"] is False
    assert ingestion.detail["price_bars"] == n
    wh = runtime.warehouse
    assert wh.counts()["prices"] == n
    companies = {c.symbol: c for c in wh.companies()}
    assert set(companies) == {"AAPL", "MSFT", "ZZZZ"}
    assert companies["AAPL"].isin == "US0378331005"  # real metadata joined by symbol
    assert companies["ZZZZ"].name == "ZZZZ"
    bars = wh.price_bars(["AAPL"])["AAPL"]
    assert bars.simulated is False


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_reruns_publish_nothing_new_and_metrics_count(runtime: Runtime) -> None:
    params = RunParams(universe="DOW JONES", years=2)
    runs_before = _sample(
        "axiom_pipeline_runs_total", {"name": "correlations", "status": "success"}
    )
    first = run_with_consumers(
        PipelineContext(runtime, params),
        ["ingestion", "company_graph", "events", "correlations", "risk"],
    )
    by_name = {r.pipeline: r for r in first.results}
    assert by_name["correlations"].detail["changed"] > 0
    checks = runtime.warehouse.checksums()

    again = run_with_consumers(PipelineContext(runtime, params), ["correlations", "risk"])
    corr, risk = again.results
    assert corr.detail["changed"] == 0 and corr.records == 0
    assert risk.detail["scenario_id"] == by_name["risk"].detail["scenario_id"]
    assert runtime.warehouse.checksums() == checks  # the re-run changed nothing

    assert (
        _sample("axiom_pipeline_runs_total", {"name": "correlations", "status": "success"})
        == runs_before + 2
    )
    runs = runtime.warehouse.runs("correlations")
    assert len(runs) == 2 and all(r.status == "success" for r in runs)
    assert runs[0].records == 0 and runs[1].records > 0
