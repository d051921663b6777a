"""The event log on Apache Kafka (``AXIOM_BUS=kafka://host:port[,host:port]``).

The stack's bus: the same port as the embedded log, on a Kafka cluster through
confluent-kafka (librdkafka). Topics come from the catalog with their partitions and
retention; producers are idempotent and use Kafka's murmur2 partitioner; consumers are
members of Kafka consumer groups that commit only when told to. Admin calls (offsets,
groups) go through one AdminClient with bounded timeouts; a broker that does not answer
is a :class:`~axiom.errors.BackendUnavailableError` naming the URL within seconds.

Layout of the code: :mod:`axiom.bus.kafka_common` (URL, config, errors),
:mod:`axiom.bus.kafka_admin` (topics, offsets, groups), :mod:`axiom.bus.kafka_producer`,
:mod:`axiom.bus.kafka_consumer`, and this module (the port, checking its arguments).

Usage::

    bus = KafkaBus.from_url("kafka://127.0.0.1:9092", settings)
    bus.ensure_topics(CATALOG)
    with bus.producer() as p:
        p.send(PRICE_UPDATES, b"...", key="AAPL")
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

try:
    import confluent_kafka  # noqa: F401 - the optional dependency of this adapter
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installed extras
    from axiom.errors import MissingExtraError

    raise MissingExtraError("the Kafka bus", "kafka") from exc

from axiom.bus.base import EventBus, TopicPartition
from axiom.bus.kafka_admin import KafkaAdmin, at_time, latest
from axiom.bus.kafka_common import CONNECT_TIMEOUT_S, parse_bootstrap
from axiom.bus.kafka_consumer import KafkaConsumer
from axiom.bus.kafka_producer import KafkaProducer
from axiom.domain.topics import TopicSpec
from axiom.errors import BackendError, BackendUnavailableError, ConfigError, TopicError

if TYPE_CHECKING:
    from axiom.settings import Settings

_LEGAL_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")
_RESETS = ("earliest", "latest")


class KafkaBus(EventBus):
    """The event log on a Kafka cluster; built by the registry (:meth:`from_url`).

    Opening it asks the cluster for its metadata, so an unreachable broker fails here,
    within :data:`~axiom.bus.kafka_common.CONNECT_TIMEOUT_S`. Closing the bus closes the
    producers (flushing them) and consumers it made that are still open.
    """

    def __init__(self, bootstrap: str, *, url: str | None = None) -> None:
        """Connect to ``bootstrap`` (``host:port[,host:port]``).

        Raises BackendUnavailableError naming the URL if no broker answers.
        """
        self.bootstrap = bootstrap
        self.url = url or f"kafka://{bootstrap}"
        self._admin = KafkaAdmin(bootstrap, self.url)
        self._lock = threading.Lock()
        self._children: weakref.WeakSet[KafkaProducer | KafkaConsumer] = weakref.WeakSet()
        self._closed = False
        if not self._admin.metadata(CONNECT_TIMEOUT_S).brokers:
            raise BackendUnavailableError(f"Kafka at {self.url}: no broker in the metadata")

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> KafkaBus:
        """Build from ``kafka://host:port[,host:port]`` (port 9092 when left out).

        Called by the registry; ``settings`` is not needed (all state is in Kafka).
        ConfigError for a malformed URL, BackendUnavailableError if no broker answers.
        """
        return cls(parse_bootstrap(url), url=url)

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError(f"the Kafka bus {self.url} is closed")

    # -- topics ----------------------------------------------------------------------

    def ensure_topics(self, specs: Iterable[TopicSpec]) -> None:
        """Create the topics that do not exist yet; existing topics are left as they are.

        Called at start-up by pipelines, consumers and tests (idempotent, safe from several
        processes at once). Each new topic gets the spec's partitions, the cluster's default
        replication factor and ``retention.ms`` (-1: kept forever). Returns once every new
        topic's partitions answer requests. TopicError for an illegal name or partition
        count (nothing is created then).
        """
        self._check_open()
        wanted: dict[str, TopicSpec] = {}
        for spec in specs:
            if not _LEGAL_TOPIC.fullmatch(spec.name) or spec.name in (".", ".."):
                raise TopicError(f"illegal topic name '{spec.name}': use 1-249 of [A-Za-z0-9._-]")
            if spec.partitions < 1:
                raise TopicError(f"topic '{spec.name}' needs at least 1 partition")
            wanted.setdefault(spec.name, spec)
        if not wanted:
            return
        existing = self._admin.topics()
        self._admin.create_topics(s for name, s in wanted.items() if name not in existing)

    def delete_topics(self, names: Iterable[str]) -> None:
        """Delete topics and wait until they are gone; unknown names are ignored.

        Not part of the port: called by tests and maintenance tooling to clean up.
        """
        self._check_open()
        self._admin.delete_topics(names)

    def list_topics(self) -> dict[str, int]:
        """Topic name -> partition count (Kafka's internal ``__`` topics left out)."""
        self._check_open()
        return {name: len(t.partitions) for name, t in sorted(self._admin.topics().items())}

    # -- clients -----------------------------------------------------------------------

    def producer(self, client_id: str = "axiom") -> KafkaProducer:
        """A new idempotent producer; the caller closes it."""
        self._check_open()
        producer = KafkaProducer(
            self.bootstrap, self.url, client_id=client_id, on_close=self._children.discard
        )
        self._children.add(producer)
        return producer

    def consumer(
        self, group: str, topics: Sequence[str], *, auto_offset_reset: str = "earliest"
    ) -> KafkaConsumer:
        """A new member of ``group`` reading ``topics``; the caller closes it.

        Raises TopicError if a topic does not exist, ConfigError for a bad reset policy
        or an empty group name.
        """
        self._check_open()
        if auto_offset_reset not in _RESETS:
            raise ConfigError(
                f"auto_offset_reset must be 'earliest' or 'latest', not '{auto_offset_reset}'"
            )
        if not group:
            raise ConfigError("a consumer group needs a non-empty name")
        consumer = KafkaConsumer(
            self.bootstrap,
            self.url,
            group,
            topics,
            auto_offset_reset=auto_offset_reset,
            client_id=f"axiom-{group}",
            on_close=self._children.discard,
        )
        self._children.add(consumer)
        return consumer

    # -- offsets -----------------------------------------------------------------------

    def end_offsets(self, topic: str) -> dict[int, int]:
        """Partition -> the offset the next message gets (the high watermark).

        TopicError for an unknown topic, BackendUnavailableError if the broker is down.
        """
        self._check_open()
        return self._admin.list_offsets(topic, latest())

    def offsets_for_time(self, topic: str, timestamp_ms: int) -> dict[int, int]:
        """Partition -> first offset with a timestamp at or after ``timestamp_ms``.

        Called by replay tooling to turn a time into offsets; a partition with no such
        message maps to its end offset. TopicError for an unknown topic.
        """
        self._check_open()
        found = self._admin.list_offsets(topic, at_time(timestamp_ms))
        if any(o < 0 for o in found.values()):
            ends = self._admin.list_offsets(topic, latest())
            found = {p: (o if o >= 0 else ends[p]) for p, o in found.items()}
        return found

    def committed(self, group: str, topic: str) -> dict[int, int]:
        """Partition -> committed offset of ``group`` on ``topic`` (never committed: absent)."""
        self._check_open()
        offsets = self._admin.group_offsets(group)
        return dict(sorted((tp.partition, o) for tp, o in offsets.items() if tp.topic == topic))

    def commit_offsets(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        """Set ``group``'s committed offsets from outside the group (replay, admin).

        Called by ``axiom replay`` while the group's consumers are stopped (Kafka refuses
        while the group has members: BackendError). TopicError for an unknown topic, a
        partition outside it or a negative offset; nothing is stored then.
        """
        self._check_open()
        counts: dict[str, int] = {}
        for tp, offset in offsets.items():
            if tp.topic not in counts:
                counts[tp.topic] = self._admin.partition_count(tp.topic)
            if not 0 <= tp.partition < counts[tp.topic]:
                raise TopicError(f"topic '{tp.topic}' has no partition {tp.partition}")
            if offset < 0:
                raise TopicError(f"cannot commit negative offset {offset} for {tp}")
        if offsets:
            self._admin.alter_group_offsets(group, offsets)

    # -- groups ------------------------------------------------------------------------

    def groups(self) -> list[str]:
        """Every consumer group with a committed offset, sorted.

        Kafka keeps an emptied group for a while even if it never committed; such groups
        are left out, as the port asks ("a group with a committed offset").
        """
        self._check_open()
        return self._admin.groups_with_offsets(self._admin.group_names())

    def delete_group(self, group: str) -> None:
        """Forget ``group``'s committed offsets, like ``kafka-consumer-groups --delete``.

        Raises BackendError while the group has live members (Kafka refuses to delete a
        non-empty group). Unknown group: no-op.
        """
        self._check_open()
        self._admin.delete_group(group)

    def close(self) -> None:
        """Close the producers (flushing them) and consumers still open."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        for child in list(self._children):
            child.close()

    def __repr__(self) -> str:
        return f"KafkaBus({self.bootstrap!r})"
