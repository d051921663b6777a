"""SIGKILL a consumer process mid-stream, restart it: nothing lost, nothing doubled."""

from __future__ import annotations

import signal
import time

from axiom.consumers.runner import ConsumerRunner
from axiom.consumers.warehouse_writer import WarehouseWriter
from axiom.domain.topics import PRICE_UPDATES
from axiom.runtime import Runtime
from axiom.settings import Settings
from tests.conftest import Cli


def test_killed_consumer_resumes_exactly(settings: Settings, cli: Cli) -> None:
    published = cli.json("run", "ingestion", "--universe", "S&P 500", "--no-consume")
    assert isinstance(published, dict)
    bars = published["detail"]["price_bars"]
    companies = published["detail"]["companies"]

    slow = {**cli.env, "AXIOM_CONSUMER_BATCH": "5"}
    proc = Cli(slow).popen("consume", "--group", "warehouse-writer")
    with Runtime(settings) as rt:
        deadline = time.monotonic() + 120
        while rt.warehouse.counts()["prices"] < bars // 5:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "consumer made no progress"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        lag = rt.bus.total_lag(WarehouseWriter.name, [PRICE_UPDATES])
        written = rt.warehouse.counts()["prices"]
        assert 0 < written < bars and lag > 0, (written, lag)

    report = Cli(slow).json("consume", "--group", "warehouse-writer", "--until-caught-up")
    assert isinstance(report, dict)
    assert report["warehouse-writer"]["records"] > 0

    with Runtime(settings) as rt:
        counts = rt.warehouse.counts()
        assert counts["prices"] == bars
        assert counts["companies"] == companies
        assert rt.bus.total_lag(WarehouseWriter.name, WarehouseWriter.topics) == 0
        got = rt.warehouse.checksums()

    # A reference writer that never crashed, reading the same log into its own warehouse.
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
