"""The warehouse schema as SQLAlchemy Core metadata, and the Alembic runner that builds it.

Every SQL adapter (:mod:`axiom.stores.sql`, :mod:`axiom.stores.sqlite`, PostgreSQL) reads
and writes these tables; the Alembic migrations in ``migrations/`` create exactly them (a
contract test compares the migrated schema with :data:`metadata`). Types are chosen so
that the same Python values come back on every dialect: datetimes are timezone-aware UTC,
doubles are IEEE doubles, JSON columns hold lists and dicts, NaN in an optional float is
stored as NULL (SQLite cannot store NaN) and read back as NaN by the row codecs.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.dml import Insert
from sqlalchemy.types import TypeDecorator

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

#: Alembic's folder inside the installed package (``env.py``, ``versions/``).
MIGRATIONS_DIR = Path(__file__).with_name("migrations")

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC and always read back aware, in UTC.

    SQLite keeps the UTC wall time as text (its DATETIME has no zone), PostgreSQL a
    ``TIMESTAMP WITH TIME ZONE``. Binding a naive datetime raises ValueError: a time
    without a zone is a bug in the caller, never guessed.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; SQLite gets the naive UTC wall time it can store."""
        if value is None:
            return None
        utc = to_utc(value)
        return utc.replace(tzinfo=None) if dialect.name == "sqlite" else utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Attach UTC to the stored wall time, or convert an aware value to UTC."""
        if value is None:
            return None
        dt = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        if dt.tzinfo is None:
            return dt.replace(tzinfo=UTC)
        return dt.astimezone(UTC)


class OptionalFloat(TypeDecorator[float]):
    """A nullable double where NaN is stored as NULL on every dialect.

    SQLite turns NaN into NULL by itself; doing the same on PostgreSQL keeps the two
    warehouses' contents (and checksums) identical. Row codecs map NULL back to NaN.
    """

    impl = Double()
    cache_ok = True

    def process_bind_param(self, value: float | None, dialect: Dialect) -> float | None:
        """NaN and None become NULL; anything else is stored as a double."""
        if value is None or math.isnan(value):
            return None
        return float(value)


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC; raises ValueError for a naive datetime (callers pass aware ones)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} (expected timezone-aware)")
    return value.astimezone(UTC)


metadata = MetaData(naming_convention=NAMING_CONVENTION)

companies = Table(
    "companies",
    metadata,
    Column("symbol", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("isin", String(32)),
    Column("country", Text),
    Column("sector", Text),
    Column("industries", JSON, nullable=False),
    Column("indices", JSON, nullable=False),
    Column("hq_city", Text),
    Column("hq_country", Text),
    Column("key_people", JSON, nullable=False),
    Column("currency", String(16)),
    Column("revenue", OptionalFloat),
    Column("revenue_currency", String(16)),
    Column("employees", BigInteger),
    Column("website", Text),
    Column("updated_at", UtcDateTime, nullable=False),
)

prices = Table(
    "prices",
    metadata,
    Column("symbol", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("open", Double, nullable=False),
    Column("high", Double, nullable=False),
    Column("low", Double, nullable=False),
    Column("close", Double, nullable=False),
    Column("volume", Double, nullable=False),
    Column("simulated", Boolean, nullable=False),
    sqlite_with_rowid=False,
)

#: Derived from ``prices`` in the same transactions (see :mod:`axiom.stores.price_blocks`).
price_blocks = Table(
    "price_blocks",
    metadata,
    Column("symbol", String(64), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("bars", Integer, nullable=False),
    Column("days", LargeBinary, nullable=False),
    Column("open", LargeBinary, nullable=False),
    Column("high", LargeBinary, nullable=False),
    Column("low", LargeBinary, nullable=False),
    Column("close", LargeBinary, nullable=False),
    Column("volume", LargeBinary, nullable=False),
    Column("simulated", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)

market_events = Table(
    "market_events",
    metadata,
    Column("event_id", String(64), primary_key=True),
    Column("symbol", String(64), nullable=False),
    Column("day", Date, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("magnitude", Double, nullable=False),
    Column("detail", JSON, nullable=False),
    Column("simulated", Boolean, nullable=False),
    Index(None, "symbol", "day"),
    Index(None, "kind", "day"),
)

correlation_edges = Table(
    "correlation_edges",
    metadata,
    Column("a", String(64), primary_key=True),
    Column("b", String(64), primary_key=True),
    Column("method", String(32), primary_key=True),
    Column("rho", Double, nullable=False),
    Column("window_end", Date, nullable=False),
    Column("window", Integer, nullable=False),
    sqlite_with_rowid=False,
)

risk_scores = Table(
    "risk_scores",
    metadata,
    Column("scenario_id", String(64), primary_key=True),
    Column("symbol", String(64), primary_key=True),
    Column("loss", Double, nullable=False),
    Column("round", Integer, nullable=False),
    Column("shocked", Boolean, nullable=False),
    sqlite_with_rowid=False,
)

symbol_stats = Table(
    "symbol_stats",
    metadata,
    Column("symbol", String(64), primary_key=True),
    Column("last_day", Date, nullable=False),
    Column("last_close", OptionalFloat),
    Column("bars", Integer, nullable=False),
    Column("ret_1d", OptionalFloat),
    Column("vol_20d", OptionalFloat),
    Column("high_52w", OptionalFloat),
    Column("low_52w", OptionalFloat),
    Column("drawdown", OptionalFloat),
)

pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("pipeline", String(64), nullable=False),
    Column("trigger", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("records", BigInteger, nullable=False),
    Column("errors", BigInteger, nullable=False),
    Column("duration_s", Double, nullable=False),
    Column("detail", Text, nullable=False),
    Index(None, "pipeline", "started_at"),
)

llm_extractions = Table(
    "llm_extractions",
    metadata,
    Column("cache_key", String(64), primary_key=True),
    Column("doc_id", Text, nullable=False),
    Column("company", String(64), nullable=False),
    Column("extractor", String(128), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

#: Tables filled by consumers: emptied by ``truncate`` and covered by ``checksums``.
DATA_TABLES: tuple[Table, ...] = (
    companies,
    prices,
    market_events,
    correlation_edges,
    risk_scores,
    symbol_stats,
)

#: Tables computed from data tables: emptied with them, never checksummed or counted.
DERIVED_TABLES: tuple[Table, ...] = (price_blocks,)

#: Every table, in the order ``counts`` reports them.
ALL_TABLES: tuple[Table, ...] = (*DATA_TABLES, pipeline_runs)

#: Columns that record when a row was written, not what it holds; checksums skip them.
WRITE_TIME_COLUMNS: dict[str, frozenset[str]] = {"companies": frozenset({"updated_at"})}


def upsert_statement(dialect: str, table: Table) -> Insert | None:
    """The insert-or-replace-by-primary-key statement of ``table`` on ``dialect``.

    ``ON CONFLICT DO UPDATE`` on SQLite and PostgreSQL, ``ON DUPLICATE KEY UPDATE`` on
    MySQL; None where no such statement exists (the caller deletes, then inserts).
    """
    others = [c.name for c in table.columns if not c.primary_key]
    key = [c.name for c in table.primary_key.columns]
    if dialect == "sqlite":
        lite = sqlite.insert(table)
        return lite.on_conflict_do_update(
            index_elements=key, set_={c: lite.excluded[c] for c in others}
        )
    if dialect == "postgresql":
        pg = postgresql.insert(table)
        return pg.on_conflict_do_update(
            index_elements=key, set_={c: pg.excluded[c] for c in others}
        )
    if dialect in ("mysql", "mariadb"):
        my = mysql.insert(table)
        return my.on_duplicate_key_update({c: my.inserted[c] for c in others})
    return None


# Alembic is imported only when a schema is checked or migrated: processes that just read
# the warehouse (consumers, the API) do not pay for it.
@cache
def _script_directory() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config())


def _alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return cfg


def head_revision() -> str | None:
    """The newest migration of the package (what :func:`upgrade_schema` brings a DB to)."""
    return _script_directory().get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The migration the database behind ``connection`` is at (None if never migrated)."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def upgrade_schema(connection: Connection) -> None:
    """Run the pending Alembic migrations on ``connection``, inside its transaction.

    Called by ``SqlWarehouse.migrate`` with a connection already in a write transaction,
    so concurrent starters serialise and the second one finds the schema at head and
    returns after one query. A failure raises and the caller's transaction rolls back,
    leaving the schema at its previous revision.
    """
    if current_revision(connection) == head_revision():
        return
    from alembic import command

    cfg = _alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")
