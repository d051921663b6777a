"""The consumer fleet: processes and in-process threads, failures surfaced, selective waits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from axiom.consumers.cache_updater import latest_bar_key
from axiom.consumers.fleet import ConsumerFleet, preload_modules
from axiom.consumers.registry import CONSUMER_NAMES
from axiom.errors import PipelineError
from axiom.pipelines.base import PipelineContext, RunParams
from axiom.pipelines.catalog import run_pipeline
from axiom.runtime import Runtime
from axiom.settings import STACK_DEFAULTS, Settings


def test_memory_cache_is_written_in_this_process(settings: Settings) -> None:
    with Runtime(settings) as rt:
        fleet = ConsumerFleet(settings).start()
        try:
            run_pipeline("ingestion", PipelineContext(rt, RunParams(universe="DOW JONES", years=1)))
            fleet.wait_caught_up(300, groups=["cache-updater"])
            assert fleet.lag(["cache-updater"]) == {"cache-updater": 0}
            # the cache updater ran in a thread here, so this process sees its keys
            assert rt.cache.get(latest_bar_key("AAPL")) is not None
            fleet.wait_caught_up(300)
        finally:
            stats = fleet.stop()
    assert stats["warehouse-writer"].records == 60  # 30 fundamentals + 30 price messages
    assert stats["cache-updater"].written >= 30


def test_a_failing_consumer_process_is_reported(tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where a folder should be")
    bad = Settings(home=tmp_path / "home", warehouse=f"sqlite:///{blocked}/wh.db")
    with pytest.raises(PipelineError, match=r"consumer '(warehouse-writer|analytics-engine)'"):
        ConsumerFleet(bad).start()


def test_the_fork_server_preloads_the_adapters_the_consumers_open(tmp_path: Path) -> None:
    embedded = preload_modules(Settings(home=tmp_path), CONSUMER_NAMES)
    assert {"axiom.bus.embedded", "axiom.stores.sqlite", "axiom.stores.chroma"} <= set(embedded)
    assert "axiom.stores.cache_memory" in embedded
    stack = preload_modules(Settings(home=tmp_path, **STACK_DEFAULTS), CONSUMER_NAMES)
    assert {"axiom.bus.kafka", "axiom.stores.postgres", "axiom.stores.redis"} <= set(stack)
    # the Neo4j driver starts a thread at import; a fork would lose it
    assert "axiom.stores.neo4j" not in stack
    only_writer = preload_modules(Settings(home=tmp_path), ["warehouse-writer"])
    assert "axiom.stores.chroma" not in only_writer
    typo = preload_modules(Settings(home=tmp_path, vectors="htp://x"), CONSUMER_NAMES)
    assert not any("chroma" in m for m in typo)


def test_preloaded_modules_start_no_thread(tmp_path: Path) -> None:
    """A fork copies only the forking thread: the fork server must not run any other."""
    modules = sorted(
        set(preload_modules(Settings(home=tmp_path), CONSUMER_NAMES))
        | set(preload_modules(Settings(home=tmp_path, **STACK_DEFAULTS), CONSUMER_NAMES))
    )
    probe = (
        "import os, sys, threading, importlib\n"
        "import numpy\n"  # OpenBLAS's own workers (fork-aware) are the baseline
        "base = len(os.listdir('/proc/self/task'))\n"
        "for m in sys.argv[1:]: importlib.import_module(m)\n"
        "print(threading.active_count(), len(os.listdir('/proc/self/task')) - base)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, *modules], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["1", "0"], (modules, out.stdout, out.stderr[-500:])
