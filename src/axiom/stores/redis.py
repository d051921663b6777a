"""Redis cache for ``redis://`` URLs: the stack tier's :class:`~axiom.stores.base.Cache`.

URL: ``redis://[[user]:password@]host[:port][/db][?namespace=NAME&<redis-py options>]``
(``rediss://`` for TLS). Every key and every pub/sub channel is stored under the prefix
``NAME:`` (default ``axiom:``), so several caches (tests, tenants) share one server and
:meth:`RedisCache.clear` removes only its own keys. A namespace is 1-128 characters of
``[A-Za-z0-9._-]``; having no ``:`` in it, one namespace's keys never match another's.
Other query options go to redis-py (``socket_timeout=2``, ``max_connections=50``, ...).

Connections come from one pool with connect and read timeouts and a single quick retry,
so a server that is down or gone is reported as
:class:`~axiom.errors.BackendUnavailableError` naming the URL within seconds, never a hang.
Values are bytes. A batch is one round trip that readers never see half-written: ``MSET``,
or a Lua script of ``SET PX`` when it has an expiry, chunks of :data:`CHUNK` keys inside one
``MULTI``/``EXEC``. Key listing uses ``SCAN``, never ``KEYS``.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.client import PubSub
from redis.retry import Retry

from axiom.errors import BackendError, BackendUnavailableError, ConfigError
from axiom.stores.base import Cache, Subscription

if TYPE_CHECKING:
    from axiom.settings import Settings

DEFAULT_URL = "redis://127.0.0.1:6379/0"
DEFAULT_NAMESPACE = "axiom"
CONNECT_TIMEOUT_S = 2.0
SOCKET_TIMEOUT_S = 5.0
#: How long :meth:`RedisCache.subscribe` waits for the server's confirmation.
SUBSCRIBE_TIMEOUT_S = 5.0
#: Keys per MSET / MGET / UNLINK / SET PX script call and per SCAN step.
CHUNK = 5_000

_NAMESPACE_RE = re.compile(r"[A-Za-z0-9._-]{1,128}")
#: SET key value PX ttl for every key: one command for a batch with one expiry. Scripts
#: run atomically, and one command costs the client far less than a pipeline of SETs
#: (about twice the throughput in bench/cache_redis.py).
_SET_PX_LUA = """
local px = ARGV[1]
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[i + 1], 'PX', px)
end
return #KEYS
"""
_GLOB_RE = re.compile(r"([*?\[\]\\])")


@dataclass(frozen=True, slots=True)
class _Target:
    """A parsed cache URL: what redis-py gets, our namespace, and what errors may show."""

    redis_url: str
    namespace: str
    shown: str


def _parse(url: str) -> _Target:
    """Split ``namespace`` off the URL and check what redis-py would silently ignore."""
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("redis", "rediss"):
        raise ConfigError(f"Redis cache needs a redis:// or rediss:// URL, got '{url}'")
    query = parse_qsl(parts.query, keep_blank_values=True)
    names = [v for k, v in query if k == "namespace"]
    namespace = names[-1] if names else DEFAULT_NAMESPACE
    if not _NAMESPACE_RE.fullmatch(namespace):
        raise ConfigError(
            f"Redis cache namespace {namespace!r} must be 1-128 characters of [A-Za-z0-9._-]"
        )
    db = parts.path.strip("/")
    if db and not db.isdigit():
        raise ConfigError(f"Redis URL '{_masked(parts)}' has database '{db}', expected a number")
    rest = urlencode([(k, v) for k, v in query if k != "namespace"])
    return _Target(urlunsplit(parts._replace(query=rest)), namespace, _masked(parts))


def _masked(parts: SplitResult) -> str:
    """The URL with its password replaced by ``***`` (error messages and logs)."""
    if not parts.password:
        return urlunsplit(parts)
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _glob_escape(text: str) -> str:
    """``text`` as a literal in a SCAN MATCH pattern."""
    return _GLOB_RE.sub(r"\\\1", text)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@contextmanager
def _guard(shown: str) -> Iterator[None]:
    """Turn redis-py errors into Axiom's: unreachable -> BackendUnavailableError."""
    try:
        yield
    except redis.ConnectionError as exc:
        raise BackendUnavailableError(
            f"Redis at {shown} is unreachable ({_one_line(exc)}); start it with "
            "`deploy/local/redis.sh start` or set AXIOM_CACHE=memory://"
        ) from exc
    except redis.TimeoutError as exc:
        raise BackendUnavailableError(
            f"Redis at {shown} does not answer ({_one_line(exc)}); is the server overloaded "
            "or is something else listening there?"
        ) from exc
    except redis.RedisError as exc:
        raise BackendError(f"Redis at {shown} failed: {_one_line(exc)}") from exc


class RedisSubscription(Subscription):
    """One channel on its own connection; made by :meth:`RedisCache.subscribe`.

    Used by one reader thread (a redis-py PubSub is not thread-safe). A subscriber that
    falls far behind is cut off by the server's pub/sub output buffer limit; redis-py then
    reconnects and subscribes again, and the messages in between are lost, as with any
    Redis subscriber.
    """

    def __init__(self, pubsub: PubSub, shown: str) -> None:
        self._pubsub = pubsub
        self._shown = shown
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def get(self, timeout_s: float = 1.0) -> bytes | None:
        """Next message in publish order, or None after ``timeout_s`` or once closed.

        Raises:
            BackendUnavailableError: the server went away and did not come back at once.
        """
        if self._closed:
            return None
        deadline = time.monotonic() + max(0.0, timeout_s)
        while True:
            remaining = max(0.0, deadline - time.monotonic())
            with _guard(self._shown):
                msg = self._pubsub.get_message(timeout=remaining)
            if msg is not None and msg["type"] == "message":
                return bytes(msg["data"])
            if remaining <= 0.0:
                return None

    def close(self) -> None:
        """Unsubscribe by dropping the connection; later publishes no longer count it."""
        if self._closed:
            return
        self._closed = True
        self._pubsub.close()


class RedisCache(Cache):
    """The :class:`~axiom.stores.base.Cache` port on a Redis server.

    Built by the registry from ``AXIOM_CACHE=redis://...``; the cache updater consumer
    writes, the CLI and the API read and subscribe to live updates. Key/value methods are
    thread-safe (pooled connections); each subscription has a connection of its own.
    Every method raises :class:`~axiom.errors.BackendUnavailableError` when the server
    cannot be reached and :class:`~axiom.errors.BackendError` when it refuses a command.
    """

    def __init__(self, url: str = DEFAULT_URL) -> None:
        """Open a pool for ``url`` and PING the server once.

        Raises:
            ConfigError: not a Redis URL, a bad namespace, database or option.
            BackendUnavailableError: nothing answers at the URL within seconds.
        """
        self.url = url
        target = _parse(url)
        self._shown = target.shown
        self.namespace = target.namespace
        self._prefix = f"{target.namespace}:"
        self._raw_prefix = self._prefix.encode()
        try:
            self._pool = redis.ConnectionPool.from_url(
                target.redis_url,
                socket_connect_timeout=CONNECT_TIMEOUT_S,
                socket_timeout=SOCKET_TIMEOUT_S,
                socket_keepalive=True,
                health_check_interval=30,
                # One quick retry on a dropped connection (server restart, idle socket
                # closed); never on a timeout, so a silent server costs one timeout, and a
                # command that may have run is not sent twice.
                retry=Retry(ExponentialBackoff(cap=0.25, base=0.05), 1, (redis.ConnectionError,)),
                client_name=f"axiom-{target.namespace}"[:64],
            )
        except ValueError as exc:
            raise ConfigError(f"malformed Redis URL '{target.shown}': {_one_line(exc)}") from exc
        self._client = redis.Redis(connection_pool=self._pool)
        self._set_px = self._client.register_script(_SET_PX_LUA)
        self._lock = threading.Lock()
        self._subscriptions: list[RedisSubscription] = []
        try:
            with _guard(self._shown):
                self._client.ping()
        except BaseException:
            self._pool.disconnect()
            raise

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> RedisCache:
        """Open the cache of ``url``; called by the registry (see the module doc for the URL)."""
        return cls(url)

    # -- keys ----------------------------------------------------------------------------
    def _key(self, key: str) -> str:
        return self._prefix + key

    def get(self, key: str) -> bytes | None:
        """Value, or None when absent or expired; the API and the CLI read hot keys here."""
        with _guard(self._shown):
            return cast("bytes | None", self._client.get(self._key(key)))

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Values in the order of ``keys`` with MGET; one snapshot even past :data:`CHUNK`."""
        if not keys:
            return []
        full = [self._key(k) for k in keys]
        with _guard(self._shown):
            if len(full) <= CHUNK:
                return cast("list[bytes | None]", self._client.mget(full))
            pipe = self._client.pipeline(transaction=True)
            for start in range(0, len(full), CHUNK):
                pipe.mget(full[start : start + CHUNK])
            return [v for part in pipe.execute() for v in part]

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        """Store; without ``ttl_s`` a previous expiry is removed (plain Redis SET)."""
        self.set_many({key: value}, ttl_s)

    def set_many(self, items: Mapping[str, bytes], ttl_s: float | None = None) -> None:
        """Store all items in one atomic round trip, with one expiry for all.

        Called by the cache updater once per batch. ``ttl_s`` is rounded up to whole
        milliseconds; ``ttl_s <= 0`` deletes the keys, as an expiry in the past would.
        If it raises, part of the items may be written; every write is an overwrite, so
        calling again converges.
        """
        if not items:
            return
        if ttl_s is not None and not math.isfinite(ttl_s):
            raise ValueError(f"ttl_s must be a finite number of seconds, got {ttl_s}")
        if ttl_s is not None and ttl_s <= 0:
            self.delete(*items)
            return
        full = {self._key(k): v for k, v in items.items()}
        with _guard(self._shown):
            if len(full) <= CHUNK:
                self._write(self._client, full, ttl_s)
                return
            pipe = self._client.pipeline(transaction=True)
            pairs = list(full.items())
            for start in range(0, len(pairs), CHUNK):
                self._write(pipe, dict(pairs[start : start + CHUNK]), ttl_s)
            pipe.execute()

    def _write(self, client: redis.Redis, items: dict[str, bytes], ttl_s: float | None) -> None:
        """One command for ``items``: MSET, or the SET PX script (``client`` may be a pipeline)."""
        if ttl_s is None:
            client.mset(items)
        else:
            px = max(1, math.ceil(ttl_s * 1000))
            self._set_px(keys=list(items), args=[px, *items.values()], client=client)

    def delete(self, *keys: str) -> int:
        """Remove ``keys``; returns how many were live (an expired key does not count)."""
        if not keys:
            return 0
        with _guard(self._shown):
            return self._client.delete(*dict.fromkeys(map(self._key, keys)))

    def _scan(self, prefix: str) -> Iterator[bytes]:
        pattern = _glob_escape(self._prefix + prefix) + "*"
        yield from self._client.scan_iter(match=pattern, count=CHUNK)

    def keys(self, prefix: str = "") -> list[str]:
        """Live keys of this namespace starting with ``prefix``, sorted.

        For listings in the API and the CLI; SCAN walks the keyspace in steps, so a large
        server is never blocked (KEYS would be), and a key written meanwhile may be missed.
        """
        cut = len(self._raw_prefix)
        with _guard(self._shown):
            found = {raw[cut:].decode("utf-8", "replace") for raw in self._scan(prefix)}
        return sorted(found)

    def clear(self) -> None:
        """Remove every key of this namespace (SCAN + UNLINK); other namespaces stay.

        Called by the demo's fresh start (``pipelines/orchestrate.py``) and by tests.
        """
        with _guard(self._shown):
            batch: list[bytes] = []
            for raw in self._scan(""):
                batch.append(raw)
                if len(batch) >= CHUNK:
                    self._client.unlink(*batch)
                    batch.clear()
            if batch:
                self._client.unlink(*batch)

    # -- pub/sub -------------------------------------------------------------------------
    def publish(self, channel: str, message: bytes) -> int:
        """PUBLISH on the namespaced channel; returns how many subscribers received it."""
        with _guard(self._shown):
            return self._client.publish(self._key(channel), message)

    def subscribe(self, channel: str) -> RedisSubscription:
        """A subscription that is active when this returns (the server has confirmed it).

        Raises:
            BackendUnavailableError: no confirmation within :data:`SUBSCRIBE_TIMEOUT_S`.
        """
        pubsub: PubSub = self._client.pubsub(ignore_subscribe_messages=False)  # type: ignore[no-untyped-call]
        try:
            with _guard(self._shown):
                pubsub.subscribe(self._key(channel))
                deadline = time.monotonic() + SUBSCRIBE_TIMEOUT_S
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise BackendUnavailableError(
                            f"Redis at {self._shown} did not confirm SUBSCRIBE {channel!r} "
                            f"within {SUBSCRIBE_TIMEOUT_S:g}s"
                        )
                    msg = pubsub.get_message(timeout=remaining)
                    if msg is not None and msg["type"] == "subscribe":
                        break
        except BaseException:
            pubsub.close()
            raise
        sub = RedisSubscription(pubsub, self._shown)
        with self._lock:
            self._subscriptions = [s for s in self._subscriptions if not s.closed]
            self._subscriptions.append(sub)
        return sub

    def close(self) -> None:
        """Close the subscriptions made here and the pool's connections; safe twice."""
        with self._lock:
            subs, self._subscriptions = self._subscriptions, []
        for sub in subs:
            sub.close()
        self._pool.disconnect()
