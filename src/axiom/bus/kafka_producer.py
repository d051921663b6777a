"""The Kafka producer: idempotent, batched, compressed, keyed by Kafka's murmur2 partitioner."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message
from confluent_kafka import Producer as _RdProducer

from axiom.bus.base import Producer
from axiom.bus.kafka_common import CONNECT_TIMEOUT_S, call, client_config, error_of, translate
from axiom.errors import BackendError, TopicError

_log = logging.getLogger(__name__)

#: Longest wait for room in a full send queue before ``send`` gives up.
QUEUE_FULL_TIMEOUT_S = 60.0
#: Sends between two servings of delivery reports outside ``flush``.
_SERVE_EVERY = 1_000


def producer_config(bootstrap: str, client_id: str) -> dict[str, Any]:
    """The librdkafka settings of an Axiom producer.

    Idempotence (exactly one copy per send even when requests are retried, e.g. across a
    broker restart) implies ``acks=all``. ``partitioner=murmur2_random`` is the Java
    client's default partitioner, so a key lands where :mod:`axiom.bus.partitioner` says.
    Only failed deliveries are reported back, which keeps the per-message cost low.
    """
    return {
        **client_config(bootstrap, client_id),
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
        "compression.type": "lz4",
        "linger.ms": 5,
        "batch.size": 1_000_000,
        "batch.num.messages": 10_000,
        "queue.buffering.max.messages": 200_000,
        "queue.buffering.max.kbytes": 262_144,
        "message.timeout.ms": 120_000,
        "allow.auto.create.topics": False,
        "delivery.report.only.error": True,
    }


class KafkaProducer(Producer):
    """Sends to Kafka; obtained from ``KafkaBus.producer()``, closed by its owner.

    ``send`` queues the message in librdkafka, which batches, compresses and retries in
    the background; ``flush`` waits until the broker acknowledged everything queued (all
    in-sync replicas) and raises BackendError if anything failed or did not finish in time.
    Thread-safe (librdkafka is); one producer per process is the efficient use.
    """

    def __init__(
        self,
        bootstrap: str,
        url: str,
        *,
        client_id: str = "axiom",
        on_close: Callable[[KafkaProducer], None] | None = None,
    ) -> None:
        self.url = url
        self.client_id = client_id
        config = producer_config(bootstrap, client_id)
        config["on_delivery"] = self._on_delivery
        config["error_cb"] = self._on_error
        self._producer = _RdProducer(config)
        self._lock = threading.Lock()
        self._known: set[str] = set()
        self._failed = 0
        self._first_failure = ""
        self._fatal = ""
        self._sent = 0
        self._on_close = on_close
        self._closed = False

    def _on_delivery(self, err: KafkaError | None, msg: Message) -> None:
        """Called by librdkafka (inside poll/flush) for each message that failed."""
        if err is None:
            return
        with self._lock:
            self._failed += 1
            if not self._first_failure:
                self._first_failure = f"{msg.topic()}: {err.str()}"

    def _on_error(self, err: KafkaError) -> None:
        """Client-level errors; only a fatal one (idempotence broken) ends the producer."""
        if err.fatal():
            self._fatal = err.str()
            _log.error("Kafka producer %s: fatal error: %s", self.client_id, err.str())
        else:
            _log.debug("Kafka producer %s: %s", self.client_id, err.str())

    def _check_usable(self) -> None:
        if self._closed:
            raise BackendError(f"producer '{self.client_id}' is closed")
        if self._fatal:
            raise BackendError(f"Kafka at {self.url}: producer '{self.client_id}': {self._fatal}")

    def _check_topic(self, topic: str) -> None:
        """First send to ``topic``: ask the broker whether it exists; TopicError if not."""
        metadata = call(
            self.url,
            f"metadata of topic '{topic}'",
            self._producer.list_topics,
            topic,
            timeout=CONNECT_TIMEOUT_S,
        )
        found = metadata.topics.get(topic)
        if found is None or found.error is not None or not found.partitions:
            raise TopicError(
                f"unknown topic '{topic}' on Kafka at {self.url}: create it first with "
                "bus.ensure_topics(...) (all of Axiom's topics: axiom.domain.topics.CATALOG)"
            )
        self._known.add(topic)

    def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: str | None = None,
        headers: Mapping[str, str] | None = None,
        timestamp_ms: int | None = None,
    ) -> None:
        """Queue one message; Kafka's partitioner places it by ``murmur2(key)``.

        Called by pipelines for every message they publish. Raises TopicError for an
        unknown topic, TypeError for a value that is not bytes, BackendError when the
        queue stays full for :data:`QUEUE_FULL_TIMEOUT_S` (broker unreachable or too slow).
        """
        data = value
        if type(data) is not bytes:
            if not isinstance(data, bytearray | memoryview):
                raise TypeError(f"message values are bytes, got {type(value).__name__}")
            data = bytes(data)
        if key is None:
            raw_key = None
        elif isinstance(key, str):
            raw_key = key.encode("utf-8")
        else:
            raise TypeError(f"message keys are str or None, got {type(key).__name__}")
        if self._closed or self._fatal:
            self._check_usable()
        if topic not in self._known:
            self._check_topic(topic)
        try:
            try:
                if headers or timestamp_ms is not None:
                    self._produce_full(topic, data, raw_key, headers, timestamp_ms)
                else:
                    self._producer.produce(topic, data, raw_key)
            except BufferError:
                self._produce_when_room(topic, data, raw_key, headers, timestamp_ms)
        except KafkaException as exc:
            raise translate(error_of(exc), self.url, f"sending to '{topic}'") from None
        self._sent += 1
        if self._sent % _SERVE_EVERY == 0:
            self._producer.poll(0)

    def _produce_full(
        self,
        topic: str,
        data: bytes,
        raw_key: bytes | None,
        headers: Mapping[str, str] | None,
        timestamp_ms: int | None,
    ) -> None:
        raw_headers: list[tuple[str, str | bytes | None]] | None = (
            list(headers.items()) if headers else None
        )
        ts = 0 if timestamp_ms is None else int(timestamp_ms)
        self._producer.produce(topic, data, raw_key, headers=raw_headers, timestamp=ts)

    def _produce_when_room(
        self,
        topic: str,
        data: bytes,
        raw_key: bytes | None,
        headers: Mapping[str, str] | None,
        timestamp_ms: int | None,
    ) -> None:
        """The local queue is full: let librdkafka send, and try again until there is room."""
        deadline = time.monotonic() + QUEUE_FULL_TIMEOUT_S
        while True:
            self._producer.poll(0.05)
            try:
                self._produce_full(topic, data, raw_key, headers, timestamp_ms)
                return
            except BufferError:
                if time.monotonic() >= deadline:
                    raise BackendError(
                        f"Kafka at {self.url}: send queue full for "
                        f"{QUEUE_FULL_TIMEOUT_S:g}s; is the broker reachable?"
                    ) from None

    def flush(self, timeout_s: float = 30.0) -> None:
        """Block until the broker acknowledged every queued message.

        Called by pipelines at the end of a batch and by ``close``. Raises BackendError if
        any message sent since the last flush failed, or if some are still unacknowledged
        after ``timeout_s`` (librdkafka keeps retrying those in the background until
        ``message.timeout.ms``; idempotence keeps a late delivery single).
        """
        if self._closed:
            return
        remaining = self._producer.flush(max(0.0, timeout_s))
        with self._lock:
            failed, first = self._failed, self._first_failure
            self._failed, self._first_failure = 0, ""
        if self._fatal:
            self._check_usable()
        if failed:
            raise BackendError(
                f"Kafka at {self.url}: {failed} message(s) were not delivered ({first})"
            )
        if remaining:
            raise BackendError(
                f"Kafka at {self.url}: {remaining} message(s) not acknowledged within "
                f"{timeout_s:g}s; is the broker reachable?"
            )

    def pending(self) -> int:
        """Messages queued or in flight, not yet acknowledged (0 once closed)."""
        return 0 if self._closed else len(self._producer)

    def close(self) -> None:
        """Flush, then release the client; closing twice is harmless.

        If the flush raises, the producer is closed all the same (unacknowledged messages
        are dropped) and the error propagates.
        """
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            if len(self._producer):
                # Drop what could not be delivered, so releasing the client cannot hang.
                self._producer.purge()
                self._producer.poll(0)
            self._producer.close()
            if self._on_close is not None:
                self._on_close(self)
