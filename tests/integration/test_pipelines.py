"""Pipelines on the embedded backends: folder source, idempotent re-runs, metrics, runs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from prometheus_client import REGISTRY

from axiom.analytics.returns import log_returns
from axiom.domain.models import PriceBars
from axiom.pipelines.base import PipelineContext, RunParams
from axiom.pipelines.correlations import MIN_COVERAGE, fetch_returns
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


def _walk(symbol: str, days: np.ndarray, seed: int) -> PriceBars:
    rng = np.random.default_rng(seed)
    close = 50 * np.exp(np.cumsum(rng.normal(0, 0.02, days.shape[0])))
    return PriceBars(
        symbol, days, close, close * 1.01, close * 0.99, close, np.full(len(days), 1e5)
    )


def _full_window(read: Any, params: RunParams) -> tuple[list[str], np.ndarray]:
    """The window as the whole history gives it: the reference for the bounded read."""
    cm = read(None, end=params.end)
    rets = log_returns(cm.values[-(params.window + 1) :])
    keep = np.isfinite(rets).mean(axis=0) >= MIN_COVERAGE
    return [s for s, k in zip(cm.symbols, keep, strict=True) if k], rets[:, keep]


@pytest.mark.parametrize("ended_days_ago", [0, 60, 700])
def test_correlations_read_only_the_window_and_get_what_the_whole_history_gives(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, ended_days_ago: int
) -> None:
    last = np.datetime64(datetime.now(UTC).date()) - ended_days_ago
    business = np.busday_offset(last, -np.arange(900)[::-1], roll="backward")
    bars = [_walk(s, business, i) for i, s in enumerate(("AAA", "BBB", "CCC", "DDD"))]
    bars.append(_walk("GONE", business[:300], 9))  # delisted long before the window
    bars.append(_walk("NEW", business[-100:], 10))  # listed inside a 252-day window
    runtime.warehouse.upsert_prices(bars)
    reads: list[date | None] = []
    read = runtime.warehouse.close_matrix

    def recording(symbols: object = None, start: date | None = None, end: object = None) -> object:
        reads.append(start)
        return read(symbols, start=start, end=end)  # type: ignore[arg-type]

    monkeypatch.setattr(runtime.warehouse, "close_matrix", recording)
    for params in (
        RunParams(window=60),
        RunParams(window=252),
        RunParams(window=60, end=business[500].astype(object)),  # a window in the past
    ):
        reads.clear()
        symbols, rets, window_end = fetch_returns(PipelineContext(runtime, params))
        want_symbols, want = _full_window(read, params)
        assert symbols == want_symbols
        assert {"AAA", "BBB", "CCC", "DDD"} <= set(symbols) and "GONE" not in symbols
        assert ("NEW" in symbols) == (params.window <= 100 and params.end is None)
        assert rets.shape == (params.window, len(symbols))
        np.testing.assert_array_equal(rets, want)
        assert window_end == (params.end or business[-1].astype(object))
        # bounded reads: up to today, then up to the data's last day when it ended
        # earlier; the whole history (start None) only when it ended long ago
        if params.end is not None or ended_days_ago == 0:
            assert len(reads) == 1 and reads[0] is not None
        elif ended_days_ago < 300:
            assert len(reads) == 2 and None not in reads
        else:
            assert len(reads) == 2 and reads[0] is not None and reads[1] is None
