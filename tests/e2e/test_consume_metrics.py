"""`axiom consume` as a long-running process: /metrics while running, clean SIGTERM stop."""

from __future__ import annotations

import signal
import socket
import time
import urllib.request

from tests.conftest import Cli


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_consumer_process_serves_metrics_and_stops_on_sigterm(cli: Cli) -> None:
    cli.run("run", "ingestion", "--universe", "DOW JONES", "--years", "1", "--no-consume")
    port = _free_port()
    proc = Cli({**cli.env, "AXIOM_METRICS_PORT": str(port)}).popen(
        "consume", "--group", "warehouse-writer", "--json"
    )
    body = ""
    try:
        deadline = time.monotonic() + 60
        while (
            "axiom_consumer_messages_total" not in body or 'consumer="warehouse-writer"' not in body
        ):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, body[-2000:]
            time.sleep(0.2)
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
                    body = r.read().decode()
            except OSError:
                continue
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "axiom_records_processed_total" in body
    assert '"warehouse-writer"' in stdout
