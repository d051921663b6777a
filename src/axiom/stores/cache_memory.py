"""In-process cache for ``memory://`` URLs: a dict with TTLs and pub/sub.

Every :class:`MemoryCache` built from the same URL in one process shares one state, so the
cache updater consumer (in its thread) and the CLI summary or the API (in theirs) see the
same keys and the same channels. ``memory://name`` is a separate namespace; ``memory://``
is the default one. Nothing is shared between processes: that is what ``redis://`` is for.

Expiry uses the monotonic clock. An expired key is invisible at once (lazy check on every
read) and its memory is reclaimed by a sweep that runs at most once per second, piggybacked
on writes, so no background thread is needed.
"""

from __future__ import annotations

import contextlib
import heapq
import queue
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from axiom.errors import ConfigError
from axiom.stores.base import Cache, Subscription

if TYPE_CHECKING:
    from axiom.settings import Settings

_PURGE_INTERVAL_S = 1.0
#: Messages a subscriber may fall behind before the oldest are dropped (as a Redis client
#: past its output buffer limit would be cut off).
SUBSCRIBER_BACKLOG = 10_000


@dataclass
class _Namespace:
    """The shared state of one ``memory://`` URL; every field is guarded by ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    data: dict[str, tuple[bytes, float | None]] = field(default_factory=dict)
    expiries: list[tuple[float, str]] = field(default_factory=list)
    channels: dict[str, set[MemorySubscription]] = field(default_factory=dict)
    last_purge: float = field(default_factory=time.monotonic)

    def live(self, key: str, now: float) -> bytes | None:
        entry = self.data.get(key)
        if entry is None:
            return None
        value, expires = entry
        if expires is not None and expires <= now:
            del self.data[key]
            return None
        return value

    def put(self, key: str, value: bytes, expires: float | None) -> None:
        self.data[key] = (value, expires)
        if expires is not None:
            heapq.heappush(self.expiries, (expires, key))

    def maybe_purge(self, now: float) -> None:
        """Reclaim expired keys, at most once per interval."""
        if now - self.last_purge < _PURGE_INTERVAL_S:
            return
        self.last_purge = now
        heap = self.expiries
        while heap and heap[0][0] <= now:
            expires, key = heapq.heappop(heap)
            entry = self.data.get(key)
            # The heap keeps stale entries of overwritten keys; only the current expiry counts.
            if entry is not None and entry[1] == expires:
                del self.data[key]
        if len(heap) > 2 * len(self.data) + 1024:
            self.expiries = [(exp, k) for k, (_, exp) in self.data.items() if exp is not None]
            heapq.heapify(self.expiries)


_REGISTRY: dict[str, _Namespace] = {}
_REGISTRY_LOCK = threading.Lock()


def _namespace_of(url: str) -> str:
    scheme, _, rest = url.partition("://")
    if scheme.strip().lower() != "memory":
        raise ConfigError(f"memory cache needs a memory:// URL, got '{url}'")
    return rest.strip().strip("/")


def _shared(name: str) -> _Namespace:
    with _REGISTRY_LOCK:
        state = _REGISTRY.get(name)
        if state is None:
            state = _REGISTRY[name] = _Namespace()
        return state


class MemorySubscription(Subscription):
    """One subscriber's queue on one channel; made by :meth:`MemoryCache.subscribe`."""

    def __init__(self, state: _Namespace, channel: str) -> None:
        self._state = state
        self._channel = channel
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=SUBSCRIBER_BACKLOG)
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def deliver(self, message: bytes) -> None:
        """Called by ``publish`` under the namespace lock; never blocks the publisher."""
        try:
            self._queue.put_nowait(message)
        except queue.Full:
            # Publishers are serialised by the namespace lock, so after dropping the
            # oldest message there is room even if the reader took one meanwhile.
            with contextlib.suppress(queue.Empty):
                self._queue.get_nowait()
            self._queue.put_nowait(message)

    def get(self, timeout_s: float = 1.0) -> bytes | None:
        """Next message in publish order, or None after ``timeout_s`` or once closed."""
        if self._closed:
            return None
        try:
            if timeout_s <= 0:
                return self._queue.get_nowait()
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def close(self) -> None:
        """Stop receiving; later publishes no longer count this subscriber."""
        if self._closed:
            return
        self._closed = True
        with self._state.lock:
            subs = self._state.channels.get(self._channel)
            if subs is not None:
                subs.discard(self)
                if not subs:
                    del self._state.channels[self._channel]


class MemoryCache(Cache):
    """The :class:`~axiom.stores.base.Cache` port in process memory.

    Built by the registry from ``AXIOM_CACHE=memory://[name]``; the cache updater writes,
    the CLI and the API read. All methods are thread-safe. Closing an instance closes its
    own subscriptions but keeps the shared keys for the other instances of the URL.
    """

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._state = _shared(_namespace_of(url))
        self._subscriptions: list[MemorySubscription] = []

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> MemoryCache:
        """Open the namespace of ``url``; raises ConfigError for another scheme."""
        return cls(url)

    def get(self, key: str) -> bytes | None:
        """Value, or None when absent or expired."""
        st = self._state
        with st.lock:
            return st.live(key, time.monotonic())

    def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        """Values in the order of ``keys``, read under one lock (a consistent snapshot)."""
        st = self._state
        now = time.monotonic()
        with st.lock:
            return [st.live(k, now) for k in keys]

    def set(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        """Store; a later ``set`` without ``ttl_s`` removes the expiry, as in Redis."""
        self.set_many({key: value}, ttl_s)

    def set_many(self, items: Mapping[str, bytes], ttl_s: float | None = None) -> None:
        """Store all items atomically with one expiry; ``ttl_s <= 0`` deletes them."""
        st = self._state
        now = time.monotonic()
        expires = None if ttl_s is None else now + ttl_s
        with st.lock:
            for key, value in items.items():
                if expires is not None and expires <= now:
                    st.data.pop(key, None)
                else:
                    st.put(key, bytes(value), expires)
            st.maybe_purge(now)

    def delete(self, *keys: str) -> int:
        """Remove ``keys``; returns how many were live."""
        st = self._state
        now = time.monotonic()
        with st.lock:
            removed = 0
            for key in set(keys):
                if st.live(key, now) is not None:
                    del st.data[key]
                    removed += 1
            return removed

    def keys(self, prefix: str = "") -> list[str]:
        """Live keys starting with ``prefix``, sorted."""
        st = self._state
        now = time.monotonic()
        with st.lock:
            st.maybe_purge(now)
            return sorted(
                k
                for k, (_, exp) in st.data.items()
                if k.startswith(prefix) and (exp is None or exp > now)
            )

    def publish(self, channel: str, message: bytes) -> int:
        """Deliver to every current subscriber of ``channel``; returns how many."""
        st = self._state
        with st.lock:
            subs = st.channels.get(channel, ())
            for sub in subs:
                sub.deliver(message)
            return len(subs)

    def subscribe(self, channel: str) -> MemorySubscription:
        """A subscription receiving every message published on ``channel`` from now on."""
        sub = MemorySubscription(self._state, channel)
        with self._state.lock:
            self._state.channels.setdefault(channel, set()).add(sub)
        self._subscriptions = [s for s in self._subscriptions if not s.closed]
        self._subscriptions.append(sub)
        return sub

    def clear(self) -> None:
        """Remove every key of this namespace (channels and subscribers stay)."""
        st = self._state
        with st.lock:
            st.data.clear()
            st.expiries.clear()

    def close(self) -> None:
        """Close the subscriptions made through this instance; safe to call twice."""
        subs, self._subscriptions = self._subscriptions, []
        for sub in subs:
            sub.close()
