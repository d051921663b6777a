"""The one consumer loop: poll a batch -> validate -> write idempotently -> commit.

Every consumer is a :class:`Sink` (what to write) run by :class:`ConsumerRunner` (how).
The loop's guarantees:

* A record that cannot be decoded or validated is sent to ``<topic>.dlq`` with the reason
  in its headers, and the stream goes on; the DLQ write is flushed before the commit, so a
  poison message is never lost.
* The sink writes the valid records of the batch; only after ``write`` returns are the
  offsets committed. If ``write`` raises, nothing is committed and the error propagates:
  the batch is re-delivered on restart and, since every write is an upsert on a natural
  key, nothing is doubled.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from axiom.bus.base import Consumer, Record, next_offsets
from axiom.bus.serde import decode
from axiom.domain.models import (
    CorrelationEdge,
    Fundamentals,
    GraphMutation,
    MarketEvent,
    PriceBars,
    RiskScore,
)
from axiom.domain.topics import TOPICS, dlq_name
from axiom.errors import MessageError
from axiom.observability import metrics

if TYPE_CHECKING:
    from axiom.bus.base import EventBus, Producer

#: catalog message type -> payload decoder (validates; raises MessageError).
DECODERS: dict[str, Callable[[Any], Any]] = {
    "price_bars": PriceBars.from_payload,
    "fundamentals": Fundamentals.from_payload,
    "market_event": MarketEvent.from_payload,
    "correlation_edge": CorrelationEdge.from_payload,
    "graph_mutation": GraphMutation.from_payload,
    "risk_score": RiskScore.from_payload,
}


def decode_record(
    record: Record,
    wants: Callable[[str, Any], bool] | None = None,
    price_tail: int | None = None,
) -> Any:
    """The domain object carried by ``record``; MessageError if it is not a valid one.

    With ``wants``, the envelope is checked first and a payload that ``wants`` declines
    gives :data:`SKIPPED` without being validated. With ``price_tail``, price bars are
    rebuilt from their last ``price_tail`` bars only (see :attr:`Sink.price_tail`).
    """
    spec = TOPICS.get(record.topic)
    if spec is None or spec.message_type not in DECODERS:
        raise MessageError(f"no decoder for topic '{record.topic}'")
    env = decode(record.value, expect_type=spec.message_type)
    if wants is not None and not wants(record.topic, env.payload):
        return SKIPPED
    if price_tail is not None and spec.message_type == "price_bars":
        return PriceBars.from_payload(env.payload, tail=price_tail)
    return DECODERS[spec.message_type](env.payload)


#: What :func:`decode_record` gives for a record its sink declined.
SKIPPED: Any = object()


@dataclass(slots=True)
class Batch:
    """The valid records of one poll, decoded, in offset order per partition."""

    items: list[tuple[Record, Any]] = field(default_factory=list)

    def of(self, topic: str) -> list[Any]:
        """Decoded values from ``topic``."""
        return [value for rec, value in self.items if rec.topic == topic]

    def __len__(self) -> int:
        return len(self.items)


class Sink(ABC):
    """What a consumer writes. ``name`` is its consumer group.

    ``signals`` are topics whose records only tell the sink that something changed: the
    runner hands them to :meth:`write` undecoded (value ``None``), so the sink never
    validates them or sends them to the DLQ (the consumers that read them do).
    """

    name: str
    database: str
    topics: tuple[str, ...]
    signals: frozenset[str] = frozenset()
    #: A sink that reads only the newest bars of a price message sets how many: the runner
    #: then decodes and validates only those (and the columns' lengths). The older bars
    #: are not read, so a message broken only there is not dead-lettered by this sink;
    #: the warehouse writer, which reads every bar, dead-letters it.
    price_tail: int | None = None

    def wants(self, topic: str, payload: Any) -> bool:
        """Whether a record of ``topic`` is validated, decoded and handed to :meth:`write`.

        Called by the runner for each record whose envelope is valid, before its payload
        is validated. A declined record is committed with the batch without being
        validated or dead-lettered by this sink. The default takes every record.
        """
        return True

    @abstractmethod
    def write(self, batch: Batch) -> int:
        """Write the batch idempotently; returns records written.

        Called by the runner before it commits; raising leaves the batch uncommitted.
        """

    def close(self) -> None:  # noqa: B027 - optional hook
        """Called once when the runner stops."""


class StopSignal(Protocol):
    """A threading or multiprocessing Event: the runner stops when it is set."""

    def is_set(self) -> bool:
        """True once the owner asked the runner to stop."""
        ...


@dataclass(slots=True)
class RunnerStats:
    """What a runner did; read by the CLI summary and the tests."""

    batches: int = 0
    records: int = 0
    written: int = 0
    dead_lettered: int = 0
    seconds: float = 0.0


class ConsumerRunner:
    """Runs one sink as one member of its consumer group."""

    def __init__(
        self, sink: Sink, bus: EventBus, *, batch_size: int = 500, poll_timeout_s: float = 0.2
    ) -> None:
        self.sink = sink
        self.bus = bus
        self.batch_size = batch_size
        self.poll_timeout_s = poll_timeout_s
        self.stats = RunnerStats()
        self._consumer: Consumer | None = None
        self._dlq: Producer | None = None

    @property
    def consumer(self) -> Consumer:
        """The group member, created on first use."""
        if self._consumer is None:
            self._consumer = self.bus.consumer(self.sink.name, self.sink.topics)
        return self._consumer

    def _dead_letter(self, bad: Sequence[tuple[Record, str]]) -> None:
        if self._dlq is None:
            self._dlq = self.bus.producer(client_id=f"{self.sink.name}-dlq")
        for rec, reason in bad:
            self._dlq.send(
                dlq_name(rec.topic),
                rec.value,
                key=rec.key,
                headers={
                    "error": reason[:1000],
                    "source_topic": rec.topic,
                    "source_partition": str(rec.partition),
                    "source_offset": str(rec.offset),
                    "consumer": self.sink.name,
                },
            )
        self._dlq.flush()
        metrics.CONSUMER_DLQ.labels(consumer=self.sink.name).inc(len(bad))
        self.stats.dead_lettered += len(bad)

    def step(self) -> int:
        """One poll -> validate -> write -> commit cycle; returns records polled."""
        records = self.consumer.poll(self.batch_size, self.poll_timeout_s)
        if not records:
            return 0
        t0 = time.perf_counter()
        batch = Batch()
        bad: list[tuple[Record, str]] = []
        signals, wants, tail = self.sink.signals, self.sink.wants, self.sink.price_tail
        for rec in records:
            if rec.topic in signals:
                batch.items.append((rec, None))
                continue
            try:
                value = decode_record(rec, wants, tail)
            except MessageError as exc:
                bad.append((rec, str(exc)))
                continue
            if value is not SKIPPED:
                batch.items.append((rec, value))
        if bad:
            self._dead_letter(bad)
        written = self.sink.write(batch) if batch.items else 0
        self.consumer.commit(next_offsets(records))
        elapsed = time.perf_counter() - t0
        self.stats.batches += 1
        self.stats.records += len(records)
        self.stats.written += written
        self.stats.seconds += elapsed
        metrics.CONSUMER_MESSAGES.labels(consumer=self.sink.name).inc(len(records))
        metrics.CONSUMER_BATCH_SECONDS.labels(consumer=self.sink.name).observe(elapsed)
        metrics.RECORDS_PROCESSED.labels(pipeline=self.sink.name, database=self.sink.database).inc(
            written
        )
        return len(records)

    def lag(self) -> int:
        """Messages of the sink's topics not yet committed by its group."""
        lag = self.bus.total_lag(self.sink.name, self.sink.topics)
        metrics.CONSUMER_LAG.labels(consumer=self.sink.name).set(lag)
        return lag

    def run(self, stop: StopSignal | None = None, *, until_caught_up: bool = False) -> None:
        """Loop until ``stop`` is set, or (``until_caught_up``) until the lag is zero."""
        while stop is None or not stop.is_set():
            if self.step() == 0 and until_caught_up and self.lag() == 0:
                return

    def close(self) -> None:
        """Leave the group and flush the DLQ producer."""
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
        if self._dlq is not None:
            self._dlq.close()
            self._dlq = None
        self.sink.close()
