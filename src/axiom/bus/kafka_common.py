"""What the Kafka adapter's bus, producer and consumer share: URL, client config, errors.

Used only by the modules of the Kafka adapter (:mod:`axiom.bus.kafka` and its
``kafka_*`` siblings). Every failure of confluent-kafka (librdkafka) that a user can meet
is turned into one :mod:`axiom.errors` exception with one line naming the broker:
an unreachable broker is :class:`BackendUnavailableError`, an unknown topic or partition
is :class:`TopicError`, anything else :class:`BackendError`.
"""

from __future__ import annotations

import logging
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from axiom.errors import BackendError, BackendUnavailableError, ConfigError, TopicError

#: How long a call that needs the broker waits before it says the broker is unreachable.
CONNECT_TIMEOUT_S = 5.0
#: Longest wait for one admin request (create topics, list offsets, group offsets).
REQUEST_TIMEOUT_S = 10.0

SCHEME = "kafka://"
DEFAULT_PORT = 9092

#: librdkafka's own log lines go here, all at DEBUG: what matters reaches the caller as an
#: Axiom error, while a broker that is down for a minute makes librdkafka log hundreds of
#: reconnect attempts.
LIBRDKAFKA_LOG = logging.getLogger("axiom.bus.kafka.librdkafka")
LIBRDKAFKA_LOG.addHandler(logging.NullHandler())


class _DebugLog(logging.LoggerAdapter[logging.Logger]):
    """What confluent-kafka is given as ``logger``: every line it passes becomes DEBUG."""

    def log(self, level: object, msg: object, *args: object, **kwargs: Any) -> None:
        self.logger.debug(msg, *args, **kwargs)


_UNREACHABLE = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._TIMED_OUT,
        KafkaError._RESOLVE,
        KafkaError._WAIT_COORD,
        KafkaError._MSG_TIMED_OUT,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.BROKER_NOT_AVAILABLE,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
    }
)
_NO_TOPIC = frozenset(
    {
        KafkaError.UNKNOWN_TOPIC_OR_PART,
        KafkaError._UNKNOWN_TOPIC,
        KafkaError._UNKNOWN_PARTITION,
        KafkaError.TOPIC_EXCEPTION,
        KafkaError.INVALID_PARTITIONS,
        KafkaError.OFFSET_OUT_OF_RANGE,
    }
)


def parse_bootstrap(url: str) -> str:
    """``kafka://h1:p1,h2:p2`` -> ``h1:p1,h2:p2`` (port 9092 when left out).

    Called by ``KafkaBus.from_url``. Raises ConfigError for another scheme, options, a
    path, an empty host list or a port that is not a number in 1..65535.
    """
    if not url.lower().startswith(SCHEME):
        raise ConfigError(f"not a Kafka bus URL: '{url}' (use kafka://host:port[,host:port])")
    rest = url[len(SCHEME) :].rstrip("/")
    if any(c in rest for c in "?#/@"):
        raise ConfigError(f"the Kafka bus URL takes only host:port pairs: '{url}'")
    servers = []
    for part in rest.split(","):
        host, sep, port = part.strip().rpartition(":")
        if not sep:
            host, port = port, str(DEFAULT_PORT)
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"bad broker address '{part}' in '{url}' (want host:port)")
        servers.append(f"{host}:{int(port)}")
    return ",".join(servers)


def client_config(bootstrap: str, client_id: str) -> dict[str, Any]:
    """Settings every client of this adapter starts from (producer, consumer, admin)."""
    return {
        "bootstrap.servers": bootstrap,
        "client.id": client_id,
        "socket.connection.setup.timeout.ms": int(CONNECT_TIMEOUT_S * 1000),
        "reconnect.backoff.max.ms": 2000,
        "logger": _DebugLog(LIBRDKAFKA_LOG, {}),
    }


def error_of(exc: BaseException) -> KafkaError | None:
    """The KafkaError inside a KafkaException (None for other exceptions)."""
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0]
    return None


def translate(err: KafkaError | None, url: str, what: str, detail: str = "") -> BackendError:
    """The one-line Axiom error for a Kafka error met while doing ``what``.

    Called wherever a confluent-kafka call or future fails. Unreachable broker ->
    BackendUnavailableError with a hint to start it; unknown topic/partition -> TopicError;
    otherwise BackendError.
    """
    reason = (err.str() if err is not None else detail) or "unknown error"
    reason = " ".join(reason.split())
    if err is not None and err.code() in _UNREACHABLE:
        return BackendUnavailableError(
            f"Kafka at {url} is not reachable ({what}: {reason}); is the broker running? "
            "(local stack: deploy/local/services.sh up kafka)"
        )
    if err is not None and err.code() in _NO_TOPIC:
        return TopicError(f"Kafka at {url}: {what}: {reason}")
    return BackendError(f"Kafka at {url}: {what} failed: {reason}")


def call(url: str, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a blocking confluent-kafka call; a KafkaException becomes an Axiom error."""
    try:
        return fn(*args, **kwargs)
    except KafkaException as exc:
        raise translate(error_of(exc), url, what, str(exc)) from None
