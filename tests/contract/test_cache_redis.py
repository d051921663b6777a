"""The Redis cache: the cache contract on the local server, namespaces and failure paths.

Every test works in a namespace of its own (``?namespace=test-<uuid>``) on the long-lived
server of ``deploy/local/redis.sh``, so tests never see or clear each other's keys. The
fault tests start a private ``redis-server`` on a free port and stop it mid-session.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from axiom.errors import BackendUnavailableError, ConfigError
from axiom.registry import open_backend
from axiom.settings import Settings
from axiom.stores.redis import CHUNK, RedisCache

from ..servers import server_url
from .cache_contract import WAIT_S, CacheContract

pytestmark = pytest.mark.redis


def _with_query(url: str, **params: str) -> str:
    sep = "&" if "?" in url else "?"
    return url + sep + "&".join(f"{k}={v}" for k, v in params.items())


def _namespace() -> str:
    return f"test-{uuid.uuid4().hex}"


def _url(namespace: str | None = None) -> str:
    return _with_query(server_url("redis"), namespace=namespace or _namespace())


def _raw() -> redis.Redis:
    return redis.Redis.from_url(server_url("redis"), socket_timeout=5)


@pytest.fixture
def cache() -> Iterator[RedisCache]:
    cache = RedisCache(_url())
    yield cache
    cache.clear()
    cache.close()


class TestRedisCache(CacheContract):
    __test__ = True


# -- URL, namespace, registry ----------------------------------------------------------------
def test_registry_builds_redis_cache(tmp_path: Path) -> None:
    url = _url()
    with open_backend("cache", url, Settings(home=tmp_path)) as cache:
        assert isinstance(cache, RedisCache)
        assert cache.url == url
        cache.set("k", b"v")
        assert cache.get("k") == b"v"
        cache.clear()


def test_keys_and_channels_live_under_the_namespace(cache: RedisCache) -> None:
    raw = _raw()
    cache.set("bar:latest:AAPL", b"189.5")
    assert raw.get(f"{cache.namespace}:bar:latest:AAPL") == b"189.5"
    assert raw.get("bar:latest:AAPL") is None
    listener = raw.pubsub()
    listener.subscribe(f"{cache.namespace}:axiom:updates")
    assert listener.get_message(timeout=WAIT_S)["type"] == "subscribe"
    assert cache.publish("axiom:updates", b"AAPL") == 1
    assert listener.get_message(timeout=WAIT_S)["data"] == b"AAPL"
    listener.close()
    raw.close()


def test_default_namespace_is_axiom() -> None:
    key = f"test-default-{uuid.uuid4().hex}"
    raw = _raw()
    with RedisCache(server_url("redis")) as cache:
        assert cache.namespace == "axiom"
        cache.set(key, b"v", ttl_s=30)
        assert raw.get(f"axiom:{key}") == b"v"
        assert cache.delete(key) == 1
    raw.close()


def test_namespaces_are_isolated() -> None:
    base = _namespace()
    one, two = RedisCache(_url(base)), RedisCache(_url(f"{base}.b"))
    try:
        one.set_many({"k": b"1", "only-one": b"x"})
        two.set("k", b"2")
        assert one.get("k") == b"1"
        assert two.get("k") == b"2"
        assert one.keys() == ["k", "only-one"]
        assert two.keys() == ["k"]
        two.clear()
        assert one.get_many(["k", "only-one"]) == [b"1", b"x"]
        assert two.keys() == []
        with two.subscribe("ch") as sub:
            assert one.publish("ch", b"m") == 0
            assert sub.get(timeout_s=0.05) is None
    finally:
        for c in (one, two):
            c.clear()
            c.close()


def test_instances_of_one_url_share_keys_and_channels() -> None:
    url = _url()
    writer, reader = RedisCache(url), RedisCache(url)
    try:
        writer.set("price:AAPL", b"189.5")
        assert reader.get("price:AAPL") == b"189.5"
        with reader.subscribe("updates") as sub:
            assert writer.publish("updates", b"AAPL") == 1
            assert sub.get(timeout_s=WAIT_S) == b"AAPL"
    finally:
        reader.clear()
        writer.close()
        reader.close()


def test_another_process_sees_keys_and_reaches_subscribers(cache: RedisCache) -> None:
    with cache.subscribe("updates") as sub:
        script = (
            "import sys\n"
            "from axiom.stores.redis import RedisCache\n"
            "with RedisCache(sys.argv[1]) as c:\n"
            "    c.set('from-child', b'hello')\n"
            "    print(c.publish('updates', b'child'), c.get('from-parent').decode())\n"
        )
        cache.set("from-parent", b"parent")
        out = subprocess.run(
            [sys.executable, "-c", script, cache.url],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert out.split() == ["1", "parent"]
        assert sub.get(timeout_s=WAIT_S) == b"child"
    assert cache.get("from-child") == b"hello"


def test_glob_characters_in_prefix_are_literal(cache: RedisCache) -> None:
    cache.set_many({"a*": b"1", "ab": b"2", "a?c": b"3", "abc": b"4", "[x]": b"5", "x": b"6"})
    assert cache.keys("a*") == ["a*"]
    assert cache.keys("a?") == ["a?c"]
    assert cache.keys("[x") == ["[x]"]
    assert cache.keys("a") == ["a*", "a?c", "ab", "abc"]


def test_batches_larger_than_a_chunk(cache: RedisCache) -> None:
    n = CHUNK * 2 + 17
    items = {f"bar:{i:06d}": i.to_bytes(4, "big") for i in range(n)}
    cache.set_many(items)
    assert cache.get_many(list(items)) == list(items.values())
    assert len(cache.keys("bar:")) == n
    cache.set_many(items, ttl_s=60)
    assert _raw().pttl(f"{cache.namespace}:bar:{n - 1:06d}") > 50_000
    assert cache.delete(*items) == n
    cache.set_many(items)
    cache.clear()
    assert cache.keys() == []


def test_sub_millisecond_and_non_positive_ttls(cache: RedisCache) -> None:
    cache.set("tiny", b"v", ttl_s=0.0001)
    deadline = time.monotonic() + WAIT_S
    while cache.get("tiny") is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert cache.get("tiny") is None
    cache.set_many({"a": b"1", "b": b"2"})
    cache.set_many({"a": b"x", "b": b"y"}, ttl_s=0)
    cache.set("c", b"z", ttl_s=-5)
    assert cache.keys() == []
    with pytest.raises(ValueError, match="finite"):
        cache.set("inf", b"v", ttl_s=float("inf"))


def test_close_releases_subscriptions_and_is_idempotent() -> None:
    url = _url()
    owner, other = RedisCache(url), RedisCache(url)
    sub = owner.subscribe("ch")
    assert other.publish("ch", b"m") == 1
    owner.close()
    owner.close()
    assert sub.closed
    assert sub.get(timeout_s=0) is None
    assert other.publish("ch", b"m") == 0
    other.close()


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("memory://", "redis://"),
        ("redis://127.0.0.1:6379/0?namespace=a:b", "namespace"),
        ("redis://127.0.0.1:6379/0?namespace=", "namespace"),
        ("redis://127.0.0.1:6379/zero", "database"),
        ("redis://127.0.0.1:6379/0?socket_timeout=soon", "malformed"),
    ],
)
def test_bad_urls_are_config_errors(tmp_path: Path, url: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        RedisCache.from_url(url, Settings(home=tmp_path))


# -- failures --------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_down_server_is_a_clear_error_quickly() -> None:
    url = "redis://:s3cret@127.0.0.1:1/0"
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as err:
        RedisCache(url)
    assert time.monotonic() - started < 5
    message = str(err.value)
    assert "redis://:***@127.0.0.1:1/0" in message
    assert "s3cret" not in message
    assert "\n" not in message


def test_silent_server_times_out_instead_of_hanging() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0?socket_timeout=0.3"
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError, match="does not answer"):
            RedisCache(url)
        assert time.monotonic() - started < 3


class _PrivateRedis:
    """A throwaway redis-server on a free port of 127.0.0.1, without persistence."""

    def __init__(self, folder: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed; run deploy/local/redis.sh install")
        self.binary, self.folder, self.port = binary, folder, _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        args += ["--appendonly", "no", "--dir", str(self.folder)]
        self.proc = subprocess.Popen([self.binary, *args], stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with redis.Redis(port=self.port, socket_timeout=1) as probe:
                    if probe.ping():
                        return
            except redis.ConnectionError:
                time.sleep(0.05)
        pytest.fail(f"private redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[_PrivateRedis]:
    server = _PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


def test_server_lost_and_back_mid_session(private_redis: _PrivateRedis) -> None:
    cache = RedisCache(f"redis://127.0.0.1:{private_redis.port}/0?namespace=t")
    sub = cache.subscribe("ch")
    cache.set("k", b"v")
    private_redis.stop()
    for call in (
        lambda: cache.get("k"),
        lambda: cache.set_many({"a": b"1"}, ttl_s=5),
        lambda: cache.keys(),
        lambda: cache.publish("ch", b"m"),
        lambda: sub.get(timeout_s=0.2),
    ):
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError, match=f"127.0.0.1:{private_redis.port}"):
            call()
        assert time.monotonic() - started < 3
    private_redis.start()
    assert cache.get("k") is None  # a new server without persistence
    cache.set("k", b"again")
    assert cache.get("k") == b"again"
    # The new server has no scripts loaded: the TTL path loads its script again.
    cache.set("t", b"x", ttl_s=30)
    cache.set_many({f"b{i}": b"y" for i in range(CHUNK + 1)}, ttl_s=30)
    assert cache.get_many(["t", f"b{CHUNK}"]) == [b"x", b"y"]
    # The subscription reconnects and subscribes again on its next read.
    assert sub.get(timeout_s=0.2) is None
    assert cache.publish("ch", b"back") == 1
    assert sub.get(timeout_s=WAIT_S) == b"back"
    cache.close()
