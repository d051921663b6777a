"""The in-process cache: the cache contract, plus sharing by URL and namespaces."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from axiom.errors import ConfigError
from axiom.registry import open_backend
from axiom.settings import Settings
from axiom.stores.cache_memory import SUBSCRIBER_BACKLOG, MemoryCache

from .cache_contract import WAIT_S, CacheContract


def _url() -> str:
    return f"memory://test-{uuid.uuid4().hex}"


class TestMemoryCache(CacheContract):
    __test__ = True

    @pytest.fixture
    def cache(self) -> Iterator[MemoryCache]:
        cache = MemoryCache(_url())
        yield cache
        cache.clear()
        cache.close()


def test_registry_builds_memory_cache(tmp_path: Path) -> None:
    cache = open_backend("cache", "memory://", Settings(home=tmp_path))
    assert isinstance(cache, MemoryCache)
    assert cache.url == "memory://"


def test_instances_of_one_url_share_keys_and_channels() -> None:
    url = _url()
    writer, reader = MemoryCache(url), MemoryCache(url)
    writer.set("price:AAPL", b"189.5")
    assert reader.get("price:AAPL") == b"189.5"
    with reader.subscribe("updates") as sub:
        assert writer.publish("updates", b"AAPL") == 1
        assert sub.get(timeout_s=WAIT_S) == b"AAPL"
    reader.clear()
    assert writer.keys() == []


def test_namespaces_are_isolated() -> None:
    one, two = MemoryCache(_url()), MemoryCache(_url())
    one.set("k", b"1")
    assert two.get("k") is None
    two.clear()
    assert one.get("k") == b"1"


def test_closing_one_instance_keeps_shared_state() -> None:
    url = _url()
    first = MemoryCache(url)
    first.set("k", b"v")
    sub = first.subscribe("ch")
    first.close()
    first.close()
    assert sub.get(timeout_s=0) is None
    second = MemoryCache(url)
    assert second.get("k") == b"v"
    assert second.publish("ch", b"m") == 0


def test_other_scheme_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="memory://"):
        MemoryCache.from_url("redis://127.0.0.1:6379/0", Settings(home=tmp_path))


def test_non_positive_ttl_deletes() -> None:
    cache = MemoryCache(_url())
    cache.set("k", b"v")
    cache.set("k", b"w", ttl_s=0)
    assert cache.get("k") is None
    assert cache.keys() == []


def test_slow_subscriber_keeps_the_newest_messages() -> None:
    cache = MemoryCache(_url())
    with cache.subscribe("flood") as sub:
        for i in range(SUBSCRIBER_BACKLOG + 5):
            assert cache.publish("flood", str(i).encode()) == 1
        assert sub.get(timeout_s=0) == b"5"


def test_concurrent_writers_and_readers_do_not_lose_keys() -> None:
    cache = MemoryCache(_url())
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(500):
                cache.set(f"w{worker}:{i:03d}", b"x", ttl_s=None if i % 2 else 60)
                cache.get_many([f"w{worker}:{i:03d}", "missing"])
        except BaseException as exc:  # collected for the main thread's assertion
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(cache.keys()) == 2000
    assert len(cache.keys("w3:")) == 500
