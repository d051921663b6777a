"""The Cache contract: every adapter of :class:`axiom.stores.base.Cache` passes these tests.

A subclass provides a ``cache`` fixture yielding an empty cache of its own namespace and
closes it afterwards. Only the public port API is used, so a server adapter (Redis)
subclasses this unchanged. Waits are bounded polls, never fixed sleeps longer than needed.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from axiom.stores.base import Cache

SHORT_TTL_S = 0.2
WAIT_S = 2.0


def _eventually(check: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return check()


def _channel() -> str:
    return f"contract-{uuid.uuid4().hex}"


class CacheContract:
    __test__ = False

    # -- key/value -----------------------------------------------------------------------
    def test_missing_key_is_none(self, cache: Cache) -> None:
        assert cache.get("absent") is None
        assert cache.get_many(["absent", "other"]) == [None, None]

    def test_set_then_get_round_trips_bytes(self, cache: Cache) -> None:
        payload = bytes(range(256))
        cache.set("bin", payload)
        assert cache.get("bin") == payload

    def test_overwrite_replaces_value(self, cache: Cache) -> None:
        cache.set("k", b"one")
        cache.set("k", b"two")
        assert cache.get("k") == b"two"
        assert cache.keys() == ["k"]

    def test_get_many_keeps_order_and_marks_missing(self, cache: Cache) -> None:
        cache.set_many({"a": b"1", "c": b"3"})
        assert cache.get_many(["c", "b", "a"]) == [b"3", None, b"1"]
        assert cache.get_many([]) == []

    def test_set_many_writes_all(self, cache: Cache) -> None:
        items = {f"bar:{i:03d}": str(i).encode() for i in range(50)}
        cache.set_many(items)
        assert cache.get_many(list(items)) == list(items.values())

    def test_keys_filters_by_prefix_and_sorts(self, cache: Cache) -> None:
        cache.set_many({"price:MSFT": b"1", "price:AAPL": b"2", "stats:AAPL": b"3"})
        assert cache.keys("price:") == ["price:AAPL", "price:MSFT"]
        assert cache.keys() == ["price:AAPL", "price:MSFT", "stats:AAPL"]
        assert cache.keys("nothing:") == []

    def test_delete_counts_existing_keys(self, cache: Cache) -> None:
        cache.set_many({"a": b"1", "b": b"2"})
        assert cache.delete("a", "missing") == 1
        assert cache.get("a") is None
        assert cache.get("b") == b"2"
        assert cache.delete("a") == 0
        assert cache.delete() == 0

    def test_clear_removes_every_key(self, cache: Cache) -> None:
        cache.set_many({"a": b"1", "b": b"2"})
        cache.set("c", b"3", ttl_s=60)
        cache.clear()
        assert cache.keys() == []
        assert cache.get_many(["a", "b", "c"]) == [None, None, None]

    # -- expiry --------------------------------------------------------------------------
    def test_ttl_expires_key(self, cache: Cache) -> None:
        cache.set("short", b"v", ttl_s=SHORT_TTL_S)
        cache.set("long", b"v")
        assert cache.get("short") == b"v"
        assert _eventually(lambda: cache.get("short") is None)
        assert cache.keys() == ["long"]
        assert cache.get("long") == b"v"

    def test_set_many_ttl_expires_all(self, cache: Cache) -> None:
        cache.set_many({"x": b"1", "y": b"2"}, ttl_s=SHORT_TTL_S)
        assert cache.get_many(["x", "y"]) == [b"1", b"2"]
        assert _eventually(lambda: cache.get_many(["x", "y"]) == [None, None])
        assert _eventually(lambda: cache.keys() == [])

    def test_expired_key_is_not_counted_by_delete(self, cache: Cache) -> None:
        cache.set("gone", b"v", ttl_s=SHORT_TTL_S)
        assert _eventually(lambda: cache.get("gone") is None)
        assert cache.delete("gone") == 0

    def test_overwrite_without_ttl_keeps_key(self, cache: Cache) -> None:
        cache.set("k", b"old", ttl_s=SHORT_TTL_S)
        cache.set("k", b"new")
        time.sleep(SHORT_TTL_S * 2.5)
        assert cache.get("k") == b"new"

    def test_overwrite_with_longer_ttl_extends_life(self, cache: Cache) -> None:
        cache.set("k", b"old", ttl_s=SHORT_TTL_S)
        cache.set("k", b"new", ttl_s=60)
        time.sleep(SHORT_TTL_S * 2.5)
        assert cache.get("k") == b"new"

    # -- pub/sub -------------------------------------------------------------------------
    def test_publish_without_subscriber_reaches_nobody(self, cache: Cache) -> None:
        assert cache.publish(_channel(), b"hello") == 0

    def test_publish_reaches_subscriber(self, cache: Cache) -> None:
        channel = _channel()
        with cache.subscribe(channel) as sub:
            assert cache.publish(channel, b"hello") == 1
            assert sub.get(timeout_s=WAIT_S) == b"hello"

    def test_messages_arrive_in_publish_order(self, cache: Cache) -> None:
        channel = _channel()
        with cache.subscribe(channel) as sub:
            for i in range(20):
                cache.publish(channel, str(i).encode())
            got = [sub.get(timeout_s=WAIT_S) for _ in range(20)]
        assert got == [str(i).encode() for i in range(20)]

    def test_publish_counts_every_subscriber(self, cache: Cache) -> None:
        channel = _channel()
        with cache.subscribe(channel) as one, cache.subscribe(channel) as two:
            assert cache.publish(channel, b"m") == 2
            assert one.get(timeout_s=WAIT_S) == b"m"
            assert two.get(timeout_s=WAIT_S) == b"m"

    def test_subscriber_only_sees_its_channel(self, cache: Cache) -> None:
        mine, other = _channel(), _channel()
        with cache.subscribe(mine) as sub:
            assert cache.publish(other, b"not for you") == 0
            cache.publish(mine, b"for you")
            assert sub.get(timeout_s=WAIT_S) == b"for you"

    def test_get_times_out_with_none(self, cache: Cache) -> None:
        with cache.subscribe(_channel()) as sub:
            started = time.monotonic()
            assert sub.get(timeout_s=0.1) is None
            assert time.monotonic() - started < WAIT_S

    def test_closed_subscription_stops_counting(self, cache: Cache) -> None:
        channel = _channel()
        sub = cache.subscribe(channel)
        sub.close()
        sub.close()
        assert _eventually(lambda: cache.publish(channel, b"late") == 0)
