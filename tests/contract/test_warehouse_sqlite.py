"""The Warehouse contract on SQLite, plus what only a SQLite file can show.

Three backends run the contract: the SQLite adapter on a file, the same adapter in memory,
and the portable :class:`SqlWarehouse` (no fast paths) on a file, so the shared SQL that a
PostgreSQL adapter inherits is exercised too.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, inspect

from axiom.domain.models import MarketEvent
from axiom.errors import ConfigError
from axiom.registry import open_backend
from axiom.settings import Settings
from axiom.stores import sql_schema
from axiom.stores.base import Warehouse
from axiom.stores.sql import SqlWarehouse
from axiom.stores.sqlite import SqliteWarehouse

from .warehouse_contract import WarehouseContract
from .warehouse_data import bars, company


def _open(
    url: str, settings: Settings, cls: type[SqlWarehouse] = SqliteWarehouse
) -> Iterator[Warehouse]:
    wh = cls.from_url(url, settings)
    wh.migrate()
    yield wh
    wh.close()


class TestSqliteWarehouse(WarehouseContract):
    __test__ = True

    @pytest.fixture
    def warehouse(self, tmp_path: Path, settings: Settings) -> Iterator[Warehouse]:
        yield from _open(f"sqlite:///{tmp_path / 'one' / 'warehouse.db'}", settings)

    @pytest.fixture
    def other_warehouse(self, tmp_path: Path, settings: Settings) -> Iterator[Warehouse]:
        yield from _open(f"sqlite:///{tmp_path / 'two' / 'warehouse.db'}", settings)


class TestMemorySqliteWarehouse(WarehouseContract):
    __test__ = True
    supports_reopen = False

    @pytest.fixture
    def warehouse(self, settings: Settings) -> Iterator[Warehouse]:
        yield from _open("sqlite://", settings)

    @pytest.fixture
    def other_warehouse(self, settings: Settings) -> Iterator[Warehouse]:
        yield from _open("sqlite:///:memory:", settings)


class TestPortableSqlWarehouse(WarehouseContract):
    __test__ = True

    @pytest.fixture
    def warehouse(self, tmp_path: Path, settings: Settings) -> Iterator[Warehouse]:
        yield from _open(f"sqlite:///{tmp_path / 'one.db'}", settings, SqlWarehouse)

    @pytest.fixture
    def other_warehouse(self, tmp_path: Path, settings: Settings) -> Iterator[Warehouse]:
        yield from _open(f"sqlite:///{tmp_path / 'two.db'}", settings, SqlWarehouse)


# -- schema and migrations -------------------------------------------------------------
def test_migrated_schema_matches_metadata(tmp_path: Path) -> None:
    with SqliteWarehouse(tmp_path / "w.db") as wh:
        wh.migrate()
        with wh.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), sql_schema.metadata)
            tables = set(inspect(conn).get_table_names())
            assert sql_schema.current_revision(conn) == sql_schema.head_revision() == "0003"
    assert diff == []
    assert tables == set(sql_schema.metadata.tables) | {"alembic_version"}


def test_a_new_warehouse_file_uses_16k_pages_and_an_old_one_keeps_its_own(
    tmp_path: Path,
) -> None:
    fresh = SqliteWarehouse(tmp_path / "new.db")
    fresh.migrate()
    fresh.close()
    old_path = tmp_path / "old.db"
    with sqlite3.connect(old_path) as raw:  # made before the setting: 4 KiB pages
        raw.execute("PRAGMA page_size = 4096")
        raw.execute("CREATE TABLE t (x)")
    old = SqliteWarehouse(old_path)
    old.migrate()
    old.close()
    sizes = {}
    for name in ("new.db", "old.db"):
        with sqlite3.connect(tmp_path / name) as raw:
            sizes[name] = raw.execute("PRAGMA page_size").fetchone()[0]
    assert sizes == {"new.db": 16384, "old.db": 4096}


def test_migration_0003_fills_the_price_blocks_from_stored_rows(tmp_path: Path) -> None:
    """A warehouse written before the blocks existed reads the same after the upgrade."""
    from alembic import command

    given = [
        bars("MSFT", "2023-12-28", 8, simulated=True),
        bars("MSFT", "2024-01-02", 2, base=300.0),
        bars("AAPL", "2022-06-01", 300),
    ]
    with SqliteWarehouse(tmp_path / "old.db") as old, SqliteWarehouse(tmp_path / "new.db") as new:
        with old.engine.begin() as conn:
            cfg = sql_schema._alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0002")
            for b in given:  # rows only, as a 0002 warehouse wrote them
                old._bulk_upsert_prices(conn, [b])
        old.migrate()
        new.migrate()
        new.upsert_prices(given)
        assert old.checksums() == new.checksums()
        got, want = old.price_bars(), new.price_bars()
        assert list(got) == list(want) == ["AAPL", "MSFT"]
        for symbol, b in want.items():
            for f in ("dates", "open", "high", "low", "close", "volume"):
                assert getattr(got[symbol], f).tolist() == getattr(b, f).tolist()
            assert got[symbol].simulated == b.simulated
        assert not old.price_bars(start=date(2024, 1, 2), end=date(2024, 1, 3))["MSFT"].simulated
        assert old.price_bars(start=date(2024, 1, 4))["MSFT"].simulated


def test_schema_comparison_sees_a_difference(tmp_path: Path) -> None:
    """The comparison above is not vacuous: one extra column is reported."""
    changed = MetaData()
    for table in sql_schema.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["prices"].append_column(Column("adjusted", Integer))
    with SqliteWarehouse(tmp_path / "w.db") as wh:
        wh.migrate()
        with wh.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), changed)
    assert [(d[0], d[3].name) for d in diff] == [("add_column", "adjusted")]


def test_migrate_at_head_is_fast(tmp_path: Path) -> None:
    with SqliteWarehouse(tmp_path / "w.db") as wh:
        wh.migrate()
        t0 = time.perf_counter()
        wh.migrate()
        assert time.perf_counter() - t0 < 0.5


def test_processes_migrating_one_new_file_together(tmp_path: Path) -> None:
    path = tmp_path / "new" / "w.db"
    script = (
        "import sys\n"
        "from axiom.stores.sqlite import SqliteWarehouse\n"
        "with SqliteWarehouse(sys.argv[1]) as w:\n"
        "    w.migrate()\n"
        "    print(w.counts()['prices'])\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE)
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert outs == [b"0\n"] * 3
    with SqliteWarehouse(path) as wh, wh.engine.connect() as conn:
        assert sql_schema.current_revision(conn) == sql_schema.head_revision()


def test_file_is_in_wal_mode(tmp_path: Path) -> None:
    with SqliteWarehouse(tmp_path / "w.db") as wh:
        wh.migrate()
    con = sqlite3.connect(tmp_path / "w.db")
    assert con.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    con.close()


# -- URLs ------------------------------------------------------------------------------
def test_from_url_resolves_relative_paths_under_home(settings: Settings) -> None:
    with open_backend("warehouse", "sqlite:///data/w.db", settings) as wh:
        assert isinstance(wh, SqliteWarehouse)
        assert wh.path == settings.home_dir / "data" / "w.db"
        wh.migrate()
    assert (settings.home_dir / "data" / "w.db").is_file()


def test_from_url_rejects_other_schemes(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="not a SQLite URL"):
        SqliteWarehouse.from_url("postgresql://u@h/db", settings)
    with pytest.raises(ConfigError, match="malformed"):
        SqliteWarehouse.from_url("sqlite:/nope", settings)


# -- sharing one file ------------------------------------------------------------------
def test_writer_and_reader_on_one_file_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with SqliteWarehouse(path) as writer, SqliteWarehouse(path) as reader:
        writer.migrate()
        reader.migrate()
        writer.upsert_prices([bars("MSFT", n=5)])
        assert reader.latest_days() == {"MSFT": date(2024, 1, 5)}
        reader.upsert_companies([company("MSFT")])
        assert [c.symbol for c in writer.companies()] == ["MSFT"]
        assert reader.checksums() == writer.checksums()


def test_reader_is_not_blocked_by_an_open_write(tmp_path: Path) -> None:
    """WAL: a reader sees the last commit at once while another connection writes."""
    path = tmp_path / "shared.db"
    with SqliteWarehouse(path) as reader:
        reader.migrate()
        reader.upsert_prices([bars("MSFT", n=3)])
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("DELETE FROM prices")
        t0 = time.perf_counter()
        assert reader.counts()["prices"] == 3
        assert len(reader.price_bars()["MSFT"]) == 3
        assert time.perf_counter() - t0 < 1.0
        other.execute("COMMIT")
        other.close()
        assert reader.counts()["prices"] == 0


def test_another_process_reads_and_writes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with SqliteWarehouse(path) as wh:
        wh.migrate()
        wh.upsert_prices([bars("MSFT", n=4), bars("AAPL", n=2)])
        script = (
            "import sys, datetime as d\n"
            "from axiom.stores.sqlite import SqliteWarehouse\n"
            "from axiom.domain.models import MarketEvent\n"
            "w = SqliteWarehouse(sys.argv[1])\n"
            "w.upsert_events([MarketEvent('AAPL', d.date(2024, 1, 2), 'gap', 0.1)])\n"
            "print(w.counts()['prices'], sorted(w.latest_days()))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
        )
        assert out.stdout.split(maxsplit=1) == ["6", "['AAPL', 'MSFT']\n"]
        assert wh.events() == [MarketEvent("AAPL", date(2024, 1, 2), "gap", 0.1)]
