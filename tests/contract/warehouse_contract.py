"""The Warehouse contract: every adapter passes this suite unchanged.

Subclass :class:`WarehouseContract` once per adapter, set ``__test__ = True`` and supply
two fixtures, ``warehouse`` and ``other_warehouse``: independent, empty, migrated
warehouses, closed by the fixture. Only the port's public API is used here. What an
adapter cannot do is declared with a capability flag, never skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from axiom.domain.models import Company
from axiom.registry import open_backend
from axiom.settings import Settings
from axiom.stores.base import Warehouse

from .warehouse_data import T0, bars, company, edge, event, run, score, stats

D3, D4 = date(2024, 1, 3), date(2024, 1, 4)
DATA_TABLES = {
    "companies",
    "prices",
    "market_events",
    "correlation_edges",
    "risk_scores",
    "symbol_stats",
}


def _fill(wh: Warehouse, reverse: bool = False) -> None:
    """The same content, written in one order or in the reverse order and other batches."""

    steps: list[Callable[[], object]] = [
        lambda: wh.upsert_companies([company("MSFT"), company("AAPL"), company("BRK.B")]),
        lambda: wh.upsert_prices([bars("MSFT", n=8), bars("AAPL", "2024-01-03", 4, 50.0)]),
        lambda: wh.upsert_prices([bars("BRK.B", n=3, base=400.0, simulated=True)]),
        lambda: wh.upsert_events(
            [event("MSFT", date(2024, 1, 3)), event("AAPL", date(2024, 1, 4))]
        ),
        lambda: wh.apply_correlation_edges([edge("AAPL", "MSFT"), edge("AAPL", "BRK.B", -0.2)]),
        lambda: wh.upsert_risk_scores([score("s1", "AAPL", 0.4), score("s1", "MSFT", 0.9, 0)]),
        lambda: wh.upsert_symbol_stats([stats("MSFT"), stats("AAPL", ret_1d=float("nan"))]),
    ]
    for step in steps[::-1] if reverse else steps:
        step()


class WarehouseContract:
    """Behaviour every Warehouse adapter guarantees."""

    __test__ = False

    #: A second instance opened from ``warehouse.url`` (registry) sees the same data.
    supports_reopen: ClassVar[bool] = True

    # -- schema ------------------------------------------------------------------------
    def test_empty_after_migrate(self, warehouse: Warehouse) -> None:
        assert warehouse.counts() == dict.fromkeys([*sorted(DATA_TABLES), "pipeline_runs"], 0)
        assert set(warehouse.counts()) == DATA_TABLES | {"pipeline_runs"}
        assert warehouse.companies() == []
        assert warehouse.price_bars() == {}
        assert warehouse.latest_days() == {}
        assert warehouse.events() == [] and warehouse.runs() == []
        cm = warehouse.close_matrix()
        assert cm.symbols == [] and cm.values.shape == (0, 0) and cm.dates.shape == (0,)

    def test_migrate_twice_keeps_data(self, warehouse: Warehouse) -> None:
        _fill(warehouse)
        before = (warehouse.counts(), warehouse.checksums())
        warehouse.migrate()
        warehouse.migrate()
        assert (warehouse.counts(), warehouse.checksums()) == before

    # -- companies ---------------------------------------------------------------------
    def test_companies_round_trip_ordered_and_filtered(self, warehouse: Warehouse) -> None:
        given = [company("MSFT"), company("AAPL"), company("BRK.B")]
        assert warehouse.upsert_companies(given) == 3
        assert warehouse.companies() == sorted(given, key=lambda c: c.symbol)
        assert [c.symbol for c in warehouse.companies(["MSFT", "NOPE", "AAPL"])] == [
            "AAPL",
            "MSFT",
        ]
        assert warehouse.companies([]) == []

    def test_company_with_only_required_fields(self, warehouse: Warehouse) -> None:
        bare = Company("ZZ", "Zed Corp")
        warehouse.upsert_companies([bare])
        assert warehouse.companies() == [bare]

    def test_companies_replace_on_conflict(self, warehouse: Warehouse) -> None:
        warehouse.upsert_companies([company("AAPL")])
        warehouse.upsert_companies([company("AAPL", "Apple Inc.")])
        assert [c.name for c in warehouse.companies()] == ["Apple Inc."]
        assert warehouse.counts()["companies"] == 1

    # -- prices ------------------------------------------------------------------------
    def test_prices_round_trip_exact(self, warehouse: Warehouse) -> None:
        given = bars("MSFT", n=6)
        assert warehouse.upsert_prices([given, bars("AAPL", simulated=True)]) == 11
        got = warehouse.price_bars()
        assert list(got) == ["AAPL", "MSFT"]
        m = got["MSFT"]
        assert m.dates.dtype == np.dtype("datetime64[D]")
        np.testing.assert_array_equal(m.dates, given.dates)
        for f in ("open", "high", "low", "close", "volume"):
            np.testing.assert_array_equal(getattr(m, f), getattr(given, f))
        assert not m.simulated and got["AAPL"].simulated
        m.validate()

    def test_prices_filtered_by_symbols_and_inclusive_dates(self, warehouse: Warehouse) -> None:
        warehouse.upsert_prices([bars("MSFT", n=10), bars("AAPL", n=10), bars("IBM", n=10)])
        got = warehouse.price_bars(["MSFT", "IBM", "NOPE"], date(2024, 1, 3), date(2024, 1, 5))
        assert list(got) == ["IBM", "MSFT"]
        assert got["MSFT"].dates.astype(str).tolist() == ["2024-01-03", "2024-01-04", "2024-01-05"]
        assert warehouse.price_bars(start=date(2030, 1, 1)) == {}
        assert warehouse.price_bars([]) == {}

    def test_prices_replace_on_conflict_and_extend(self, warehouse: Warehouse) -> None:
        warehouse.upsert_prices([bars("MSFT", n=5, base=100.0)])
        assert warehouse.upsert_prices([bars("MSFT", "2024-01-04", 4, base=200.0)]) == 4
        got = warehouse.price_bars()["MSFT"]
        assert len(got) == 7
        assert got.close.tolist()[2:4] == pytest.approx([102.123456789012, 200.123456789012])
        assert warehouse.latest_days() == {"MSFT": date(2024, 1, 7)}

    def test_prices_last_bar_of_a_batch_wins(self, warehouse: Warehouse) -> None:
        first, second = bars("MSFT", n=4, base=10.0), bars("MSFT", "2024-01-02", 2, base=70.0)
        warehouse.upsert_prices([first, second])
        got = warehouse.price_bars()["MSFT"]
        assert got.close.tolist() == pytest.approx(
            [10.123456789012, 70.123456789012, 71.123456789012, 13.123456789012]
        )

    def test_prices_simulated_flag_is_kept_per_row(
        self, warehouse: Warehouse, other_warehouse: Warehouse
    ) -> None:
        warehouse.upsert_prices([bars("MSFT", n=5, simulated=True)])
        warehouse.upsert_prices([bars("MSFT", "2024-01-04", 3, 103.0)])
        other_warehouse.upsert_prices(
            [bars("MSFT", n=3, simulated=True), bars("MSFT", "2024-01-04", 3, 103.0)]
        )
        assert warehouse.checksums() == other_warehouse.checksums()
        assert warehouse.price_bars()["MSFT"].simulated
        np.testing.assert_array_equal(
            warehouse.price_bars(start=date(2024, 1, 2))["MSFT"].close,
            other_warehouse.price_bars(start=date(2024, 1, 2))["MSFT"].close,
        )
        assert not warehouse.price_bars(start=date(2024, 1, 4))["MSFT"].simulated
        warehouse.upsert_prices([bars("MSFT", n=3, simulated=False)])
        assert warehouse.checksums()["prices"] != other_warehouse.checksums()["prices"]

    def test_prices_upsert_is_idempotent(self, warehouse: Warehouse) -> None:
        batch = [bars("MSFT", n=30), bars("AAPL", n=20, step=2)]
        assert warehouse.upsert_prices(batch) == 50
        once = (warehouse.counts(), warehouse.checksums())
        assert warehouse.upsert_prices(batch) == 50
        assert (warehouse.counts(), warehouse.checksums()) == once
        assert warehouse.upsert_prices([]) == 0

    def test_prices_across_years_equal_the_rows_written(self, warehouse: Warehouse) -> None:
        """Whole-history reads (columnar blocks per symbol and year) match a row model."""
        batches = [
            [bars("MSFT", "2023-12-20", 30, simulated=True)],
            [bars("MSFT", "2023-12-30", 5, base=500.0)],
            [bars("AAPL", "2022-12-25", 400, step=2), bars("AAPL", "2023-06-01", 3, base=9.0)],
            [bars("IBM", "2024-12-31", 2, simulated=True)],
        ]
        model: dict[str, dict[date, tuple[float, ...]]] = {}
        for batch in batches:
            warehouse.upsert_prices(batch)
            for b in batch:
                rows = model.setdefault(b.symbol, {})
                for i, d in enumerate(b.dates.astype(object).tolist()):
                    fields = (b.open[i], b.high[i], b.low[i], b.close[i], b.volume[i])
                    rows[d] = (*(float(x) for x in fields), float(b.simulated))
        windows = [(None, None), (date(2023, 12, 31), date(2024, 1, 2)), (date(2023, 6, 2), None)]
        for start, end in windows:
            got = warehouse.price_bars(start=start, end=end)
            cm = warehouse.close_matrix(start=start, end=end)
            for symbol, rows in model.items():
                want = sorted(
                    (d, v)
                    for d, v in rows.items()
                    if (start is None or d >= start) and (end is None or d <= end)
                )
                if not want:
                    assert symbol not in got
                    continue
                b = got[symbol]
                assert b.dates.astype(object).tolist() == [d for d, _ in want]
                cols = np.array([v for _, v in want])
                for i, f in enumerate(("open", "high", "low", "close", "volume")):
                    np.testing.assert_array_equal(getattr(b, f), cols[:, i])
                assert b.simulated == bool(cols[:, 5].any())
                j = cm.symbols.index(symbol)
                column = dict(zip(cm.dates.astype(object).tolist(), cm.values[:, j], strict=True))
                assert [column[d] for d, _ in want] == cols[:, 3].tolist()
        assert warehouse.counts()["prices"] == sum(len(r) for r in model.values())

    def test_latest_days(self, warehouse: Warehouse) -> None:
        warehouse.upsert_prices([bars("MSFT", n=3), bars("AAPL", "2024-02-01", 2)])
        assert warehouse.latest_days() == {"AAPL": date(2024, 2, 2), "MSFT": date(2024, 1, 3)}

    # -- close matrix ------------------------------------------------------------------
    def test_close_matrix_aligns_with_nan_gaps(self, warehouse: Warehouse) -> None:
        warehouse.upsert_prices([bars("MSFT", n=4), bars("AAPL", "2024-01-02", 3, 50.0, step=2)])
        cm = warehouse.close_matrix()
        assert cm.symbols == ["AAPL", "MSFT"]
        assert cm.dates.astype(str).tolist() == [
            "2024-01-01",
            "2024-01-02",
            "2024-01-03",
            "2024-01-04",
            "2024-01-06",
        ]
        expected = np.array(
            [
                [np.nan, 100.123456789012],
                [50.123456789012, 101.123456789012],
                [np.nan, 102.123456789012],
                [51.123456789012, 103.123456789012],
                [52.123456789012, np.nan],
            ]
        )
        np.testing.assert_array_equal(cm.values, expected)

    def test_close_matrix_filtered(self, warehouse: Warehouse) -> None:
        warehouse.upsert_prices([bars("MSFT", n=6), bars("AAPL", n=6), bars("IBM", n=6)])
        cm = warehouse.close_matrix(["MSFT", "AAPL"], date(2024, 1, 2), date(2024, 1, 3))
        assert cm.symbols == ["AAPL", "MSFT"] and cm.values.shape == (2, 2)
        np.testing.assert_array_equal(cm.values[:, 1], [101.123456789012, 102.123456789012])

    # -- events ------------------------------------------------------------------------
    def test_events_ordered_and_filtered(self, warehouse: Warehouse) -> None:
        d1, d2, d3 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4)
        given = [
            event("MSFT", d2, "gap"),
            event("AAPL", d2, "jump"),
            event("AAPL", d2, "gap"),
            event("MSFT", d1, "volume_spike"),
            event("AAPL", d3, "jump"),
        ]
        assert warehouse.upsert_events(given) == 5
        keys = [(e.day, e.symbol, e.kind) for e in warehouse.events()]
        assert keys == sorted(keys)
        assert warehouse.events()[0] == given[3]
        assert [e.kind for e in warehouse.events(symbol="AAPL")] == ["gap", "jump", "jump"]
        assert len(warehouse.events(kinds=["jump"])) == 2
        assert [e.day for e in warehouse.events(start=d2, end=d2)] == [d2, d2, d2]
        assert [e.symbol for e in warehouse.events(limit=2)] == ["MSFT", "AAPL"]
        assert warehouse.events(symbol="AAPL", kinds=["gap"], start=d3) == []

    def test_events_replace_on_conflict(self, warehouse: Warehouse) -> None:
        warehouse.upsert_events([event("MSFT", date(2024, 1, 2), magnitude=0.05)])
        warehouse.upsert_events([event("MSFT", date(2024, 1, 2), magnitude=0.07)])
        (got,) = warehouse.events()
        assert got.magnitude == 0.07 and got.detail == {"z": 4.5, "ret": 0.07}

    # -- correlation edges -------------------------------------------------------------
    def test_correlation_edges_upsert_filter_and_remove(self, warehouse: Warehouse) -> None:
        given = [
            edge("MSFT", "ORCL"),
            edge("AAPL", "MSFT", 0.5),
            edge("AAPL", "MSFT", 0.4, "spearman"),
        ]
        assert warehouse.apply_correlation_edges(given) == 3
        assert [(e.a, e.b) for e in warehouse.correlation_edges()] == [
            ("AAPL", "MSFT"),
            ("AAPL", "MSFT"),
            ("MSFT", "ORCL"),
        ]
        assert warehouse.correlation_edges("spearman") == [given[2]]
        gone = replace(edge("AAPL", "MSFT", 0.0), removed=True)
        warehouse.apply_correlation_edges(
            [gone, edge("MSFT", "ORCL", 0.9), replace(edge("A", "B"), removed=True)]
        )
        assert [(e.a, e.method, e.rho) for e in warehouse.correlation_edges()] == [
            ("AAPL", "spearman", 0.4),
            ("MSFT", "pearson", 0.9),
        ]

    def test_correlation_edge_last_in_batch_wins(self, warehouse: Warehouse) -> None:
        e = edge("AAPL", "MSFT")
        gone = replace(e, removed=True)
        warehouse.apply_correlation_edges([e, gone])
        assert warehouse.correlation_edges() == []
        warehouse.apply_correlation_edges([gone, e])
        assert warehouse.correlation_edges() == [e]

    # -- risk, stats -------------------------------------------------------------------
    def test_risk_scores_largest_loss_first(self, warehouse: Warehouse) -> None:
        warehouse.upsert_risk_scores(
            [
                score("s1", "AAPL", 0.2),
                score("s1", "MSFT", 0.9, 0),
                score("s1", "IBM", 0.2),
                score("s2", "AAPL", 1.0),
            ]
        )
        assert [(s.symbol, s.loss) for s in warehouse.risk_scores("s1")] == [
            ("MSFT", 0.9),
            ("AAPL", 0.2),
            ("IBM", 0.2),
        ]
        assert warehouse.risk_scores("s1")[0].shocked
        warehouse.upsert_risk_scores([score("s1", "IBM", 0.95, 2)])
        assert [s.symbol for s in warehouse.risk_scores("s1")] == ["IBM", "MSFT", "AAPL"]
        assert warehouse.risk_scores("none") == []

    def test_symbol_stats_round_trip_with_nan(self, warehouse: Warehouse) -> None:
        given = [stats("MSFT"), stats("AAPL", ret_1d=float("nan"))]
        assert warehouse.upsert_symbol_stats(given) == 2
        got = warehouse.symbol_stats()
        assert [s.symbol for s in got] == ["AAPL", "MSFT"]
        assert np.isnan(got[0].ret_1d) and got[1] == given[0]
        warehouse.upsert_symbol_stats([stats("MSFT", last_close=99.0)])
        assert [s.last_close for s in warehouse.symbol_stats(["MSFT", "NOPE"])] == [99.0]

    # -- runs --------------------------------------------------------------------------
    def test_record_run_twice_updates_one_row(self, warehouse: Warehouse) -> None:
        warehouse.record_run(run("r1"))
        done = run("r1", status="success", finished=True)
        warehouse.record_run(done)
        assert warehouse.runs() == [done]
        assert warehouse.counts()["pipeline_runs"] == 1

    def test_runs_newest_first_filtered_and_limited(self, warehouse: Warehouse) -> None:
        for i, name in enumerate(["ingestion", "events", "ingestion", "risk"]):
            warehouse.record_run(run(f"r{i}", name, minutes=i))
        assert [r.run_id for r in warehouse.runs()] == ["r3", "r2", "r1", "r0"]
        assert [r.run_id for r in warehouse.runs("ingestion")] == ["r2", "r0"]
        assert [r.run_id for r in warehouse.runs(limit=2)] == ["r3", "r2"]

    def test_datetimes_round_trip_timezone_aware(self, warehouse: Warehouse) -> None:
        tokyo = timezone(timedelta(hours=9))
        started = datetime(2024, 3, 1, 18, 30, 15, 123456, tzinfo=tokyo)
        ended = started + timedelta(minutes=5)
        warehouse.record_run(replace(run("r1"), started_at=started, finished_at=ended))
        (got,) = warehouse.runs()
        assert got.started_at == started == T0.replace(second=15, microsecond=123456)
        assert got.started_at.tzinfo is not None and got.started_at.utcoffset() == timedelta(0)
        assert got.started_at.astimezone(UTC).hour == 9
        assert got.finished_at == ended and got.finished_at.utcoffset() == timedelta(0)

    def test_naive_datetime_is_rejected(self, warehouse: Warehouse) -> None:
        naive = replace(run("r1"), started_at=datetime(2024, 1, 1))  # noqa: DTZ001
        with pytest.raises(ValueError, match="naive"):
            warehouse.record_run(naive)
        assert warehouse.runs() == []

    # -- whole-warehouse operations ----------------------------------------------------
    def test_counts(self, warehouse: Warehouse) -> None:
        _fill(warehouse)
        warehouse.record_run(run("r1"))
        assert warehouse.counts() == {
            "companies": 3,
            "prices": 15,
            "market_events": 2,
            "correlation_edges": 2,
            "risk_scores": 2,
            "symbol_stats": 2,
            "pipeline_runs": 1,
        }

    def test_checksums_equal_whatever_the_insertion_order(
        self, warehouse: Warehouse, other_warehouse: Warehouse
    ) -> None:
        _fill(warehouse)
        _fill(other_warehouse, reverse=True)
        other_warehouse.upsert_prices([bars("MSFT", n=8)])
        sums = warehouse.checksums()
        assert set(sums) == DATA_TABLES
        assert sums == other_warehouse.checksums()
        other_warehouse.upsert_risk_scores([score("s1", "AAPL", 0.41)])
        changed = other_warehouse.checksums()
        assert {t for t in DATA_TABLES if changed[t] != sums[t]} == {"risk_scores"}

    def test_checksums_ignore_noise_below_ten_digits(
        self, warehouse: Warehouse, other_warehouse: Warehouse
    ) -> None:
        warehouse.upsert_risk_scores([score("s1", "AAPL", 0.123456789012)])
        other_warehouse.upsert_risk_scores([score("s1", "AAPL", 0.123456789012 * (1 + 1e-14))])
        assert warehouse.checksums() == other_warehouse.checksums()

    def test_extraction_cache_round_trip_and_replace(self, warehouse: Warehouse) -> None:
        assert warehouse.cached_extraction("k1") is None
        payload = {"candidates": [{"relation": "supplier_of", "confidence": 0.9}], "n": 1}
        warehouse.store_extraction(
            "k1", doc_id="a.md", company="AAPL", extractor="offline", payload=payload
        )
        assert warehouse.cached_extraction("k1") == payload
        warehouse.store_extraction(
            "k1", doc_id="a.md", company="AAPL", extractor="offline", payload={"n": 2}
        )
        assert warehouse.cached_extraction("k1") == {"n": 2}
        assert warehouse.cached_extraction("k2") is None

    def test_truncate_keeps_the_extraction_cache(self, warehouse: Warehouse) -> None:
        warehouse.store_extraction("k", doc_id="d", company="X", extractor="e", payload={"a": 1})
        warehouse.truncate()
        assert warehouse.cached_extraction("k") == {"a": 1}

    def test_truncate_empties_data_and_keeps_runs(self, warehouse: Warehouse) -> None:
        _fill(warehouse)
        warehouse.record_run(run("r1", finished=True, status="success"))
        filled = warehouse.checksums()
        warehouse.truncate()
        counts = warehouse.counts()
        assert counts.pop("pipeline_runs") == 1
        assert counts == dict.fromkeys(DATA_TABLES, 0)
        assert warehouse.runs()[0].run_id == "r1"
        assert all(warehouse.checksums()[t] != filled[t] for t in DATA_TABLES)
        _fill(warehouse)
        assert warehouse.checksums() == filled

    def test_reopen_sees_the_data(self, warehouse: Warehouse, tmp_path: Path) -> None:
        _fill(warehouse)
        settings = Settings(home=tmp_path / "home")
        if not self.supports_reopen:
            with open_backend("warehouse", warehouse.url, settings) as private:
                private.migrate()
                assert private.counts()["prices"] == 0
            return
        with open_backend("warehouse", warehouse.url, settings) as other:
            assert other.checksums() == warehouse.checksums()
            other.record_run(run("from-other"))
        assert [r.run_id for r in warehouse.runs()] == ["from-other"]
