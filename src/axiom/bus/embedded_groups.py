"""Consumer-group membership of the embedded event log.

Every member of a group keeps a row in ``group_members`` with a heartbeat timestamp it
refreshes while it polls. A member whose heartbeat is older than its session timeout is
expired by the next member that heartbeats, and every join, leave or expiry bumps the
group's generation. All members compute the same assignment from the member rows
(Kafka's range assignor), so no leader is needed.

Hand-over is cooperative, as in Kafka's incremental rebalancing: a member releases a
partition at its next poll after losing it (after it committed the previous batch), and the
new owner claims it only once released, or once the old owner has left or expired. So no
partition is read by two members at once, and the new owner starts at the committed offset.
"""

from __future__ import annotations

import logging
import sqlite3
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import orjson

from axiom.bus.base import TopicPartition
from axiom.bus.embedded_sql import UPSERT_COMMITTED, now_ms, topic_partitions, write_txn

_log = logging.getLogger(__name__)


def range_assign(
    members: Mapping[str, Sequence[str]], partitions: Mapping[str, int]
) -> dict[str, list[TopicPartition]]:
    """Kafka's ``RangeAssignor``: per topic, contiguous partition ranges by sorted member id.

    Called by every member with the same inputs, so all agree without talking. For each
    topic the subscribed members, sorted by id, get ``n // m`` partitions each and the first
    ``n % m`` one more. Topics missing from ``partitions`` assign nothing.
    """
    out: dict[str, list[TopicPartition]] = {m: [] for m in members}
    subscribers: dict[str, list[str]] = {}
    for member in sorted(members):
        for topic in dict.fromkeys(members[member]):
            subscribers.setdefault(topic, []).append(member)
    for topic in sorted(subscribers):
        subs = subscribers[topic]
        each, extra = divmod(partitions.get(topic, 0), len(subs))
        start = 0
        for i, member in enumerate(subs):
            count = each + (1 if i < extra else 0)
            out[member].extend(TopicPartition(topic, p) for p in range(start, start + count))
            start += count
    return out


class GroupMember:
    """One consumer's membership in its group, on the consumer's own connection.

    Owned by :class:`~axiom.bus.embedded_consumer.EmbeddedConsumer`, which calls
    :meth:`sync` at every poll and :meth:`leave` on close. Not thread-safe on its own (the
    consumer serialises calls). Database failures surface as BackendError.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        group: str,
        topics: Sequence[str],
        *,
        session_timeout_s: float,
        client_id: str,
    ) -> None:
        self._conn = conn
        self._path = path
        self.group = group
        self.topics = list(dict.fromkeys(topics))
        self.member_id = f"{client_id}-{uuid.uuid4().hex[:16]}"
        self._session_ms = max(1, int(session_timeout_s * 1000))
        self._heartbeat_every_s = max(0.02, session_timeout_s / 5)
        self._last_heartbeat = 0.0
        self.generation = -1
        self.target: set[TopicPartition] = set()
        self.owned: set[TopicPartition] = set()
        self._join()

    def _join(self) -> None:
        """Register (again) and bump the generation; expires stale members on the way."""
        at = now_ms()
        with write_txn(self._conn, self._path):
            self._conn.execute(
                "DELETE FROM partition_owners WHERE group_id = ? AND member_id = ?",
                (self.group, self.member_id),
            )
            self._conn.execute(
                "INSERT OR REPLACE INTO group_members"
                " (group_id, member_id, topics, heartbeat_ms, session_ms, joined_ms)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    self.group,
                    self.member_id,
                    orjson.dumps(self.topics).decode(),
                    at,
                    self._session_ms,
                    at,
                ),
            )
            self._expire_others(at)
            self._bump_generation()
        self._last_heartbeat = time.monotonic()

    def _bump_generation(self) -> None:
        self._conn.execute(
            "INSERT INTO group_generations (group_id, generation) VALUES (?, 1)"
            " ON CONFLICT (group_id) DO UPDATE SET generation = generation + 1",
            (self.group,),
        )

    def _expire_others(self, at: int) -> bool:
        """Inside a write transaction: drop members whose session ran out; True if any."""
        stale = [
            row[0]
            for row in self._conn.execute(
                "SELECT member_id FROM group_members WHERE group_id = ? AND member_id != ?"
                " AND heartbeat_ms + session_ms < ?",
                (self.group, self.member_id, at),
            )
        ]
        for member in stale:
            _log.warning("group %s: member %s missed its heartbeats, expired", self.group, member)
            for table in ("group_members", "partition_owners"):
                self._conn.execute(
                    f"DELETE FROM {table} WHERE group_id = ? AND member_id = ?",  # noqa: S608
                    (self.group, member),
                )
        if stale:
            self._bump_generation()
        return bool(stale)

    def _heartbeat(self) -> set[TopicPartition]:
        """Refresh this member's heartbeat; if it had been expired, rejoin.

        Returns the partitions lost by having been expired (all it owned), else nothing.
        """
        at = now_ms()
        with write_txn(self._conn, self._path):
            cur = self._conn.execute(
                "UPDATE group_members SET heartbeat_ms = ? WHERE group_id = ? AND member_id = ?",
                (at, self.group, self.member_id),
            )
            alive = cur.rowcount == 1
            if alive:
                self._expire_others(at)
        self._last_heartbeat = time.monotonic()
        if alive:
            return set()
        _log.warning("group %s: member %s was expired, rejoining", self.group, self.member_id)
        lost, self.owned = self.owned, set()
        self.generation = -1
        self._join()
        return lost

    def _read_assignment(self) -> tuple[int, set[TopicPartition], bool]:
        """One consistent snapshot: generation, this member's target, whether it is a member."""
        self._conn.execute("BEGIN")
        try:
            row = self._conn.execute(
                "SELECT generation FROM group_generations WHERE group_id = ?", (self.group,)
            ).fetchone()
            members = {
                member: orjson.loads(topics)
                for member, topics in self._conn.execute(
                    "SELECT member_id, topics FROM group_members WHERE group_id = ?", (self.group,)
                )
            }
            parts = topic_partitions(self._conn)
        finally:
            self._conn.execute("COMMIT")
        generation = 0 if row is None else int(row[0])
        mine = set(range_assign(members, parts).get(self.member_id, []))
        return generation, mine, self.member_id in members

    def due(self) -> bool:
        """True when the next :meth:`sync` heartbeats; a waiting poll wakes up for it."""
        return time.monotonic() - self._last_heartbeat >= self._heartbeat_every_s

    def current_generation(self) -> int:
        """The group's generation as stored now (a cheap read)."""
        row = self._conn.execute(
            "SELECT generation FROM group_generations WHERE group_id = ?", (self.group,)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def sync(self) -> tuple[set[TopicPartition], set[TopicPartition]]:
        """Heartbeat if due, follow membership changes; returns (gained, lost) partitions.

        Called by the consumer before every read. Lost partitions are released at once;
        gained ones only after their previous owner released them, so a partition may stay
        pending for a few polls.
        """
        lost: set[TopicPartition] = set()
        if self.due():
            lost |= self._heartbeat()
        if self.current_generation() != self.generation:
            generation, target, present = self._read_assignment()
            if not present:
                lost |= self.owned
                self.owned = set()
                self._join()
                generation, target, _ = self._read_assignment()
            self.generation, self.target = generation, target
        release = self.owned - self.target
        want = self.target - self.owned
        gained: set[TopicPartition] = set()
        if release or (want and self._claimable(want)):
            gained = self._hand_over(release, want)
        self.owned = (self.owned - release) | gained
        return gained, lost | release

    def _owners(self, tps: Iterable[TopicPartition]) -> dict[TopicPartition, str | None]:
        """Current owner of each partition (None: free, or its owner is gone)."""
        live = {
            row[0]
            for row in self._conn.execute(
                "SELECT member_id FROM group_members WHERE group_id = ?", (self.group,)
            )
        }
        out: dict[TopicPartition, str | None] = {}
        for tp in tps:
            row = self._conn.execute(
                "SELECT member_id FROM partition_owners"
                " WHERE group_id = ? AND topic = ? AND partition = ?",
                (self.group, tp.topic, tp.partition),
            ).fetchone()
            out[tp] = row[0] if row is not None and row[0] in live else None
        return out

    def _claimable(self, want: set[TopicPartition]) -> bool:
        """A read-only check, so waiting for a release does not write on every poll."""
        owners = self._owners(want)
        return any(owner in (None, self.member_id) for owner in owners.values())

    def _hand_over(
        self, release: set[TopicPartition], want: set[TopicPartition]
    ) -> set[TopicPartition]:
        """Release lost partitions and claim free ones in one write transaction."""
        gained: set[TopicPartition] = set()
        with write_txn(self._conn, self._path):
            self._conn.executemany(
                "DELETE FROM partition_owners"
                " WHERE group_id = ? AND topic = ? AND partition = ? AND member_id = ?",
                [(self.group, tp.topic, tp.partition, self.member_id) for tp in release],
            )
            for tp, owner in self._owners(want).items():
                if owner in (None, self.member_id):
                    self._conn.execute(
                        "INSERT OR REPLACE INTO partition_owners"
                        " (group_id, topic, partition, member_id) VALUES (?, ?, ?, ?)",
                        (self.group, tp.topic, tp.partition, self.member_id),
                    )
                    gained.add(tp)
        return gained

    def commit(self, offsets: Mapping[TopicPartition, int]) -> set[TopicPartition]:
        """Store ``offsets`` as the group's next offsets to read, and count as a heartbeat.

        Called by the consumer's ``commit``. Offsets of partitions that another live member
        owns now (this member was expired meanwhile) are not stored: that member re-reads
        them from the last commit, so nothing is lost. Returns those skipped partitions.
        """
        at = now_ms()
        with write_txn(self._conn, self._path):
            owners = self._owners(offsets)
            skipped = {tp for tp, o in owners.items() if o not in (None, self.member_id)}
            self._conn.executemany(
                UPSERT_COMMITTED,
                [
                    (self.group, tp.topic, tp.partition, offset, at)
                    for tp, offset in offsets.items()
                    if tp not in skipped
                ],
            )
            cur = self._conn.execute(
                "UPDATE group_members SET heartbeat_ms = ? WHERE group_id = ? AND member_id = ?",
                (at, self.group, self.member_id),
            )
        if cur.rowcount == 1:
            self._last_heartbeat = time.monotonic()
        return skipped

    def leave(self) -> None:
        """Remove this member and its ownerships; the others rebalance at their next poll."""
        with write_txn(self._conn, self._path):
            for table in ("group_members", "partition_owners"):
                self._conn.execute(
                    f"DELETE FROM {table} WHERE group_id = ? AND member_id = ?",  # noqa: S608
                    (self.group, self.member_id),
                )
            self._bump_generation()
        self.owned = set()
        self.target = set()
