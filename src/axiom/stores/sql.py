"""The SQL warehouse on SQLAlchemy Core, shared by every SQL dialect.

:class:`SqlWarehouse` implements the whole :class:`~axiom.stores.base.Warehouse` port with
portable Core statements; a dialect adapter (:mod:`axiom.stores.sqlite`, PostgreSQL) only
configures the engine and overrides the bulk hooks where its driver has a faster path:

* :meth:`SqlWarehouse._bulk_upsert_prices` - write many price rows (SQLite: raw
  ``executemany``; PostgreSQL: ``COPY`` into a staging table, then one upsert).
* :meth:`SqlWarehouse._upsert_rows` - insert-or-replace rows of any other table.
* :meth:`SqlWarehouse._fetch_price_columns` - read price rows as numpy columns (the
  checksums); whole histories are read from the columnar ``price_blocks``
  (:mod:`axiom.stores.price_blocks`), written with the rows in one transaction.
* :meth:`SqlWarehouse._writing` / :meth:`SqlWarehouse._reading` - transaction scopes.

Every write runs in one transaction: a batch is stored entirely or not at all, so a
consumer that sees an exception does not commit its offsets and the batch is redelivered.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Self

from sqlalchemy import ColumnElement, String, and_, bindparam, create_engine, delete, func, select
from sqlalchemy.engine import Connection, Engine

from axiom.domain.models import Company, CorrelationEdge, MarketEvent, PriceBars, RiskScore
from axiom.stores import price_blocks as blocks
from axiom.stores import sql_codec as codec
from axiom.stores import sql_schema as schema
from axiom.stores.base import CloseMatrix, PipelineRun, SymbolStats, Warehouse
from axiom.stores.sql_schema import (
    ALL_TABLES,
    DATA_TABLES,
    DERIVED_TABLES,
    WRITE_TIME_COLUMNS,
    price_blocks,
    prices,
)

if TYPE_CHECKING:
    from sqlalchemy import Table

    from axiom.settings import Settings


class SqlWarehouse(Warehouse):
    """The warehouse port on any SQLAlchemy engine (portable statements, no fast paths).

    Built by a dialect adapter, or directly with :meth:`from_url` for a database that has
    no adapter of its own. The caller owns the object and closes it; ``migrate`` must have
    run once on the database before the first read or write.
    """

    #: Execution option read by dialect adapters to open a write (not read) transaction.
    INTENT_OPTION: ClassVar[str] = "axiom_intent"
    #: Keep the columnar ``price_blocks`` with the rows and read whole histories from
    #: them (SQLite, whose row reads are slow). A block is read, merged and written
    #: back, so writers must exclude each other: SQLite's write transactions do; a server
    #: with row locks would need a lock of its own, so the portable path and PostgreSQL
    #: (whose binary ``COPY`` reads rows as fast) leave the table empty.
    PRICE_BLOCKS: ClassVar[bool] = False
    #: Isolation level of read transactions; PostgreSQL sets ``"REPEATABLE READ"`` so the
    #: several statements of one read (checksums, counts) share one snapshot.
    READ_ISOLATION: ClassVar[str | None] = None

    def __init__(self, engine: Engine, url: str | None = None) -> None:
        self._engine = engine
        self.url = url if url is not None else engine.url.render_as_string(hide_password=True)
        self._closed = False

    @classmethod
    def from_url(cls, url: str, settings: Settings) -> Self:
        """Open the database at ``url`` with SQLAlchemy's defaults; does not connect yet."""
        return cls(create_engine(url), url)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine (for adapters, migrations and tests of the schema)."""
        return self._engine

    def close(self) -> None:
        """Close every pooled connection; safe to call twice."""
        if not self._closed:
            self._closed = True
            self._engine.dispose()

    # -- transaction scopes (hooks) ----------------------------------------------------
    @contextmanager
    def _writing(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed on exit, rolled back on error."""
        with self._engine.connect() as conn:
            conn.execution_options(**{self.INTENT_OPTION: "write"})
            with conn.begin():
                yield conn

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        """A connection in a read transaction: every query in it sees one snapshot."""
        with self._engine.connect() as conn:
            conn.execution_options(**{self.INTENT_OPTION: "read"})
            if self.READ_ISOLATION is not None:
                conn.execution_options(isolation_level=self.READ_ISOLATION)
            with conn.begin():
                yield conn

    # -- schema ------------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema to the newest migration; one quick query when already there.

        Runs in a write transaction, so processes starting together migrate one after the
        other. A failing migration raises and leaves the previous schema in place.
        """
        with self._writing() as conn:
            schema.upgrade_schema(conn)

    # -- writes ------------------------------------------------------------------------
    def upsert_companies(self, companies: Sequence[Company]) -> int:
        """Insert or replace by symbol, stamping ``updated_at``; returns rows written."""
        now = datetime.now(UTC)
        rows = [codec.company_row(c, now) for c in companies]
        with self._writing() as conn:
            self._upsert_rows(conn, schema.companies, rows)
        return len(rows)

    def upsert_prices(self, bars: Sequence[PriceBars]) -> int:
        """Insert or replace by (symbol, day); the last bar of a key in ``bars`` wins.

        Called by the warehouse writer with a polled batch. Returns the number of bars
        given, the same for a redelivered batch. One transaction: if it raises, nothing of
        the batch is stored and the writer must not commit its offsets.
        """
        if not any(len(b) for b in bars):
            return 0
        with self._writing() as conn:
            given = self._bulk_upsert_prices(conn, bars)
            if self.PRICE_BLOCKS:
                self._upsert_rows(conn, price_blocks, blocks.merged_rows(conn, bars))
            return given

    def upsert_events(self, events: Sequence[MarketEvent]) -> int:
        """Insert or replace by event_id; returns rows written."""
        with self._writing() as conn:
            self._upsert_rows(conn, schema.market_events, [codec.event_row(e) for e in events])
        return len(events)

    def apply_correlation_edges(self, edges: Sequence[CorrelationEdge]) -> int:
        """Upsert by (a, b, method), deleting those marked ``removed``; the last of a key wins.

        Returns the number of edges given (upserted or removed).
        """
        latest: dict[tuple[str, str, str], CorrelationEdge] = {}
        for e in edges:
            latest[(e.a, e.b, e.method)] = e
        gone = [{"ka": a, "kb": b, "km": m} for (a, b, m), e in latest.items() if e.removed]
        keep = [codec.edge_row(e) for e in latest.values() if not e.removed]
        t = schema.correlation_edges
        with self._writing() as conn:
            if gone:
                stmt = delete(t).where(
                    and_(
                        t.c.a == bindparam("ka"),
                        t.c.b == bindparam("kb"),
                        t.c.method == bindparam("km"),
                    )
                )
                conn.execute(stmt, gone)
            self._upsert_rows(conn, t, keep)
        return len(edges)

    def upsert_risk_scores(self, scores: Sequence[RiskScore]) -> int:
        """Insert or replace by (scenario_id, symbol); returns rows written."""
        with self._writing() as conn:
            self._upsert_rows(conn, schema.risk_scores, [codec.risk_row(s) for s in scores])
        return len(scores)

    def upsert_symbol_stats(self, stats: Sequence[SymbolStats]) -> int:
        """Insert or replace by symbol; returns rows written."""
        with self._writing() as conn:
            self._upsert_rows(conn, schema.symbol_stats, [codec.stats_row(s) for s in stats])
        return len(stats)

    def record_run(self, run: PipelineRun) -> None:
        """Insert or replace by run_id (called when a run starts and again when it ends).

        Raises ValueError for a naive datetime: run times are always timezone-aware.
        """
        row = codec.run_row(run)
        with self._writing() as conn:
            self._upsert_rows(conn, schema.pipeline_runs, [row])

    # -- bulk hooks --------------------------------------------------------------------
    def _upsert_rows(self, conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
        """Insert or replace ``rows`` of ``table`` by primary key; the last of a key wins.

        Portable: ``ON CONFLICT DO UPDATE`` on SQLite and PostgreSQL, ``ON DUPLICATE KEY
        UPDATE`` on MySQL, delete-then-insert elsewhere, always inside ``conn``'s
        transaction.
        """
        if not rows:
            return
        key = [c.name for c in table.primary_key.columns]
        rows = codec.last_per_key(rows, key)
        stmt = schema.upsert_statement(conn.dialect.name, table)
        if stmt is None:
            cond = and_(*(table.c[k] == bindparam(f"k_{k}") for k in key))
            conn.execute(delete(table).where(cond), [{f"k_{k}": r[k] for k in key} for r in rows])
            stmt = table.insert()
        conn.execute(stmt, rows)

    def _bulk_upsert_prices(self, conn: Connection, bars: Sequence[PriceBars]) -> int:
        """Write every bar of ``bars`` inside ``conn``'s transaction; returns bars given.

        Dialect adapters override this with their fastest bulk path; they must keep the
        "last bar of a key wins" rule.
        """
        self._upsert_rows(conn, prices, codec.price_rows(bars))
        return sum(len(b) for b in bars)

    def _fetch_price_columns(
        self,
        conn: Connection,
        fields: Sequence[str],
        symbols: Sequence[str] | None,
        start: date | None,
        end: date | None,
        *,
        with_simulated: bool = True,
    ) -> codec.PriceColumns:
        """Price rows matching the filters as columns (``fields`` of PRICE_FIELDS).

        Called inside a read transaction; adapters override it with a faster reader.
        ``with_simulated=False`` lets a reader skip the per-row flags (close matrices).
        """
        t = prices
        stmt = select(t.c.symbol, t.c.day, t.c.simulated, *(t.c[f] for f in fields))
        stmt = stmt.where(*self._price_filter(symbols, start, end))
        rows = conn.execute(stmt.order_by(self._sorted(t.c.symbol), t.c.day)).all()
        return codec.columns_from_rows(rows, fields, with_simulated=with_simulated)

    def store_extraction(
        self, key: str, *, doc_id: str, company: str, extractor: str, payload: dict[str, Any]
    ) -> None:
        """See :meth:`Warehouse.store_extraction`."""
        row = {
            "cache_key": key,
            "doc_id": doc_id,
            "company": company,
            "extractor": extractor,
            "payload": payload,
            "created_at": datetime.now(UTC),
        }
        with self._writing() as conn:
            self._upsert_rows(conn, schema.llm_extractions, [row])

    def cached_extraction(self, key: str) -> dict[str, Any] | None:
        """See :meth:`Warehouse.cached_extraction`."""
        t = schema.llm_extractions
        with self._reading() as conn:
            got = conn.execute(select(t.c.payload).where(t.c.cache_key == key)).scalar()
        return dict(got) if got is not None else None

    # -- reads -------------------------------------------------------------------------
    def companies(self, symbols: Sequence[str] | None = None) -> list[Company]:
        """Companies ordered by symbol (all, or those of ``symbols`` that exist)."""
        t = schema.companies
        stmt = select(t)
        if symbols is not None:
            stmt = stmt.where(t.c.symbol.in_(list(symbols)))
        with self._reading() as conn:
            rows = conn.execute(stmt.order_by(self._sorted(t.c.symbol))).mappings()
            return [codec.company_from_row(r) for r in rows]

    def price_bars(
        self,
        symbols: Sequence[str] | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> dict[str, PriceBars]:
        """Symbol -> bars in [start, end], dates ascending; symbols without bars are absent."""
        with self._reading() as conn:
            cols = self._read_blocks(conn, codec.PRICE_FIELDS, symbols, start, end, sim=True)
        return cols.bars()

    def close_matrix(
        self,
        symbols: Sequence[str] | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> CloseMatrix:
        """Closes on the union of dates of the symbols with bars in [start, end], sorted."""
        with self._reading() as conn:
            cols = self._read_blocks(conn, ("close",), symbols, start, end, sim=False)
        return cols.close_matrix()

    def latest_days(self) -> dict[str, date]:
        """Symbol -> last day with a bar."""
        stmt = select(prices.c.symbol, func.max(prices.c.day)).group_by(prices.c.symbol)
        with self._reading() as conn:
            return {s: _as_date(d) for s, d in conn.execute(stmt)}

    def events(
        self,
        symbol: str | None = None,
        kinds: Sequence[str] | None = None,
        start: date | None = None,
        end: date | None = None,
        limit: int | None = None,
    ) -> list[MarketEvent]:
        """Events ordered by (day, symbol, kind), at most ``limit``."""
        t = schema.market_events
        stmt = select(t)
        if symbol is not None:
            stmt = stmt.where(t.c.symbol == symbol)
        if kinds is not None:
            stmt = stmt.where(t.c.kind.in_(list(kinds)))
        if start is not None:
            stmt = stmt.where(t.c.day >= start)
        if end is not None:
            stmt = stmt.where(t.c.day <= end)
        stmt = stmt.order_by(t.c.day, self._sorted(t.c.symbol), self._sorted(t.c.kind))
        if limit is not None:
            stmt = stmt.limit(limit)
        with self._reading() as conn:
            return [codec.event_from_row(r) for r in conn.execute(stmt).mappings()]

    def correlation_edges(self, method: str | None = None) -> list[CorrelationEdge]:
        """Current edges ordered by (a, b, method)."""
        t = schema.correlation_edges
        stmt = select(t)
        if method is not None:
            stmt = stmt.where(t.c.method == method)
        stmt = stmt.order_by(*(self._sorted(c) for c in (t.c.a, t.c.b, t.c.method)))
        with self._reading() as conn:
            return [codec.edge_from_row(r) for r in conn.execute(stmt).mappings()]

    def risk_scores(self, scenario_id: str) -> list[RiskScore]:
        """Scores of a scenario, largest loss first, ties by symbol."""
        t = schema.risk_scores
        stmt = select(t).where(t.c.scenario_id == scenario_id)
        stmt = stmt.order_by(t.c.loss.desc(), self._sorted(t.c.symbol))
        with self._reading() as conn:
            return [codec.risk_from_row(r) for r in conn.execute(stmt).mappings()]

    def symbol_stats(self, symbols: Sequence[str] | None = None) -> list[SymbolStats]:
        """Stats ordered by symbol."""
        t = schema.symbol_stats
        stmt = select(t)
        if symbols is not None:
            stmt = stmt.where(t.c.symbol.in_(list(symbols)))
        with self._reading() as conn:
            rows = conn.execute(stmt.order_by(self._sorted(t.c.symbol))).mappings()
            return [codec.stats_from_row(r) for r in rows]

    def runs(self, pipeline: str | None = None, limit: int = 50) -> list[PipelineRun]:
        """Most recent runs first (by start time, then run_id descending)."""
        t = schema.pipeline_runs
        stmt = select(t)
        if pipeline is not None:
            stmt = stmt.where(t.c.pipeline == pipeline)
        stmt = stmt.order_by(t.c.started_at.desc(), self._sorted(t.c.run_id).desc())
        with self._reading() as conn:
            return [codec.run_from_row(r) for r in conn.execute(stmt.limit(limit)).mappings()]

    def counts(self) -> dict[str, int]:
        """Table -> row count, for every table including ``pipeline_runs``."""
        with self._reading() as conn:
            return {
                t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
                for t in ALL_TABLES
            }

    def checksums(self) -> dict[str, str]:
        """Data table -> blake2b of its rows in primary-key order (one snapshot).

        Floats keep 10 significant digits and write-time stamps (``updated_at``) are left
        out, so two warehouses holding the same data compare equal whatever the backend
        or the insertion order. ``pipeline_runs`` is not covered (runs are not replayed).
        """
        out: dict[str, str] = {}
        with self._reading() as conn:
            for t in DATA_TABLES:
                if t is prices:
                    cols = self._fetch_price_columns(conn, codec.PRICE_FIELDS, None, None, None)
                    out[t.name] = cols.digest()
                    continue
                skip = WRITE_TIME_COLUMNS.get(t.name, frozenset())
                stmt = select(*(c for c in t.columns if c.name not in skip))
                key = [self._sorted(c) for c in t.primary_key.columns]
                result = conn.execute(stmt.order_by(*key))
                out[t.name] = codec.digest_rows(result)
        return out

    def truncate(self) -> None:
        """Delete every row of every data table in one transaction; runs are kept.

        Called before a replay rebuilds the warehouse from the topics.
        """
        with self._writing() as conn:
            for t in (*DATA_TABLES, *DERIVED_TABLES):
                conn.execute(delete(t))

    # -- helpers -----------------------------------------------------------------------
    def _read_blocks(
        self,
        conn: Connection,
        fields: Sequence[str],
        symbols: Sequence[str] | None,
        start: date | None,
        end: date | None,
        *,
        sim: bool,
    ) -> codec.PriceColumns:
        """Prices as columns: from ``price_blocks`` (no row fetches), or from the rows."""
        if not self.PRICE_BLOCKS:
            return self._fetch_price_columns(conn, fields, symbols, start, end, with_simulated=sim)
        key = self._sorted(price_blocks.c.symbol)
        return blocks.read_columns(
            conn, fields, symbols, start, end, with_simulated=sim, sort_key=key
        )

    def _sorted(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """``column`` for ORDER BY in code-point order, as Python sorts strings.

        PostgreSQL sorts text by the database locale; ``COLLATE "C"`` makes it byte order
        (= code-point order for UTF-8), the order SQLite uses natively.
        """
        if self._engine.dialect.name == "postgresql" and isinstance(
            getattr(column, "type", None), String
        ):
            return column.collate("C")
        return column

    def _price_filter(
        self, symbols: Sequence[str] | None, start: date | None, end: date | None
    ) -> list[ColumnElement[bool]]:
        """WHERE clauses of a price read."""
        conds: list[ColumnElement[bool]] = []
        if symbols is not None:
            conds.append(prices.c.symbol.in_(sorted(set(symbols))))
        if start is not None:
            conds.append(prices.c.day >= start)
        if end is not None:
            conds.append(prices.c.day <= end)
        return conds


def _as_date(value: Any) -> date:
    """A date from a DATE column or a ``max(day)`` aggregate (a string on SQLite)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


__all__ = ["SqlWarehouse"]
