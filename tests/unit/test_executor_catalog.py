"""Executor port (local), the pipeline catalog and the import-cycle check."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from axiom.compute.base import batched
from axiom.compute.local import LocalExecutor
from axiom.devtools.import_cycles import find_cycles
from axiom.errors import ConfigError, UnknownPipelineError
from axiom.pipelines.catalog import CATALOG, PIPELINES, get
from axiom.pipelines.orchestrate import start_order
from axiom.settings import Settings


def test_batched() -> None:
    assert batched([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]
    with pytest.raises(ValueError, match="batch size"):
        batched([1], 0)


def test_map_keeps_order_and_runs_in_parallel() -> None:
    seen: set[str] = set()

    def slow(x: int) -> int:
        seen.add(threading.current_thread().name)
        time.sleep(0.05)
        return x * x

    done: list[int] = []
    with LocalExecutor(4) as ex:
        t0 = time.perf_counter()
        assert ex.map(slow, list(range(8)), on_done=done.append) == [x * x for x in range(8)]
        elapsed = time.perf_counter() - t0
    assert sorted(done) == list(range(8))
    assert len(seen) > 1
    assert elapsed < 8 * 0.05  # sequential would take 0.4 s


def test_map_reraises_first_error() -> None:
    def boom(x: int) -> int:
        if x == 3:
            raise RuntimeError("item 3 failed")
        return x

    with LocalExecutor(2) as ex, pytest.raises(RuntimeError, match="item 3"):
        ex.map(boom, list(range(6)))


def test_processes_executor() -> None:
    with LocalExecutor.from_url("local://processes", Settings(workers=2)) as ex:
        assert ex.map(abs, [-1, -2, 3]) == [1, 2, 3]
    with pytest.raises(ConfigError):
        LocalExecutor.from_url("local://gpus", Settings())


def test_catalog_order_respects_dependencies() -> None:
    seen: set[str] = set()
    for spec in CATALOG:
        assert set(spec.depends_on) <= seen, spec.name
        seen.add(spec.name)
    assert list(PIPELINES) == ["ingestion", "company_graph", "events", "correlations", "risk"]
    assert get("company-graph").name == "company_graph"
    with pytest.raises(UnknownPipelineError, match="did you mean 'events'"):
        get("evnts")
    for spec in CATALOG:
        assert callable(spec.runner())


def test_a_wave_starts_with_the_pipeline_feeding_the_most_consumers() -> None:
    # market-events: warehouse writer, cache updater, vector indexer; graph-mutations and
    # correlation-updates: two groups each, then catalog order.
    assert start_order(["correlations", "company_graph", "events"]) == [
        "events",
        "company_graph",
        "correlations",
    ]
    assert start_order(["risk"]) == ["risk"]


def test_axiom_has_no_import_cycles() -> None:
    assert find_cycles("axiom") == []


def test_cycle_finder_reports_a_planted_cycle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pkg = tmp_path / "cyclepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from cyclepkg import b\n")
    (pkg / "b.py").write_text("from cyclepkg import c\n")
    (pkg / "c.py").write_text("import cyclepkg.a\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert find_cycles("cyclepkg") == [["cyclepkg.a", "cyclepkg.b", "cyclepkg.c"]]
    finally:
        for name in [m for m in sys.modules if m.startswith("cyclepkg")]:
            del sys.modules[name]
