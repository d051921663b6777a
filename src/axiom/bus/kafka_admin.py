"""The admin requests of the Kafka bus: topics, offsets and consumer groups.

Owned by :class:`axiom.bus.kafka.KafkaBus`, which checks its arguments and calls these.
Every request waits at most :data:`~axiom.bus.kafka_common.REQUEST_TIMEOUT_S`; a broker that
does not answer is a BackendUnavailableError naming the URL, any other refusal one
Axiom error (see :func:`axiom.bus.kafka_common.translate`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaError, KafkaException
from confluent_kafka import TopicPartition as _RdPartition
from confluent_kafka.admin import AdminClient, OffsetSpec  # type: ignore[attr-defined]
from confluent_kafka.cimpl import NewTopic

from axiom.bus.base import TopicPartition
from axiom.bus.kafka_common import REQUEST_TIMEOUT_S, call, client_config, error_of, translate
from axiom.domain.topics import TopicSpec
from axiom.errors import BackendError, BackendUnavailableError, TopicError

#: Longest wait for created or deleted topics to show in the cluster's metadata.
TOPIC_PROPAGATION_TIMEOUT_S = 30.0

#: Answers meaning "this partition's leader is not ready yet": ask again shortly.
_LEADER_MOVING = frozenset(
    {
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.REPLICA_NOT_AVAILABLE,
        KafkaError.UNKNOWN_LEADER_EPOCH,
        KafkaError.FENCED_LEADER_EPOCH,
        KafkaError.OFFSET_NOT_AVAILABLE,
    }
)
#: Kafka's answers to changing the offsets of a group that has members.
_GROUP_ACTIVE = frozenset({KafkaError.UNKNOWN_MEMBER_ID, KafkaError.REBALANCE_IN_PROGRESS})


def latest() -> Any:
    """The spec asking for each partition's end offset (high watermark)."""
    return OffsetSpec.latest()  # type: ignore[no-untyped-call]


def at_time(timestamp_ms: int) -> Any:
    """The spec asking for the first offset at or after ``timestamp_ms``."""
    return OffsetSpec.for_timestamp(int(timestamp_ms))  # type: ignore[no-untyped-call]


class KafkaAdmin:
    """One AdminClient and the requests the bus makes with it."""

    def __init__(self, bootstrap: str, url: str) -> None:
        self.url = url
        self._client = AdminClient(client_config(bootstrap, "axiom-admin"))

    def _outcome(self, future: Future[Any], what: str) -> tuple[Any, KafkaError | None]:
        """(result, None) or (None, the broker's error); a timeout raises at once."""
        try:
            return future.result(timeout=REQUEST_TIMEOUT_S + 1.0), None
        except FutureTimeout:
            raise BackendUnavailableError(
                f"Kafka at {self.url} did not answer within {REQUEST_TIMEOUT_S:g}s ({what})"
            ) from None
        except KafkaException as exc:
            err = error_of(exc)
            if err is None:
                raise translate(None, self.url, what, str(exc)) from None
            return None, err

    def _result(self, future: Future[Any], what: str) -> Any:
        result, err = self._outcome(future, what)
        if err is not None:
            raise translate(err, self.url, what)
        return result

    # -- topics ----------------------------------------------------------------------

    def metadata(self, timeout_s: float = REQUEST_TIMEOUT_S) -> Any:
        """The cluster metadata (brokers and topics)."""
        return call(self.url, "metadata", self._client.list_topics, timeout=timeout_s)

    def topics(self) -> dict[str, Any]:
        """Healthy topics by name, Kafka's internal ``__`` topics left out."""
        return {
            name: t
            for name, t in self.metadata().topics.items()
            if t.error is None and not name.startswith("__")
        }

    def partition_count(self, topic: str) -> int:
        """Partitions of ``topic``; TopicError if it does not exist."""
        metadata = call(
            self.url, f"metadata of '{topic}'", self._client.list_topics, topic, REQUEST_TIMEOUT_S
        )
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            raise TopicError(f"unknown topic '{topic}' on Kafka at {self.url}")
        return len(found.partitions)

    def create_topics(self, specs: Iterable[TopicSpec]) -> None:
        """Create ``specs`` (one already there is fine); return once they serve requests.

        Each topic gets the spec's partitions, the cluster's default replication factor and
        its ``retention.ms`` (-1: kept forever).
        """
        new = [
            NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=-1,
                config={"retention.ms": str(spec.retention_ms)},
            )
            for spec in specs
        ]
        if not new:
            return
        futures = self._client.create_topics(new, request_timeout=REQUEST_TIMEOUT_S)
        for name, future in futures.items():
            what = f"creating topic '{name}'"
            _, err = self._outcome(future, what)
            if err is not None and err.code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise translate(err, self.url, what)
        self._await_topics({t.topic for t in new}, present=True)
        for topic in new:
            # A leader in the metadata is not yet a leader that answers: ask it once.
            self.list_offsets(topic.topic, latest())

    def delete_topics(self, names: Iterable[str]) -> None:
        """Delete the topics that exist among ``names`` and wait until they are gone."""
        wanted = set(names) & set(self.topics())
        if not wanted:
            return
        futures = self._client.delete_topics(sorted(wanted), request_timeout=REQUEST_TIMEOUT_S)
        for name, future in futures.items():
            what = f"deleting topic '{name}'"
            _, err = self._outcome(future, what)
            if err is not None and err.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise translate(err, self.url, what)
        self._await_topics(wanted, present=False)

    def _await_topics(self, names: set[str], *, present: bool) -> None:
        """Until every topic in ``names`` is (or is no longer) in the metadata, with leaders."""
        deadline = time.monotonic() + TOPIC_PROPAGATION_TIMEOUT_S
        while True:
            topics = self.topics()
            if present:
                missing = {
                    n
                    for n in names
                    if n not in topics
                    or not topics[n].partitions
                    or any(p.leader < 0 for p in topics[n].partitions.values())
                }
            else:
                missing = names & set(topics)
            if not missing:
                return
            if time.monotonic() >= deadline:
                state = "created" if present else "deleted"
                raise BackendError(
                    f"Kafka at {self.url}: topics {sorted(missing)} not {state} after "
                    f"{TOPIC_PROPAGATION_TIMEOUT_S:g}s"
                )
            time.sleep(0.05)

    # -- offsets -----------------------------------------------------------------------

    def list_offsets(self, topic: str, spec: Any) -> dict[int, int]:
        """Partition -> offset answering ``spec`` (:func:`latest`, :func:`at_time`).

        A partition whose leader is still being set up (a topic created a moment ago, a
        broker restarting) is asked again until :data:`REQUEST_TIMEOUT_S` has passed.
        For :func:`at_time`, a partition without such a message answers -1.
        """
        count = self.partition_count(topic)
        query = {_RdPartition(topic, p): spec for p in range(count)}
        what = f"offsets of '{topic}'"
        deadline = time.monotonic() + REQUEST_TIMEOUT_S
        while True:
            futures = self._client.list_offsets(query, request_timeout=REQUEST_TIMEOUT_S)
            out: dict[int, int] = {}
            retry = False
            for rd, future in futures.items():
                info, err = self._outcome(future, what)
                if err is None:
                    out[rd.partition] = int(info.offset)
                elif (err.code() in _LEADER_MOVING or err.retriable()) and (
                    time.monotonic() < deadline
                ):
                    retry = True
                else:
                    raise translate(err, self.url, what)
            if not retry:
                return dict(sorted(out.items()))
            time.sleep(0.1)

    def group_offsets(self, group: str) -> dict[TopicPartition, int]:
        """Every committed offset of ``group`` (a group without any, or unknown: {})."""
        futures = self._client.list_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group)], request_timeout=REQUEST_TIMEOUT_S
        )
        answer = self._result(futures[group], f"offsets of group '{group}'")
        return {
            TopicPartition(rd.topic, rd.partition): int(rd.offset)
            for rd in answer.topic_partitions or ()
            if rd.error is None and rd.offset >= 0
        }

    def alter_group_offsets(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        """Store ``offsets`` as ``group``'s committed offsets; BackendError if it has members."""
        parts = [_RdPartition(tp.topic, tp.partition, int(o)) for tp, o in offsets.items()]
        futures = self._client.alter_consumer_group_offsets(
            [ConsumerGroupTopicPartitions(group, parts)], request_timeout=REQUEST_TIMEOUT_S
        )
        what = f"setting offsets of group '{group}'"
        answer, err = self._outcome(futures[group], what)
        errors = [err] if err is not None else []
        errors += [rd.error for rd in answer.topic_partitions or () if rd.error is not None]
        for error in errors:
            if error.code() in _GROUP_ACTIVE:
                raise BackendError(
                    f"group '{group}' has active members; stop its consumers before "
                    "setting its offsets"
                )
            raise translate(error, self.url, what)

    # -- groups ------------------------------------------------------------------------

    def group_names(self) -> list[str]:
        """Every consumer group the cluster knows (with or without committed offsets)."""
        future = self._client.list_consumer_groups(request_timeout=REQUEST_TIMEOUT_S)
        listed = self._result(future, "listing consumer groups")
        return sorted({g.group_id for g in listed.valid})

    def groups_with_offsets(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` that have at least one committed offset (asked in parallel)."""
        futures = {
            name: self._client.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(name)], request_timeout=REQUEST_TIMEOUT_S
            )[name]
            for name in names
        }
        out = []
        for name, future in futures.items():
            answer, err = self._outcome(future, f"offsets of group '{name}'")
            if err is not None:
                if err.code() == KafkaError.GROUP_ID_NOT_FOUND:
                    continue
                raise translate(err, self.url, f"offsets of group '{name}'")
            if any(rd.error is None and rd.offset >= 0 for rd in answer.topic_partitions or ()):
                out.append(name)
        return out

    def delete_group(self, group: str) -> None:
        """Delete ``group`` (no-op if unknown); BackendError while it has members."""
        futures = self._client.delete_consumer_groups([group], request_timeout=REQUEST_TIMEOUT_S)
        what = f"deleting group '{group}'"
        _, err = self._outcome(futures[group], what)
        if err is None or err.code() == KafkaError.GROUP_ID_NOT_FOUND:
            return
        if err.code() == KafkaError.NON_EMPTY_GROUP:
            raise BackendError(
                f"group '{group}' has active member(s); close them before deleting the group"
            )
        raise translate(err, self.url, what)
