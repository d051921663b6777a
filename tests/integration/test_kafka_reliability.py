"""Kafka under faults: a broker restart while producing, a killed consumer, a down broker.

The faults are injected into a throw-away broker of this module (started with the same
``deploy/local/kafka.sh`` on free ports, its state in a temporary folder), not into the
stack's shared broker: restarting that one would break whatever else is using it, and a
fresh broker makes "the log holds exactly what this test published" hold without
deleting anyone's topics or borrowing anyone's consumer group.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from axiom.bus.kafka import KafkaBus
from axiom.bus.kafka_common import parse_bootstrap
from axiom.bus.kafka_producer import KafkaProducer
from axiom.consumers.warehouse_writer import WarehouseWriter
from axiom.domain.topics import PRICE_UPDATES, TopicSpec
from axiom.errors import BackendError, BackendUnavailableError
from axiom.runtime import Runtime
from axiom.settings import Settings
from tests.conftest import Cli
from tests.resume_checks import assert_resumed_exactly
from tests.servers import server_url

pytestmark = pytest.mark.kafka

REPO = Path(__file__).resolve().parents[2]
LAUNCHER = REPO / "deploy" / "local" / "kafka.sh"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Broker:
    """A private single-node broker run by ``deploy/local/kafka.sh`` with its own state."""

    home: Path
    port: int
    env: dict[str, str]

    @property
    def url(self) -> str:
        return f"kafka://127.0.0.1:{self.port}"

    def launcher(self, verb: str) -> None:
        proc = subprocess.run(
            ["bash", str(LAUNCHER), verb],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=150,
            check=False,
        )
        assert proc.returncode == 0, f"kafka.sh {verb}: {proc.stderr[-2000:]}"

    def kill(self) -> None:
        """SIGKILL the broker (no controlled shutdown) and wait until it is gone."""
        pid = int((self.home / "kafka" / "kafka.pid").read_text())
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        raise AssertionError(f"broker pid {pid} survived SIGKILL")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broker]:
    server_url("kafka")  # the stack's broker is installed: its jars are reused here
    services = Path(os.environ.get("AXIOM_SERVICES_HOME", REPO / ".services"))
    libs = services / "kafka" / "libs"
    assert (libs / ".complete").exists(), (
        f"no Kafka jars in {libs}; run deploy/local/kafka.sh install"
    )
    home = tmp_path_factory.mktemp("kafka-services")
    port = _free_port()
    env = {
        **os.environ,
        "AXIOM_SERVICES_HOME": str(home),
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(_free_port()),
        "KAFKA_LIBS": str(libs),
    }
    private = Broker(home, port, env)
    private.launcher("start")
    try:
        yield private
    finally:
        private.launcher("stop")


def _read_everything(bus: KafkaBus, topic: str) -> list[bytes]:
    """Every message of ``topic`` (as far as the end offsets say), via a fresh group."""
    expected = sum(bus.end_offsets(topic).values())
    group = f"audit-{uuid.uuid4().hex[:12]}"
    out: list[bytes] = []
    deadline = time.monotonic() + 60
    with bus.consumer(group, [topic]) as consumer:
        while len(out) < expected and time.monotonic() < deadline:
            out.extend(r.value for r in consumer.poll(5000, timeout_s=0.2))
        out.extend(r.value for r in consumer.poll(5000, timeout_s=0.2))
    bus.delete_group(group)
    return out


# -- (a) broker restart while producing ----------------------------------------------------


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_acknowledged_messages_survive_a_broker_restart_exactly_once(
    broker: Broker, tmp_path: Path, how: str
) -> None:
    batch_size = 500
    topic = f"restart-{uuid.uuid4().hex[:12]}"
    acked: list[str] = []
    unacked: list[str] = []
    flush_seconds: list[float] = []
    restarted = threading.Event()
    restart_error: list[BaseException] = []

    def restart() -> None:
        try:
            time.sleep(1.0)
            if how == "stop":
                broker.launcher("stop")
            else:
                broker.kill()
            time.sleep(1.0)
            broker.launcher("start")
        except BaseException as exc:  # reported by the test thread
            restart_error.append(exc)
        finally:
            restarted.set()

    with KafkaBus.from_url(broker.url, Settings(home=tmp_path)) as bus:
        bus.ensure_topics([TopicSpec(topic, 3, "test")])
        thread = threading.Thread(target=restart, daemon=True)
        seq, after = 0, 0
        deadline = time.monotonic() + 150
        with bus.producer(client_id="restart-test") as producer:
            thread.start()
            while (not restarted.is_set() or after < 5) and time.monotonic() < deadline:
                batch = [f"m-{seq + i}" for i in range(batch_size)]
                for i, value in enumerate(batch):
                    producer.send(topic, value.encode(), key=f"SYM{(seq + i) % 97}")
                seq += batch_size
                start = time.monotonic()
                try:
                    producer.flush(timeout_s=30)
                    acked.extend(batch)
                except BackendError:
                    unacked.extend(batch)
                flush_seconds.append(time.monotonic() - start)
                if restarted.is_set():
                    after += 1
        thread.join(60)
        assert not restart_error, restart_error
        values = Counter(v.decode() for v in _read_everything(bus, topic))
        bus.delete_topics([topic])

    assert max(flush_seconds) > 1.0, "a flush waited for the broker to come back"
    assert len(acked) >= 5 * batch_size
    assert all(values[v] == 1 for v in acked), "every acknowledged message exactly once"
    assert max(values.values()) == 1, "no message twice, acknowledged or not"
    assert set(values) <= set(acked) | set(unacked), "nothing that was not sent"
    print(
        f"{how}: {len(acked)} acknowledged, {len(unacked)} unacknowledged, "
        f"{len(values)} in the log, longest flush {max(flush_seconds):.1f}s"
    )


# -- (b) a consumer killed mid-stream -------------------------------------------------------


def test_killed_consumer_resumes_exactly_on_kafka(broker: Broker, tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AXIOM_")}
    env.update({"AXIOM_HOME": str(home), "AXIOM_BUS": broker.url})
    cli = Cli(env)
    settings = Settings(home=home, bus=broker.url)
    with KafkaBus.from_url(broker.url, settings) as bus:
        assert PRICE_UPDATES not in bus.list_topics(), "a fresh broker: only this test publishes"

    published = cli.json(
        "run", "ingestion", "--universe", "DOW JONES", "--years", "20", "--no-consume"
    )
    assert isinstance(published, dict)
    bars = published["detail"]["price_bars"]
    companies = published["detail"]["companies"]
    assert published["published"][PRICE_UPDATES] > 30, "several messages per symbol"

    slow = Cli({**env, "AXIOM_CONSUMER_BATCH": "1"})
    proc = slow.popen("consume", "--group", "warehouse-writer")
    try:
        with Runtime(settings) as rt:
            deadline = time.monotonic() + 120
            while rt.warehouse.counts()["prices"] < bars // 5:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "consumer made no progress"
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            lag = rt.bus.total_lag(WarehouseWriter.name, [PRICE_UPDATES])
            written = rt.warehouse.counts()["prices"]
            assert 0 < written < bars and lag > 0, (written, lag)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)

    assert_resumed_exactly(slow, settings, bars, companies, timeout=180)


# -- (c) a broker that is down ------------------------------------------------------------


def test_a_down_broker_is_a_fast_one_line_error(tmp_path: Path) -> None:
    url = "kafka://127.0.0.1:1"
    start = time.monotonic()
    with pytest.raises(BackendUnavailableError) as info:
        KafkaBus.from_url(url, Settings(home=tmp_path))
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert url in message and "\n" not in message

    env = {k: v for k, v in os.environ.items() if not k.startswith("AXIOM_")}
    env.update({"AXIOM_HOME": str(tmp_path / "home"), "AXIOM_BUS": url})
    start = time.monotonic()
    proc = Cli(env).run("topics", check=False, timeout=60)
    assert time.monotonic() - start < 20
    assert proc.returncode != 0
    assert url in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_a_producer_whose_broker_is_gone_fails_within_its_timeout(tmp_path: Path) -> None:
    url = "kafka://127.0.0.1:1"
    producer = KafkaProducer(parse_bootstrap(url), url, client_id="down-test")
    start = time.monotonic()
    with pytest.raises(BackendUnavailableError, match=r"127\.0\.0\.1:1"):
        producer.send("price-updates", b"x", key="k")
    assert time.monotonic() - start < 10
    producer.close()
