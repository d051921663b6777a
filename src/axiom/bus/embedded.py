"""The embedded event log: Kafka's contract in one SQLite file, no server.

The default bus (``AXIOM_BUS=embedded://``). Topics with fixed partitions, keyed messages
on ``murmur2(key) % partitions``, dense per-partition offsets, consumer groups with
several members (in one process or many) splitting the partitions, committed offsets,
replay by offset or time, retention. Producers in several processes may write at once;
consumers in other processes see each flush as soon as it commits.

Layout of the code: :mod:`axiom.bus.embedded_sql` (file, schema, durability),
:mod:`axiom.bus.embedded_producer`, :mod:`axiom.bus.embedded_consumer`,
:mod:`axiom.bus.embedded_groups` (membership, assignment, hand-over).

Usage::

    bus = EmbeddedBus(tmp_path / "bus.db")
    bus.ensure_topics(CATALOG)
    with bus.producer() as p:
        p.send(PRICE_UPDATES, b"...", key="AAPL")
    with bus.consumer("warehouse", [PRICE_UPDATES]) as c:
        records = c.poll(500, timeout_s=1.0)
        c.commit()
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from axiom.bus.base import EventBus, TopicPartition
from axiom.bus.embedded_consumer import RESETS, EmbeddedConsumer
from axiom.bus.embedded_producer import EmbeddedProducer
from axiom.bus.embedded_sql import (
    UPSERT_COMMITTED,
    connect,
    db_errors,
    end_offset,
    enforce_retention,
    first_offset_at,
    now_ms,
    topic_partitions,
    unknown_topic,
    write_txn,
)
from axiom.domain.topics import TopicSpec
from axiom.errors import BackendError, ConfigError, TopicError

if TYPE_CHECKING:
    from axiom.settings import Settings

_SCHEME = "embedded://"
_LEGAL_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


class EmbeddedBus(EventBus):
    """The event log in one SQLite file (WAL), shared by every process that opens it.

    Built by the registry (:meth:`from_url`) or directly from a path in tests. Closing the
    bus closes the producers and consumers it made that are still open.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        session_timeout_s: float = 10.0,
        busy_timeout_s: float = 30.0,
    ) -> None:
        """Open (creating if needed) the log at ``path``; BackendError if it is unusable.

        ``session_timeout_s``: a consumer that has not polled (or committed) for that long
        is expired and its partitions go to the other members. ``busy_timeout_s``: how long
        a writer waits for another process's write lock before failing.
        """
        if session_timeout_s <= 0:
            raise ConfigError(f"session_timeout_s must be positive, got {session_timeout_s}")
        self.path = Path(path).expanduser().resolve()
        self.url = f"{_SCHEME}{self.path}"
        self.session_timeout_s = session_timeout_s
        self.busy_timeout_s = busy_timeout_s
        self._conn = connect(self.path, busy_timeout_s)
        self._lock = threading.Lock()
        self._children: weakref.WeakSet[EmbeddedProducer | EmbeddedConsumer] = weakref.WeakSet()
        self._closed = False

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> EmbeddedBus:
        """Build from ``embedded://`` (``<home>/bus.db``) or ``embedded:///abs/path/bus.db``.

        Called by the registry. A relative path (``embedded://logs/bus.db``) is taken under
        ``settings.home``. Raises ConfigError for any other URL.
        """
        if not url.lower().startswith(_SCHEME):
            raise ConfigError(
                f"not an embedded bus URL: '{url}' (use embedded:// or embedded:///path)"
            )
        rest = url[len(_SCHEME) :]
        if "?" in rest or "#" in rest:
            raise ConfigError(f"the embedded bus URL takes no options: '{url}'")
        if not rest:
            return cls(settings.home_dir / "bus.db")
        path = Path(rest).expanduser()
        return cls(path if path.is_absolute() else settings.home_dir / path)

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError(f"the embedded bus at {self.path} is closed")

    @contextmanager
    def _open(self) -> Iterator[None]:
        """Hold the lock on an open bus; database failures become BackendError."""
        with self._lock:
            self._check_open()
            with db_errors(self.path):
                yield

    def ensure_topics(self, specs: Iterable[TopicSpec]) -> None:
        """Create the topics that do not exist yet; existing topics are left as they are.

        Called at start-up by pipelines, consumers and tests (idempotent, safe from several
        processes at once). Raises TopicError for an illegal name or partition count.
        """
        rows = []
        for spec in specs:
            if not _LEGAL_TOPIC.fullmatch(spec.name) or spec.name in (".", ".."):
                raise TopicError(f"illegal topic name '{spec.name}': use 1-249 of [A-Za-z0-9._-]")
            if spec.partitions < 1:
                raise TopicError(f"topic '{spec.name}' needs at least 1 partition")
            rows.append((spec.name, spec.partitions, spec.retention_ms, now_ms()))
        if not rows:
            return
        with self._open(), write_txn(self._conn, self.path):
            self._conn.executemany(
                "INSERT OR IGNORE INTO topics (name, partitions, retention_ms, created_ms)"
                " VALUES (?, ?, ?, ?)",
                rows,
            )

    def list_topics(self) -> dict[str, int]:
        """Topic name -> partition count, as stored now."""
        with self._open():
            return topic_partitions(self._conn)

    def producer(self, client_id: str = "axiom") -> EmbeddedProducer:
        """A new producer with its own connection; the caller closes it."""
        self._check_open()
        producer = EmbeddedProducer(
            self.path,
            client_id=client_id,
            busy_timeout_s=self.busy_timeout_s,
            on_close=self._children.discard,
        )
        self._children.add(producer)
        return producer

    def consumer(
        self, group: str, topics: Sequence[str], *, auto_offset_reset: str = "earliest"
    ) -> EmbeddedConsumer:
        """A new member of ``group`` reading ``topics``; the caller closes it.

        Raises TopicError if a topic does not exist, ConfigError for a bad reset policy.
        """
        self._check_open()
        if auto_offset_reset not in RESETS:
            raise ConfigError(
                f"auto_offset_reset must be 'earliest' or 'latest', not '{auto_offset_reset}'"
            )
        if not group:
            raise ConfigError("a consumer group needs a non-empty name")
        consumer = EmbeddedConsumer(
            self.path,
            group,
            topics,
            auto_offset_reset=auto_offset_reset,
            session_timeout_s=self.session_timeout_s,
            busy_timeout_s=self.busy_timeout_s,
            on_close=self._children.discard,
        )
        self._children.add(consumer)
        return consumer

    def _partition_count(self, topic: str) -> int:
        row = self._conn.execute(
            "SELECT partitions FROM topics WHERE name = ?", (topic,)
        ).fetchone()
        if row is None:
            raise unknown_topic(topic)
        return int(row[0])

    def end_offsets(self, topic: str) -> dict[int, int]:
        """Partition -> the offset the next message gets; TopicError for an unknown topic."""
        with self._open():
            count = self._partition_count(topic)
            return {p: end_offset(self._conn, topic, p) for p in range(count)}

    def committed(self, group: str, topic: str) -> dict[int, int]:
        """Partition -> committed offset of ``group`` (never committed: absent)."""
        with self._open():
            rows = self._conn.execute(
                "SELECT partition, offset FROM committed_offsets"
                " WHERE group_id = ? AND topic = ? ORDER BY partition",
                (group, topic),
            ).fetchall()
        return {int(p): int(o) for p, o in rows}

    def offsets_for_time(self, topic: str, timestamp_ms: int) -> dict[int, int]:
        """Partition -> first offset with a timestamp at or after ``timestamp_ms``.

        Called by replay tooling to turn a time into offsets; a partition with no such
        message maps to its end offset. TopicError for an unknown topic.
        """
        with self._open():
            count = self._partition_count(topic)
            return {p: first_offset_at(self._conn, topic, p, timestamp_ms) for p in range(count)}

    def commit_offsets(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        """Set ``group``'s committed offsets from outside the group (replay, admin).

        Called by ``axiom replay`` while the group's consumers are stopped; a running
        member picks the new offset up when it next gains the partition. Raises TopicError
        for an unknown topic, a partition outside it or a negative offset (nothing stored).
        """
        with self._open():
            rows = []
            for tp, offset in offsets.items():
                if not 0 <= tp.partition < self._partition_count(tp.topic):
                    raise TopicError(f"topic '{tp.topic}' has no partition {tp.partition}")
                if offset < 0:
                    raise TopicError(f"cannot commit negative offset {offset} for {tp}")
                rows.append((group, tp.topic, tp.partition, int(offset), now_ms()))
            with write_txn(self._conn, self.path):
                self._conn.executemany(UPSERT_COMMITTED, rows)

    def groups(self) -> list[str]:
        """Every group with a committed offset, sorted."""
        with self._open():
            rows = self._conn.execute(
                "SELECT DISTINCT group_id FROM committed_offsets ORDER BY group_id"
            ).fetchall()
        return [str(r[0]) for r in rows]

    def delete_group(self, group: str) -> None:
        """Forget ``group``'s committed offsets, like ``kafka-consumer-groups --delete``.

        Raises BackendError while the group has live members (as Kafka refuses to delete a
        non-empty group); members whose session ran out do not count. Unknown group: no-op.
        """
        with self._open(), write_txn(self._conn, self.path):
            live = self._conn.execute(
                "SELECT COUNT(*) FROM group_members"
                " WHERE group_id = ? AND heartbeat_ms + session_ms >= ?",
                (group, now_ms()),
            ).fetchone()[0]
            if live:
                raise BackendError(
                    f"group '{group}' has {live} active member(s); close them before "
                    "deleting the group"
                )
            for table in (
                "committed_offsets",
                "group_members",
                "partition_owners",
                "group_generations",
            ):
                self._conn.execute(
                    f"DELETE FROM {table} WHERE group_id = ?",  # noqa: S608
                    (group,),
                )

    def enforce_retention(self, at_ms: int | None = None) -> int:
        """Delete messages past their topic's ``retention_ms``; returns how many.

        Producers call it about once a minute; maintenance may call it any time. Only a
        prefix of each partition goes and its newest message stays, so offsets are never
        reused.
        """
        with self._open():
            return enforce_retention(self._conn, self.path, now_ms() if at_ms is None else at_ms)

    def close(self) -> None:
        """Close the producers (flushing them) and consumers still open, then the file."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            for child in list(self._children):
                child.close()
        finally:
            self._conn.close()

    def __repr__(self) -> str:
        return f"EmbeddedBus({str(self.path)!r})"
