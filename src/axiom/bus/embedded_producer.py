"""The producer of the embedded event log: buffered sends, one transaction per flush."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import orjson

from axiom.bus.base import Producer
from axiom.bus.embedded_sql import (
    connect,
    db_errors,
    end_offset,
    enforce_retention,
    now_ms,
    topic_partitions,
    unknown_topic,
    write_txn,
)
from axiom.bus.partitioner import StickyPartitioner, partition_for_key
from axiom.errors import BackendError

#: A buffer is written once it holds this many messages ...
MAX_BUFFER_MESSAGES = 5_000
#: ... or this many bytes of values.
MAX_BUFFER_BYTES = 8 * 1024 * 1024
#: Seconds between two retention passes of one producer.
RETENTION_EVERY_S = 60.0

_INSERT = (
    "INSERT INTO messages (topic, partition, offset, ts, key, headers, value)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)

# A queued message: topic, partition, timestamp, key, headers JSON, value.
_Pending = tuple[str, int, int, str | None, str | None, bytes]


class EmbeddedProducer(Producer):
    """Writes messages to the embedded log; obtained from ``EmbeddedBus.producer()``.

    ``send`` only queues (and picks the partition, Kafka's way); ``flush`` writes the queue
    in one transaction with offsets assigned under the write lock, so several producers in
    several processes never collide and every partition's offsets stay dense. The queue is
    also flushed when it passes :data:`MAX_BUFFER_MESSAGES` or :data:`MAX_BUFFER_BYTES`.
    Thread-safe. Once ``flush`` returns, the messages survive a crash of this process.
    """

    def __init__(
        self,
        path: Path,
        *,
        client_id: str = "axiom",
        busy_timeout_s: float = 30.0,
        on_close: Callable[[EmbeddedProducer], None] | None = None,
    ) -> None:
        self.client_id = client_id
        self._path = path
        self._conn = connect(path, busy_timeout_s)
        self._busy_timeout_s = busy_timeout_s
        self._lock = threading.Lock()
        self._topics: dict[str, int] = {}
        self._sticky = StickyPartitioner()
        self._buffer: list[_Pending] = []
        self._buffer_bytes = 0
        self._last_retention = time.monotonic()
        self._on_close = on_close
        self._closed = False

    def _lookup_partitions(self, topic: str) -> int:
        """Partition count of a topic not seen yet by this producer; TopicError if none."""
        # Another process may have created it since the last look.
        with db_errors(self._path):
            self._topics = topic_partitions(self._conn)
        count = self._topics.get(topic)
        if count is None:
            raise unknown_topic(topic)
        return count

    def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        """Queue one message for the next flush.

        Called by pipelines for every message they publish. Raises TopicError for an unknown
        topic and TypeError for a value that is not bytes; nothing is queued then.
        """
        data = value
        if type(data) is not bytes:
            if not isinstance(data, bytearray | memoryview):
                raise TypeError(f"message values are bytes, got {type(value).__name__}")
            data = bytes(data)
        if key is not None and not isinstance(key, str):
            raise TypeError(f"message keys are str or None, got {type(key).__name__}")
        encoded_headers = orjson.dumps(dict(headers)).decode() if headers else None
        ts = now_ms() if timestamp_ms is None else int(timestamp_ms)
        with self._lock:
            if self._closed:
                raise BackendError(f"producer '{self.client_id}' is closed")
            count = self._topics.get(topic) or self._lookup_partitions(topic)
            if key is None:
                partition = self._sticky.partition(topic, count, len(data))
            else:
                partition = partition_for_key(key, count)
            self._buffer.append((topic, partition, ts, key, encoded_headers, data))
            self._buffer_bytes += len(data)
            if len(self._buffer) >= MAX_BUFFER_MESSAGES or self._buffer_bytes >= MAX_BUFFER_BYTES:
                self._write_buffer(self._busy_timeout_s)

    def flush(self, timeout_s: float = 30.0) -> None:
        """Write every queued message in one transaction; they are committed on return.

        Called by pipelines at the end of a batch and by ``close``. Raises BackendError if
        the write lock cannot be had within ``timeout_s`` or the write fails; the queue is
        then kept intact, so a later flush writes it (no message is half-written).
        """
        with self._lock:
            if self._closed:
                return
            self._write_buffer(timeout_s)
        if time.monotonic() - self._last_retention >= RETENTION_EVERY_S:
            self._last_retention = time.monotonic()
            with self._lock, db_errors(self._path):
                enforce_retention(self._conn, self._path, now_ms())

    def _write_buffer(self, timeout_s: float) -> None:
        """With the lock held: assign offsets and insert the queue in one transaction."""
        if not self._buffer:
            return
        self._conn.execute(f"PRAGMA busy_timeout={max(0, int(timeout_s * 1000))}")
        next_offsets: dict[tuple[str, int], int] = {}
        rows: list[tuple[str, int, int, int, str | None, str | None, bytes]] = []
        append = rows.append
        try:
            with write_txn(self._conn, self._path):
                for topic, partition, ts, key, headers, value in self._buffer:
                    tp = (topic, partition)
                    offset = next_offsets.get(tp)
                    if offset is None:
                        offset = end_offset(self._conn, topic, partition)
                    next_offsets[tp] = offset + 1
                    append((topic, partition, offset, ts, key, headers, value))
                self._conn.executemany(_INSERT, rows)
        except sqlite3.Error as exc:
            raise BackendError(f"embedded bus {self._path}: write failed: {exc}") from exc
        self._buffer.clear()
        self._buffer_bytes = 0

    def pending(self) -> int:
        """Messages queued and not yet flushed."""
        return len(self._buffer)

    def close(self) -> None:
        """Flush, then release the connection; closing twice is harmless."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            with self._lock:
                self._closed = True
                self._conn.close()
            if self._on_close is not None:
                self._on_close(self)
