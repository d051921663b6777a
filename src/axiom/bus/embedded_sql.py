"""The SQLite file behind the embedded event log: schema, connections, shared queries.

One database file holds the whole log. It runs in WAL mode, so any number of processes
read while one writes; writers take the write lock with ``BEGIN IMMEDIATE`` and wait for
each other through SQLite's busy handler (``busy_timeout``). Tables:

* ``topics`` (name, partitions, retention_ms) -- created by ``ensure_topics``.
* ``messages`` (topic, partition, offset, ts, key, headers, value) -- unique on
  (topic, partition, offset); offsets are assigned by the writer inside its write
  transaction, so they are dense and never collide between processes.
* ``committed_offsets`` (group_id, topic, partition, offset) -- one row per group partition.
* ``group_members`` (group_id, member_id, topics, heartbeat_ms, session_ms) -- live members.
* ``group_generations`` (group_id, generation) -- bumped whenever membership changes.
* ``partition_owners`` (group_id, topic, partition, member_id) -- which member reads which
  partition right now; a partition changes hands only after its owner released it or left.

Durability: ``synchronous=NORMAL`` in WAL mode. A committed transaction is in the WAL file
when ``COMMIT`` returns, so it survives the crash of any process; surviving a power loss
is left to the operating system's write-back (the WAL is synced at checkpoints).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from axiom.errors import BackendError, TopicError

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    name         TEXT PRIMARY KEY,
    partitions   INTEGER NOT NULL CHECK (partitions > 0),
    retention_ms INTEGER NOT NULL DEFAULT -1,
    created_ms   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    id        INTEGER PRIMARY KEY,
    topic     TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset    INTEGER NOT NULL,
    ts        INTEGER NOT NULL,
    key       TEXT,
    headers   TEXT,
    value     BLOB NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS messages_position ON messages (topic, partition, offset);
CREATE TABLE IF NOT EXISTS committed_offsets (
    group_id     TEXT NOT NULL,
    topic        TEXT NOT NULL,
    partition    INTEGER NOT NULL,
    offset       INTEGER NOT NULL,
    committed_ms INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_members (
    group_id     TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    topics       TEXT NOT NULL,
    heartbeat_ms INTEGER NOT NULL,
    session_ms   INTEGER NOT NULL,
    joined_ms    INTEGER NOT NULL,
    PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_generations (
    group_id   TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS partition_owners (
    group_id  TEXT NOT NULL,
    topic     TEXT NOT NULL,
    partition INTEGER NOT NULL,
    member_id TEXT NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
) WITHOUT ROWID;
"""


def unknown_topic(topic: str) -> TopicError:
    """The one-line error for a topic that does not exist."""
    return TopicError(
        f"unknown topic '{topic}': create it first with bus.ensure_topics(...) "
        "(all of Axiom's topics: axiom.domain.topics.CATALOG)"
    )


#: Store a group's next offset to read for one partition.
UPSERT_COMMITTED = (
    "INSERT INTO committed_offsets (group_id, topic, partition, offset, committed_ms)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (group_id, topic, partition) DO UPDATE"
    " SET offset = excluded.offset, committed_ms = excluded.committed_ms"
)


def now_ms() -> int:
    """Wall-clock milliseconds; comparable between processes of one machine."""
    return time.time_ns() // 1_000_000


def connect(path: Path, busy_timeout_s: float = 30.0) -> sqlite3.Connection:
    """Open ``path`` in WAL mode, creating the file and its schema if needed.

    Called once per bus, producer and consumer (each owns its connection). The connection
    is in autocommit mode: every read sees the newest committed data, and writes go through
    :func:`write_txn`. Raises BackendError if the file cannot be opened or is not a bus.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
        )
    except (OSError, sqlite3.Error) as exc:
        raise BackendError(f"cannot open the embedded bus at {path}: {exc}") from exc
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-32000")
        conn.execute("PRAGMA temp_store=MEMORY")
        # Checkpoint every ~40 MB of WAL instead of every 4 MB: fewer copies under bulk load.
        conn.execute("PRAGMA wal_autocheckpoint=10000")
        conn.execute("PRAGMA journal_size_limit=67108864")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise sqlite3.DatabaseError(f"schema version {version} is newer than this Axiom's")
        if version != SCHEMA_VERSION:
            with write_txn(conn, path):
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise BackendError(f"{path} is not a usable embedded bus database: {exc}") from exc
    return conn


@contextmanager
def write_txn(conn: sqlite3.Connection, path: Path | str = "") -> Iterator[sqlite3.Connection]:
    """One write transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any error.

    Every writer of the log uses it, so offset assignment and membership changes are
    serialised across processes. Raises BackendError if the write lock is not obtained
    within the busy timeout or the write fails; nothing of the block is then stored.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise BackendError(f"embedded bus {path} is busy (another writer holds it): {exc}") from exc
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise BackendError(f"embedded bus {path}: commit failed: {exc}") from exc


@contextmanager
def db_errors(path: Path | str) -> Iterator[None]:
    """Turn a database failure inside the block into a one-line BackendError."""
    try:
        yield
    except sqlite3.Error as exc:
        raise BackendError(f"embedded bus {path}: {exc}") from exc


def topic_partitions(conn: sqlite3.Connection) -> dict[str, int]:
    """Every topic's partition count, read fresh from the file."""
    return dict(conn.execute("SELECT name, partitions FROM topics ORDER BY name").fetchall())


def end_offset(conn: sqlite3.Connection, topic: str, partition: int) -> int:
    """The offset the next message of the partition gets (0 for an empty partition)."""
    row = conn.execute(
        "SELECT MAX(offset) FROM messages WHERE topic = ? AND partition = ?", (topic, partition)
    ).fetchone()
    return 0 if row[0] is None else int(row[0]) + 1


def first_offset_at(conn: sqlite3.Connection, topic: str, partition: int, ts_ms: int) -> int:
    """The first offset whose timestamp is at or after ``ts_ms``; the end offset if none."""
    row = conn.execute(
        "SELECT offset FROM messages WHERE topic = ? AND partition = ? AND ts >= ?"
        " ORDER BY offset LIMIT 1",
        (topic, partition, ts_ms),
    ).fetchone()
    return end_offset(conn, topic, partition) if row is None else int(row[0])


def enforce_retention(conn: sqlite3.Connection, path: Path | str, at_ms: int) -> int:
    """Delete messages older than their topic's retention; returns how many went.

    Like Kafka's segment deletion it only trims a prefix of each partition (messages up to
    the first one inside the retention window) and always keeps the newest message, so
    offsets stay dense and the end offset never moves back. Topics with
    ``retention_ms < 0`` keep everything.
    """
    topics = conn.execute(
        "SELECT name, partitions, retention_ms FROM topics WHERE retention_ms >= 0"
    ).fetchall()
    deleted = 0
    if not topics:
        return deleted
    with write_txn(conn, path):
        for name, partitions, retention_ms in topics:
            for partition in range(partitions):
                end = end_offset(conn, name, partition)
                if end == 0:
                    continue
                keep_from = min(
                    first_offset_at(conn, name, partition, at_ms - retention_ms), end - 1
                )
                cur = conn.execute(
                    "DELETE FROM messages WHERE topic = ? AND partition = ? AND offset < ?",
                    (name, partition, keep_from),
                )
                deleted += cur.rowcount
    return deleted
