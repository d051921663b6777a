"""The event-log port: Kafka's contract, whatever the adapter.

Guarantees every adapter gives (checked by ``tests/contract/bus_contract.py``):

* Topics have a fixed number of partitions; a keyed message goes to
  ``murmur2(key) % partitions`` (Kafka's default partitioner), so one key keeps its order.
* Offsets are per partition, start at 0 and grow by one per message.
* ``Producer.flush()`` returns only when every message sent before it is durable; a message
  not flushed may be lost in a crash, a flushed one never is.
* A consumer group has one committed offset per partition. A new consumer in a group starts
  at the committed offset, else at the beginning (``earliest``) or end (``latest``).
  ``commit`` stores *the next offset to read*. Members of one group split the partitions.
* ``seek`` / ``seek_to_time`` move the read position (replay); lag per group is
  ``end offset - committed offset`` per partition.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from axiom.domain.topics import TopicSpec
from axiom.lifecycle import Closable


@dataclass(frozen=True, slots=True)
class TopicPartition:
    """A partition of a topic."""

    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class Record:
    """One message read from the log."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    timestamp_ms: int
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def tp(self) -> TopicPartition:
        """The partition this record came from."""
        return TopicPartition(self.topic, self.partition)


def next_offsets(records: Iterable[Record]) -> dict[TopicPartition, int]:
    """The offsets to commit after ``records`` were processed (last offset + 1)."""
    out: dict[TopicPartition, int] = {}
    for r in records:
        if r.offset + 1 > out.get(r.tp, -1):
            out[r.tp] = r.offset + 1
    return out


class Producer(Closable, ABC):
    """Sends messages; obtained from :meth:`EventBus.producer`, closed by its owner."""

    @abstractmethod
    def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        """Queue one message. Raises TopicError for an unknown topic."""

    @abstractmethod
    def flush(self, timeout_s: float = 30.0) -> None:
        """Block until every queued message is durable; raises BackendError if not."""

    def close(self) -> None:
        """Flush and release resources."""
        self.flush()


class Consumer(Closable, ABC):
    """Reads a set of topics as a member of a consumer group."""

    group: str

    @abstractmethod
    def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        """Up to ``max_records`` records from the assigned partitions.

        Offset order per partition; waits up to ``timeout_s`` when none is available,
        then returns [].
        """

    @abstractmethod
    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Store the next offset to read per partition (default: the current positions).

        Called after the batch is written; if the process dies before, it is re-delivered.
        """

    @abstractmethod
    def assignment(self) -> list[TopicPartition]:
        """The partitions this member currently reads."""

    @abstractmethod
    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Read ``tp`` from ``offset`` on the next poll."""

    @abstractmethod
    def seek_to_time(self, timestamp_ms: int) -> None:
        """Every assigned partition: read from the first message at or after the time."""

    def seek_to_beginning(self) -> None:
        """Every assigned partition: read from offset 0 (or the log start)."""
        for tp in self.assignment():
            self.seek(tp, 0)

    @abstractmethod
    def close(self) -> None:
        """Leave the group (without committing) and release resources."""


class EventBus(Closable, ABC):
    """The event log. Built by the registry from a URL (``from_url``); closed by its owner."""

    url: str

    @abstractmethod
    def ensure_topics(self, specs: Iterable[TopicSpec]) -> None:
        """Create missing topics (idempotent); existing ones are left as they are."""

    @abstractmethod
    def list_topics(self) -> dict[str, int]:
        """Topic name -> partition count."""

    @abstractmethod
    def producer(self, client_id: str = "axiom") -> Producer:
        """A new producer (idempotent where the backend supports it)."""

    @abstractmethod
    def consumer(
        self, group: str, topics: Sequence[str], *, auto_offset_reset: str = "earliest"
    ) -> Consumer:
        """A new member of ``group`` reading ``topics``."""

    @abstractmethod
    def end_offsets(self, topic: str) -> dict[int, int]:
        """Partition -> the offset the next message will get."""

    @abstractmethod
    def committed(self, group: str, topic: str) -> dict[int, int]:
        """Partition -> committed offset of ``group`` (partitions never committed: absent)."""

    @abstractmethod
    def offsets_for_time(self, topic: str, timestamp_ms: int) -> dict[int, int]:
        """Partition -> first offset with a timestamp >= ``timestamp_ms`` (end if none)."""

    @abstractmethod
    def commit_offsets(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        """Set ``group``'s committed offsets from outside the group (replay, admin).

        Members of the group pick the new offsets up when their partitions are next
        assigned; run it while the group's consumers are stopped.
        """

    @abstractmethod
    def groups(self) -> list[str]:
        """Every consumer group with a committed offset."""

    @abstractmethod
    def delete_group(self, group: str) -> None:
        """Forget a group's committed offsets (it restarts from ``auto_offset_reset``)."""

    def lag(self, group: str, topics: Sequence[str]) -> dict[str, dict[int, int]]:
        """Topic -> partition -> messages not yet committed by ``group``."""
        out: dict[str, dict[int, int]] = {}
        for topic in topics:
            done = self.committed(group, topic)
            out[topic] = {p: end - done.get(p, 0) for p, end in self.end_offsets(topic).items()}
        return out

    def total_lag(self, group: str, topics: Sequence[str]) -> int:
        """Sum of :meth:`lag` over all partitions."""
        return sum(sum(parts.values()) for parts in self.lag(group, topics).values())

    @abstractmethod
    def close(self) -> None:
        """Release connections."""
