"""The check shared by the crash tests of every bus: a restarted consumer lost and doubled
nothing, compared with a writer on the same log that never crashed."""

from __future__ import annotations

from axiom.consumers.runner import ConsumerRunner
from axiom.consumers.warehouse_writer import WarehouseWriter
from axiom.runtime import Runtime
from axiom.settings import Settings
from tests.conftest import Cli


def assert_resumed_exactly(
    cli: Cli, settings: Settings, bars: int, companies: int, timeout: float = 600
) -> None:
    """Restart the killed warehouse writer until caught up, then check counts and checksums."""
    report = cli.json(
        "consume", "--group", "warehouse-writer", "--until-caught-up", timeout=timeout
    )
    assert isinstance(report, dict)
    assert report["warehouse-writer"]["records"] > 0

    with Runtime(settings) as rt:
        counts = rt.warehouse.counts()
        assert counts["prices"] == bars
        assert counts["companies"] == companies
        assert rt.bus.total_lag(WarehouseWriter.name, WarehouseWriter.topics) == 0
        got = rt.warehouse.checksums()

    ref_settings = settings.model_copy(
        update={"warehouse": f"sqlite:///{settings.home_dir / 'reference.db'}"}
    )
    with Runtime(ref_settings) as ref:
        sink = WarehouseWriter(ref.warehouse)
        sink.name = "reference-writer"
        runner = ConsumerRunner(sink, ref.bus, batch_size=500)
        runner.run(until_caught_up=True)
        runner.close()
        want = ref.warehouse.checksums()
    assert got["prices"] == want["prices"]
    assert got["companies"] == want["companies"]
