"""The consumer fleet: processes and in-process threads, failures surfaced, selective waits."""

from __future__ import annotations

from pathlib import Path

import pytest

from axiom.consumers.cache_updater import latest_bar_key
from axiom.consumers.fleet import ConsumerFleet
from axiom.errors import PipelineError
from axiom.pipelines.base import PipelineContext, RunParams
from axiom.pipelines.catalog import run_pipeline
from axiom.runtime import Runtime
from axiom.settings import Settings


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
