"""Connection plumbing of the Neo4j graph store: URLs, the driver, errors, write batches.

Used only by :mod:`axiom.stores.neo4j`. The driver is tuned to fail fast: a TCP connect
gives up after a few seconds and a managed transaction stops retrying a lost server after
a few more, so a down server surfaces as one :class:`~axiom.errors.BackendUnavailableError`
naming the URL instead of a hang.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlsplit

import neo4j
from neo4j.exceptions import (
    AuthError,
    ConfigurationError,
    ConnectionAcquisitionTimeoutError,
    DriverError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
)

from axiom.errors import BackendError, BackendUnavailableError, ConfigError
from axiom.stores.graph_common import chunks
from axiom.stores.neo4j_cypher import Statement

Batch = list[tuple[str, list[dict[str, Any]]]]

# The driver logs a lost server at ERROR before raising; the raised error is what reaches
# the user (as one line), so without a handler of the application's own the log stays quiet
# instead of going to stderr through logging's last-resort handler.
logging.getLogger("neo4j").addHandler(logging.NullHandler())

SCHEMES = ("neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc")
CONNECT_TIMEOUT_S = 3.0
RETRY_S = 5.0
STATEMENT_ROWS = 5_000  # rows of one UNWIND
TX_ROWS = 10_000  # rows of one write transaction


def one_line(text: object) -> str:
    """``text`` on one line, cut to a length that fits an error message."""
    return " ".join(str(text).split())[:300]


def parse_url(url: str) -> tuple[str, tuple[str, str] | None, str | None, str]:
    """(driver URI, auth, database, URL without the password) of a graph URL.

    Called by ``Neo4jGraphStore.from_url`` before anything connects.

    Raises:
        ConfigError: not a ``neo4j://`` / ``bolt://`` URL, or a malformed port.
    """
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(f"Neo4j graph store needs a neo4j:// or bolt:// URL, got '{url}'")
    try:
        port = parts.port or 7687
    except ValueError as exc:
        raise ConfigError(f"malformed graph URL '{url}': {exc}") from exc
    host = parts.hostname or "127.0.0.1"
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    auth = None
    user = ""
    if parts.username:
        auth = (unquote(parts.username), unquote(parts.password or ""))
        user = f"{auth[0]}@"
    database = unquote(parts.path.strip("/")) or None
    shown = f"{scheme}://{user}{netloc}" + (f"/{database}" if database else "")
    return f"{scheme}://{netloc}", auth, database, shown


def open_driver(uri: str, auth: tuple[str, str] | None, shown: str) -> neo4j.Driver:
    """A pooled driver with short timeouts; nothing is contacted yet.

    Raises:
        ConfigError: the driver rejects the URI or its options.
    """
    try:
        return neo4j.GraphDatabase.driver(
            uri,
            auth=auth,
            connection_timeout=CONNECT_TIMEOUT_S,
            connection_acquisition_timeout=2 * CONNECT_TIMEOUT_S,
            max_transaction_retry_time=RETRY_S,
            max_connection_pool_size=16,
            keep_alive=True,
            notifications_min_severity="OFF",
        )
    except (ConfigurationError, ValueError) as exc:
        raise ConfigError(f"graph URL '{shown}' is not usable: {one_line(exc)}") from exc


@contextmanager
def translated(shown: str) -> Iterator[None]:
    """Turn driver errors into the one-line errors of :mod:`axiom.errors`.

    Raises:
        BackendUnavailableError: the server cannot be reached (names ``shown``).
        BackendError: the server answered with an error, or the driver failed otherwise.
    """
    try:
        yield
    except (ServiceUnavailable, SessionExpired, ConnectionAcquisitionTimeoutError) as exc:
        raise BackendUnavailableError(
            f"Neo4j at {shown} is unreachable ({one_line(exc)}); start it with "
            "`deploy/local/neo4j.sh start` or set AXIOM_GRAPH=embedded://"
        ) from exc
    except AuthError as exc:
        raise BackendError(
            f"Neo4j at {shown} refused the credentials: {one_line(exc.message)}"
        ) from exc
    except Neo4jError as exc:
        raise BackendError(f"Neo4j at {shown}: {exc.code}: {one_line(exc.message)}") from exc
    except DriverError as exc:
        raise BackendError(f"Neo4j at {shown}: {one_line(exc)}") from exc


def write_batches(statements: Sequence[Statement]) -> list[Batch]:
    """Statements cut into UNWINDs of ``STATEMENT_ROWS`` and packed into transactions.

    A transaction takes whole statements in order until it holds about ``TX_ROWS`` rows,
    so a graph-builder batch is one transaction and a bulk load several bounded ones.
    """
    batches: list[Batch] = [[]]
    size = 0
    for query, rows in statements:
        for part in chunks(rows, STATEMENT_ROWS):
            if batches[-1] and size + len(part) > TX_ROWS:
                batches.append([])
                size = 0
            batches[-1].append((query, list(part)))
            size += len(part)
    return [b for b in batches if b]


def run_batch(tx: neo4j.ManagedTransaction, batch: Batch) -> int:
    """Run each statement of ``batch`` on its rows; the sum of their ``n`` columns.

    The transaction function of every write: the driver may call it again after a
    transient error (deadlock, leader switch), which is safe because every statement is
    an upsert or a delete by key.
    """
    total = 0
    for query, rows in batch:
        record = tx.run(query, {"rows": rows}).single(strict=False)
        if record is not None:
            total += int(record.get("n") or 0)
    return total
