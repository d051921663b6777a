"""The consumer of the embedded event log: a group member reading by offset ranges."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import orjson

from axiom.bus.base import Consumer, Record, TopicPartition
from axiom.bus.embedded_groups import GroupMember
from axiom.bus.embedded_sql import (
    connect,
    db_errors,
    end_offset,
    first_offset_at,
    topic_partitions,
    unknown_topic,
)
from axiom.errors import BackendError, TopicError

_log = logging.getLogger(__name__)

_FETCH = (
    "SELECT offset, ts, key, headers, value FROM messages"
    " WHERE topic = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?"
)
#: Longest sleep between two looks at the file while a poll waits for data.
_MAX_WAIT_STEP_S = 0.05

RESETS = ("earliest", "latest")


class EmbeddedConsumer(Consumer):
    """A member of a consumer group; obtained from ``EmbeddedBus.consumer()``.

    The position of a partition is the committed offset of the group, else the beginning
    (``earliest``) or the end (``latest``) of the partition when this member gets it.
    ``poll`` returns records in offset order per partition, shares ``max_records`` fairly
    between partitions, and sleeps in short steps until data arrives or the timeout ends.
    Losing a partition drops its position; gaining one starts at the committed offset.
    Calls are serialised by a lock; one consumer is meant for one thread at a time.
    """

    def __init__(
        self,
        path: Path,
        group: str,
        topics: Sequence[str],
        *,
        auto_offset_reset: str = "earliest",
        session_timeout_s: float = 10.0,
        busy_timeout_s: float = 30.0,
        client_id: str = "axiom",
        on_close: Callable[[EmbeddedConsumer], None] | None = None,
    ) -> None:
        if auto_offset_reset not in RESETS:
            raise ValueError(
                f"auto_offset_reset is 'earliest' or 'latest', not {auto_offset_reset!r}"
            )
        if not topics:
            raise ValueError("a consumer reads at least one topic")
        self.group = group
        self.topics = list(dict.fromkeys(topics))
        self._path = path
        self._reset = auto_offset_reset
        self._conn = connect(path, busy_timeout_s)
        known = topic_partitions(self._conn)
        missing = [t for t in self.topics if t not in known]
        if missing:
            self._conn.close()
            raise unknown_topic(missing[0])
        self._lock = threading.Lock()
        self._positions: dict[TopicPartition, int] = {}
        self._turn = 0
        self._on_close = on_close
        self._closed = False
        try:
            self._member = GroupMember(
                self._conn,
                path,
                group,
                self.topics,
                session_timeout_s=session_timeout_s,
                client_id=client_id,
            )
        except BaseException:
            self._conn.close()
            raise

    @property
    def member_id(self) -> str:
        """This member's id in its group (unique per consumer object)."""
        return self._member.member_id

    @contextmanager
    def _open(self) -> Iterator[None]:
        """Hold the lock on an open consumer; database failures become BackendError."""
        with self._lock:
            if self._closed:
                raise BackendError(f"consumer of group '{self.group}' is closed")
            with db_errors(self._path):
                yield

    def _sync(self) -> None:
        """With the lock held: follow the group, resolve positions of gained partitions."""
        gained, lost = self._member.sync()
        for tp in lost:
            self._positions.pop(tp, None)
        if gained:
            committed = self._committed_positions(gained)
            for tp in gained:
                if tp in committed:
                    self._positions[tp] = committed[tp]
                elif self._reset == "latest":
                    self._positions[tp] = end_offset(self._conn, tp.topic, tp.partition)
                else:
                    self._positions[tp] = 0

    def _committed_positions(self, tps: set[TopicPartition]) -> dict[TopicPartition, int]:
        out: dict[TopicPartition, int] = {}
        for topic, partition, offset in self._conn.execute(
            "SELECT topic, partition, offset FROM committed_offsets WHERE group_id = ?",
            (self.group,),
        ):
            tp = TopicPartition(topic, partition)
            if tp in tps:
                out[tp] = int(offset)
        return out

    def _ordered(self) -> list[TopicPartition]:
        """Owned partitions, rotated each poll so no partition always comes first."""
        owned = sorted(self._member.owned, key=lambda tp: (tp.topic, tp.partition))
        if not owned:
            return owned
        self._turn = (self._turn + 1) % len(owned)
        return owned[self._turn :] + owned[: self._turn]

    def _fetch(self, max_records: int) -> list[Record]:
        """Read up to ``max_records`` from the positions, a fair share per partition."""
        order = self._ordered()
        batches: dict[TopicPartition, list[Record]] = {tp: [] for tp in order}
        budget = max_records
        active = order
        while budget > 0 and active:
            share = max(1, -(-budget // len(active)))
            still: list[TopicPartition] = []
            for tp in active:
                if budget <= 0:
                    break
                limit = min(share, budget)
                got = self._read(tp, limit)
                batches[tp].extend(got)
                budget -= len(got)
                if len(got) == limit:
                    still.append(tp)
            active = still
        return [record for tp in order for record in batches[tp]]

    def _read(self, tp: TopicPartition, limit: int) -> list[Record]:
        topic, partition = tp.topic, tp.partition
        rows = self._conn.execute(_FETCH, (topic, partition, self._positions[tp], limit)).fetchall()
        if not rows:
            return []
        loads = orjson.loads
        out = [
            Record(topic, partition, offset, key, value, ts, loads(headers) if headers else {})
            for offset, ts, key, headers, value in rows
        ]
        self._positions[tp] = out[-1].offset + 1
        return out

    def _data_version(self) -> int:
        return int(self._conn.execute("PRAGMA data_version").fetchone()[0])

    def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        """Up to ``max_records`` records from the current positions, or [] after ``timeout_s``.

        Called in the consumer loop. Also heartbeats and follows rebalances, so a member
        that stops polling for longer than its session timeout loses its partitions.
        Raises BackendError if the database fails.
        """
        if max_records < 1:
            raise ValueError(f"max_records must be positive, got {max_records}")
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._open():
            while True:
                version = self._data_version()
                self._sync()
                records = self._fetch(max_records)
                if records:
                    return records
                step = 0.002
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return []
                    time.sleep(min(step, left))
                    step = min(step * 2, _MAX_WAIT_STEP_S)
                    if self._data_version() != version or self._member.due():
                        break

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Store the next offsets to read (default: the current positions).

        Called after the polled batch was written. Offsets of partitions taken over by
        another member meanwhile are skipped (with a warning): that member re-reads them.
        Raises BackendError if the write fails; nothing is committed then.
        """
        with self._open():
            chosen = dict(self._positions) if offsets is None else dict(offsets)
            for tp, offset in chosen.items():
                if offset < 0:
                    raise TopicError(f"cannot commit negative offset {offset} for {tp}")
            if not chosen:
                return
            skipped = self._member.commit(chosen)
            if skipped:
                _log.warning(
                    "group %s: not committing %s, now owned by another member",
                    self.group,
                    sorted((tp.topic, tp.partition) for tp in skipped),
                )

    def assignment(self) -> list[TopicPartition]:
        """The partitions this member reads now (after following the group)."""
        with self._open():
            self._sync()
            return sorted(self._member.owned, key=lambda tp: (tp.topic, tp.partition))

    def position(self, tp: TopicPartition) -> int:
        """The offset the next poll reads ``tp`` from; TopicError if ``tp`` is not assigned."""
        with self._open():
            if tp not in self._positions:
                raise TopicError(f"{tp.topic}[{tp.partition}] is not assigned to this consumer")
            return self._positions[tp]

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Read ``tp`` from ``offset`` on the next poll; TopicError if not assigned."""
        if offset < 0:
            raise TopicError(f"cannot seek {tp.topic}[{tp.partition}] to negative offset {offset}")
        with self._open():
            self._sync()
            if tp not in self._member.owned:
                raise TopicError(f"{tp.topic}[{tp.partition}] is not assigned to this consumer")
            self._positions[tp] = offset

    def seek_to_time(self, timestamp_ms: int) -> None:
        """Every assigned partition: the first offset with a timestamp at or after the time."""
        with self._open():
            self._sync()
            for tp in self._member.owned:
                self._positions[tp] = first_offset_at(
                    self._conn, tp.topic, tp.partition, timestamp_ms
                )

    def close(self) -> None:
        """Leave the group without committing; closing twice is harmless."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._member.leave()
            finally:
                self._positions.clear()
                self._conn.close()
        if self._on_close is not None:
            self._on_close(self)
