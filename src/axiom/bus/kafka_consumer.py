"""The Kafka consumer: a member of a Kafka consumer group, committing only when told to."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, KafkaError, KafkaException, Message
from confluent_kafka import Consumer as _RdConsumer
from confluent_kafka import TopicPartition as _RdPartition

from axiom.bus.base import Consumer, Record, TopicPartition
from axiom.bus.kafka_common import (
    CONNECT_TIMEOUT_S,
    REQUEST_TIMEOUT_S,
    call,
    client_config,
    error_of,
    translate,
)
from axiom.errors import BackendError, TopicError

_log = logging.getLogger(__name__)

#: Commit answers that mean "the group moved on": the records will be re-delivered to the
#: partition's new owner, so the commit is dropped rather than failing the consumer loop.
_FENCED = frozenset(
    {
        KafkaError.REBALANCE_IN_PROGRESS,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.FENCED_INSTANCE_ID,
        KafkaError._ASSIGNMENT_LOST,
    }
)


def consumer_config(bootstrap: str, client_id: str, group: str, reset: str) -> dict[str, Any]:
    """The librdkafka settings of an Axiom consumer.

    Offsets are committed only by :meth:`KafkaConsumer.commit` (after the batch is
    written), never automatically. Partitions are split by the cooperative-sticky
    assignor, so a member joining or leaving moves only the partitions that must move.
    """
    return {
        **client_config(bootstrap, client_id),
        "group.id": group,
        "enable.auto.commit": False,
        "auto.offset.reset": reset,
        "partition.assignment.strategy": "cooperative-sticky",
        "session.timeout.ms": 10_000,
        "heartbeat.interval.ms": 1_000,
        "allow.auto.create.topics": False,
        "enable.partition.eof": False,
        "fetch.wait.max.ms": 100,
        "queued.max.messages.kbytes": 65_536,
    }


def _text(raw: bytes | str | None) -> str:
    if raw is None:
        return ""
    return raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace")


def to_record(msg: Message) -> Record:
    """The port's Record for a message polled from Kafka (value None -> b"").

    Called once per message on the consumer's hot path, hence positional arguments and
    no headers argument when the message has none.
    """
    raw_key = msg.key()
    key = None if raw_key is None else raw_key.decode("utf-8", errors="replace")
    raw_headers = msg.headers()
    record = Record(
        msg.topic() or "",
        msg.partition() or 0,
        msg.offset() or 0,
        key,
        msg.value() or b"",
        max(msg.timestamp()[1], 0),
    )
    if raw_headers:
        pairs = raw_headers.items() if isinstance(raw_headers, dict) else raw_headers
        record.headers.update((name, _text(v)) for name, v in pairs)
    return record


class KafkaConsumer(Consumer):
    """A member of a Kafka consumer group; obtained from ``KafkaBus.consumer()``.

    Kafka runs the group: members split the partitions, a new member starts at the
    group's committed offset, else at ``auto_offset_reset``. ``poll`` returns as soon as
    one record is there (then takes what else is already fetched, up to ``max_records``).
    A ``seek`` on a partition not assigned yet is remembered and applied when it is.
    One consumer is meant for one thread.
    """

    def __init__(
        self,
        bootstrap: str,
        url: str,
        group: str,
        topics: Sequence[str],
        *,
        auto_offset_reset: str = "earliest",
        client_id: str = "axiom",
        on_close: Callable[[KafkaConsumer], None] | None = None,
    ) -> None:
        if not topics:
            raise ValueError("a consumer reads at least one topic")
        self.url = url
        self.group = group
        self.topics = list(dict.fromkeys(topics))
        self._on_close = on_close
        self._lock = threading.Lock()
        self._pending: dict[TopicPartition, int] = {}
        self._fatal = ""
        self._closed = False
        config = consumer_config(bootstrap, client_id, group, auto_offset_reset)
        config["error_cb"] = self._on_error
        self._consumer = _RdConsumer(config)
        try:
            self._partitions = self._topic_partitions()
            self._consumer.subscribe(self.topics, on_assign=self._on_assign)
        except BaseException:
            self._consumer.close()
            raise

    def _topic_partitions(self) -> dict[str, int]:
        """Partition count of each subscribed topic; TopicError for one that is missing."""
        metadata = call(self.url, "metadata", self._consumer.list_topics, timeout=CONNECT_TIMEOUT_S)
        out: dict[str, int] = {}
        for topic in self.topics:
            found = metadata.topics.get(topic)
            if found is None or found.error is not None or not found.partitions:
                raise TopicError(
                    f"unknown topic '{topic}' on Kafka at {self.url}: create it first with "
                    "bus.ensure_topics(...) (all of Axiom's topics: axiom.domain.topics.CATALOG)"
                )
            out[topic] = len(found.partitions)
        return out

    def _on_error(self, err: KafkaError) -> None:
        if err.fatal():
            self._fatal = err.str()
        _log.debug("Kafka consumer of group %s: %s", self.group, err.str())

    def _on_assign(self, consumer: _RdConsumer, partitions: list[_RdPartition]) -> None:
        """Rebalance callback (inside poll): start gained partitions at pending seeks."""
        moved = False
        for rd in partitions:
            offset = self._pending.pop(TopicPartition(rd.topic, rd.partition), None)
            if offset is not None:
                rd.offset = offset
                moved = True
        if moved:
            consumer.incremental_assign(partitions)

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError(f"consumer of group '{self.group}' is closed")
        if self._fatal:
            raise BackendError(f"Kafka at {self.url}: consumer of '{self.group}': {self._fatal}")

    def _owned(self) -> set[TopicPartition]:
        return {TopicPartition(rd.topic, rd.partition) for rd in self._consumer.assignment()}

    def poll(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        """Up to ``max_records`` records, or [] after ``timeout_s`` without any.

        Called in the consumer loop; also serves the group protocol (heartbeats,
        rebalances), so a member must poll at least every ``max.poll.interval.ms``.
        An unreachable broker is not an error here (the client reconnects and poll
        returns []); a fatal client error raises BackendError.
        """
        if max_records < 1:
            raise ValueError(f"max_records must be positive, got {max_records}")
        self._check_open()
        self._apply_pending()
        first = self._consumer.poll(max(0.0, timeout_s))
        if first is None:
            return []
        messages = [first]
        if max_records > 1:
            messages.extend(self._consumer.consume(max_records - 1, timeout=0))
        out: list[Record] = []
        for msg in messages:
            err = msg.error()
            if err is None:
                out.append(to_record(msg))
            elif err.fatal():
                raise translate(err, self.url, f"consuming for group '{self.group}'")
            else:
                _log.warning("Kafka consumer of group %s: %s", self.group, err.str())
        return out

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Store the next offsets to read (default: the current positions), synchronously.

        Called after the polled batch was written. Offsets of partitions this member no
        longer owns are skipped with a warning (the new owner re-reads them), as is a
        commit the group refuses because it is rebalancing. Raises TopicError for a
        negative offset and BackendError if the broker fails the commit.
        """
        self._check_open()
        owned = self._owned()
        if offsets is None:
            current = self._consumer.position(
                [_RdPartition(tp.topic, tp.partition) for tp in owned]
            )
            chosen = {TopicPartition(rd.topic, rd.partition): rd.offset for rd in current}
            chosen = {tp: o for tp, o in chosen.items() if o >= 0}
        else:
            for tp, offset in offsets.items():
                if offset < 0:
                    raise TopicError(f"cannot commit negative offset {offset} for {tp}")
            chosen = {tp: o for tp, o in offsets.items() if tp in owned}
            if len(chosen) < len(offsets):
                self._warn_skipped(sorted(set(offsets) - set(chosen), key=_order))
        if not chosen:
            return
        request = [_RdPartition(tp.topic, tp.partition, int(o)) for tp, o in chosen.items()]
        try:
            answer = self._consumer.commit(offsets=request, asynchronous=False)
        except KafkaException as exc:
            err = error_of(exc)
            if err is not None and err.code() in _FENCED:
                self._warn_skipped(sorted(chosen, key=_order))
                return
            raise translate(err, self.url, f"commit of group '{self.group}'") from None
        for rd in answer:
            if rd.error is not None and rd.error.code() in _FENCED:
                self._warn_skipped([TopicPartition(rd.topic, rd.partition)])
            elif rd.error is not None:
                raise translate(rd.error, self.url, f"commit of group '{self.group}'")

    def _warn_skipped(self, skipped: list[TopicPartition]) -> None:
        _log.warning(
            "group %s: not committing %s, no longer owned by this member",
            self.group,
            [(tp.topic, tp.partition) for tp in skipped],
        )

    def assignment(self) -> list[TopicPartition]:
        """The partitions this member reads now (as of its last poll)."""
        self._check_open()
        return sorted(self._owned(), key=_order)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Read ``tp`` from ``offset`` on the next poll.

        A partition of a subscribed topic that is not assigned yet is read from
        ``offset`` once this member gets it. TopicError for a negative offset, a topic
        this member does not read or a partition the topic does not have.
        """
        if offset < 0:
            raise TopicError(f"cannot seek {tp.topic}[{tp.partition}] to negative offset {offset}")
        self._check_open()
        count = self._partitions.get(tp.topic)
        if count is None:
            raise TopicError(f"this consumer does not read topic '{tp.topic}'")
        if not 0 <= tp.partition < count:
            raise TopicError(f"topic '{tp.topic}' has no partition {tp.partition}")
        self._seek(tp, offset)

    def _seek(self, tp: TopicPartition, offset: int) -> None:
        """Seek now if ``tp`` is assigned and fetching, else at its (next) assignment."""
        if tp not in self._owned():
            self._pending[tp] = offset
            return
        try:
            self._consumer.seek(_RdPartition(tp.topic, tp.partition, offset))
        except KafkaException as exc:
            # Assigned but its fetcher not started yet: seek again before the next poll.
            _log.debug("seek %s deferred: %s", tp, exc)
            self._pending[tp] = offset

    def _apply_pending(self) -> None:
        """Before a poll: seeks on partitions that are assigned now."""
        if not self._pending:
            return
        owned = self._owned()
        for tp in [tp for tp in self._pending if tp in owned]:
            offset = self._pending.pop(tp)
            self._seek(tp, offset)

    def seek_to_beginning(self) -> None:
        """Every assigned partition: read from the log start (offset 0 unless trimmed)."""
        self._check_open()
        for tp in self._owned():
            self._seek(tp, OFFSET_BEGINNING)

    def seek_to_time(self, timestamp_ms: int) -> None:
        """Every assigned partition: the first offset with a timestamp at or after the time.

        A partition with no such message is read from its end. Raises
        BackendUnavailableError if the broker does not answer.
        """
        self._check_open()
        owned = sorted(self._owned(), key=_order)
        if not owned:
            return
        query = [_RdPartition(tp.topic, tp.partition, int(timestamp_ms)) for tp in owned]
        found: list[_RdPartition] = call(
            self.url,
            "offsets for a time",
            self._consumer.offsets_for_times,
            query,
            timeout=REQUEST_TIMEOUT_S,
        )
        for rd in found:
            offset = rd.offset if rd.offset >= 0 else OFFSET_END
            self._seek(TopicPartition(rd.topic, rd.partition), offset)

    def close(self) -> None:
        """Leave the group without committing; closing twice is harmless."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._pending.clear()
        try:
            self._consumer.close()
        except (KafkaException, RuntimeError) as exc:
            _log.warning("closing the consumer of group %s: %s", self.group, exc)
        finally:
            if self._on_close is not None:
                self._on_close(self)


def _order(tp: TopicPartition) -> tuple[str, int]:
    return (tp.topic, tp.partition)
