"""The Chroma vector index over HTTP: the vector contract on the local Chroma server.

Each contract test gets a database of its own on the long-lived server of
``deploy/local/chroma.sh`` (created before, dropped after), so ``reset()`` in one test never
touches another's collections. Tests that go through ``from_url`` use the default database
with collection names of their own and drop only those. The fault test runs a private
``chroma run`` on a free port and stops it mid-session.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import chromadb
import httpx
import pytest
from chromadb.config import Settings as ChromaSettings

from axiom.errors import BackendUnavailableError
from axiom.registry import open_backend
from axiom.settings import Settings
from axiom.stores.chroma import ChromaVectorIndex

from ..servers import server_url
from .vector_contract import COLLECTION, META, PROFILES, VectorIndexContract

pytestmark = pytest.mark.chroma_server


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 8000


def _client_settings() -> ChromaSettings:
    return ChromaSettings(anonymized_telemetry=False)


def _admin(url: str) -> chromadb.api.AdminAPI:
    host, port = _host_port(url)
    return chromadb.AdminClient(
        ChromaSettings(
            chroma_api_impl="chromadb.api.fastapi.FastAPI",
            chroma_server_host=host,
            chroma_server_http_port=port,
            anonymized_telemetry=False,
        )
    )


def _collection() -> str:
    return f"test-{uuid.uuid4().hex}"


@pytest.fixture
def vectors() -> Iterator[ChromaVectorIndex]:
    url = server_url("chroma")
    host, port = _host_port(url)
    database = f"test-{uuid.uuid4().hex}"
    admin = _admin(url)
    admin.create_database(database)
    client = chromadb.HttpClient(
        host=host, port=port, database=database, settings=_client_settings()
    )
    index = ChromaVectorIndex(client, url)
    yield index
    index.reset()
    index.close()
    admin.delete_database(database)


class TestChromaServerVectorIndex(VectorIndexContract):
    __test__ = True


@pytest.fixture
def default_db_collection() -> Iterator[str]:
    """A fresh collection name in the server's default database, dropped afterwards."""
    name = _collection()
    yield name
    host, port = _host_port(server_url("chroma"))
    client = chromadb.HttpClient(host=host, port=port, settings=_client_settings())
    if name in [c.name for c in client.list_collections()]:
        client.delete_collection(name)


def test_registry_opens_the_server(tmp_path: Path, default_db_collection: str) -> None:
    url = server_url("chroma")
    with open_backend("vectors", url, Settings(home=tmp_path)) as index:
        assert isinstance(index, ChromaVectorIndex)
        assert index.url == url
        assert index.upsert(default_db_collection, ["TSM"], [PROFILES["TSM"]], [META["TSM"]]) == 1
        [hit] = index.query(default_db_collection, "semiconductor chips", k=3)
        assert hit.id == "TSM"
        assert hit.metadata == META["TSM"]
    assert not (tmp_path / "chroma").exists()


def test_another_process_reads_what_this_one_wrote(
    tmp_path: Path, default_db_collection: str
) -> None:
    url = server_url("chroma")
    index = ChromaVectorIndex.from_url(url, Settings(home=tmp_path))
    ids = list(PROFILES)
    index.upsert(default_db_collection, ids, [PROFILES[i] for i in ids], [META[i] for i in ids])
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from axiom.settings import Settings\n"
        "from axiom.stores.chroma import ChromaVectorIndex\n"
        "v = ChromaVectorIndex.from_url(sys.argv[1], Settings(home=Path(sys.argv[3])))\n"
        "hit = v.query(sys.argv[2], 'bank mortgages credit cards', k=1)[0]\n"
        "print(v.count(sys.argv[2]), hit.id)\n"
        "v.upsert(sys.argv[2], ['NEW'], ['written by the child process'])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, url, default_db_collection, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert out.split() == ["4", "JPM"]
    assert index.count(default_db_collection) == 5
    assert [h.document for h in index.get(default_db_collection, ["NEW"])] == [
        "written by the child process"
    ]


def test_reset_only_drops_the_collections_of_its_database(vectors: ChromaVectorIndex) -> None:
    url = server_url("chroma")
    host, port = _host_port(url)
    database = f"test-{uuid.uuid4().hex}"
    admin = _admin(url)
    admin.create_database(database)
    try:
        client = chromadb.HttpClient(
            host=host, port=port, database=database, settings=_client_settings()
        )
        neighbour = ChromaVectorIndex(client, url)
        neighbour.upsert(COLLECTION, ["keep"], ["a document in another database"])
        vectors.upsert(COLLECTION, ["drop"], ["a document in this database"])
        vectors.reset()
        assert vectors.count(COLLECTION) == 0
        assert neighbour.count(COLLECTION) == 1
        neighbour.reset()
    finally:
        admin.delete_database(database)


# -- failures --------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def private_chroma(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        pytest.fail(f"{chroma} is missing; run `make setup`")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (tmp_path / "chroma.log").open("wb")
    args = ["run", "--host", "127.0.0.1", "--port", str(port), "--path", str(tmp_path / "data")]
    proc = subprocess.Popen(
        [str(chroma), *args],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False", "NO_COLOR": "1"},
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"private chroma did not start: {(tmp_path / 'chroma.log').read_text()}")
        time.sleep(0.1)
    yield url, proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=30)
    log.close()


def test_server_lost_mid_session_is_a_clear_error(
    tmp_path: Path, private_chroma: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, proc = private_chroma
    index = ChromaVectorIndex.from_url(url, Settings(home=tmp_path))
    assert index.upsert("events", ["e1"], ["TSM jumps 8% on record chip demand"]) == 1
    proc.terminate()
    proc.wait(timeout=30)
    for call in (
        lambda: index.count("events"),
        lambda: index.query("events", "chip demand"),
        lambda: index.upsert("events", ["e2"], ["another event"]),
        lambda: index.get("events", ["e1"]),
        lambda: index.reset(),
    ):
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError) as err:
            call()
        assert time.monotonic() - started < 10
        assert url in str(err.value)
        assert "\n" not in str(err.value)
