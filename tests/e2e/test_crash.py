"""SIGKILL a consumer process mid-stream, restart it: nothing lost, nothing doubled."""

from __future__ import annotations

import signal
import time

from axiom.consumers.warehouse_writer import WarehouseWriter
from axiom.domain.topics import PRICE_UPDATES
from axiom.runtime import Runtime
from axiom.settings import Settings
from tests.conftest import Cli
from tests.resume_checks import assert_resumed_exactly


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

    assert_resumed_exactly(Cli(slow), settings, bars, companies)
