"""Warehouse bulk paths on SQLite: price upserts, price_bars and close_matrix.

Fills a fresh SQLite warehouse with a synthetic universe (default 1,800 symbols x 1,260
daily bars = 2.27 M rows) and prints, for each operation, the time, rows/s and the ratio
against a baseline measured in the same run:

* upsert_prices vs one-row ``executemany`` of ``INSERT ... ON CONFLICT`` on raw sqlite3;
* price_bars / close_matrix vs the portable SQLAlchemy Core path (``SqlWarehouse``) on the
  same file.

Wall and CPU time are both printed: on a shared machine the wall time grows with the load
of other processes, the CPU time does not (the load average is printed too). Peak RSS is
taken after the fast paths, before the baselines (which hold every row as Python objects).

Usage: ``python bench/warehouse.py [--symbols N] [--bars N] [--no-baseline]``.
Targets at full size: upsert <= 5 s, close_matrix <= 2 s, price_bars <= 3 s.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import chain, repeat
from pathlib import Path
from typing import TypeVar

import numpy as np

from axiom.domain.models import PriceBars
from axiom.stores.sql import SqlWarehouse
from axiom.stores.sqlite import SqliteWarehouse

T = TypeVar("T")


def make_universe(symbols: int, bars: int, seed: int = 7) -> list[PriceBars]:
    rng = np.random.default_rng(seed)
    dates = np.busday_offset("2020-01-01", np.arange(bars), roll="forward").astype("datetime64[D]")
    out = []
    for j in range(symbols):
        close = 50.0 * np.exp(np.cumsum(rng.normal(0.0, 0.02, bars)))
        open_ = close * np.exp(rng.normal(0.0, 0.005, bars))
        high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.01, bars))
        low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.01, bars))
        volume = rng.integers(1_000, 1_000_000, bars).astype(np.float64)
        out.append(PriceBars(f"S{j:05d}", dates, open_, high, low, close, volume, True))
    return out


@dataclass
class Timing:
    wall: float
    cpu: float


def timed(fn: Callable[[], T]) -> tuple[Timing, T]:
    """Wall and CPU seconds of ``fn()`` (CPU time is what a shared machine cannot inflate)."""
    w0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    return Timing(time.perf_counter() - w0, time.process_time() - c0), result


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def baseline_upsert(path: Path, universe: list[PriceBars], schema_from: SqliteWarehouse) -> Timing:
    """One row per statement through raw sqlite3 ``executemany``, same schema and pragmas."""
    assert schema_from.path is not None
    ddl = sqlite3.connect(schema_from.path).execute(
        "SELECT sql FROM sqlite_master WHERE name = 'prices'"
    )
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute(ddl.fetchone()[0])
    sql = (
        "INSERT INTO prices VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (symbol, day) DO UPDATE "
        "SET open = excluded.open, high = excluded.high, low = excluded.low, "
        "close = excluded.close, volume = excluded.volume, simulated = excluded.simulated"
    )

    def rows() -> chain[tuple[object, ...]]:
        return chain.from_iterable(
            zip(
                repeat(b.symbol),
                np.datetime_as_string(b.dates, unit="D").tolist(),
                b.open.tolist(),
                b.high.tolist(),
                b.low.tolist(),
                b.close.tolist(),
                b.volume.tolist(),
                repeat(1),
                strict=False,
            )
            for b in universe
        )

    def write() -> None:
        con.execute("BEGIN IMMEDIATE")
        con.executemany(sql, rows())
        con.execute("COMMIT")

    elapsed, _ = timed(write)
    con.close()
    return elapsed


def report(
    name: str, t: Timing, rows: int, base: Timing | None = None, target: float | None = None
) -> None:
    line = f"{name:<30} wall {t.wall:6.2f} s  cpu {t.cpu:6.2f} s  {rows / t.wall:>10,.0f} rows/s"
    if base is not None:
        line += f"  x{base.wall / t.wall:5.2f} vs baseline (wall {base.wall:.2f} s)"
    if target is not None:
        verdict = "ok" if t.wall <= target else ("ok on cpu" if t.cpu <= target else "MISSED")
        line += f"  target <= {target:.1f} s: {verdict}"
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=1800)
    parser.add_argument("--bars", type=int, default=1260)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    full = args.symbols * args.bars >= 2_000_000
    universe = make_universe(args.symbols, args.bars)
    n = sum(len(b) for b in universe)
    print(f"universe: {args.symbols} symbols x {args.bars} bars = {n:,} rows")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    with tempfile.TemporaryDirectory() as tmp:
        wh = SqliteWarehouse(Path(tmp) / "warehouse.db")
        t_first, _ = timed(wh.migrate)
        t_head, _ = timed(wh.migrate)
        print(f"migrate: fresh {t_first.wall * 1000:.0f} ms, at head {t_head.wall * 1000:.1f} ms")

        t_up, written = timed(lambda: wh.upsert_prices(universe))
        assert written == n
        t_re, _ = timed(lambda: wh.upsert_prices(universe))
        t_cm, cm = timed(wh.close_matrix)
        assert cm.values.shape == (args.bars, args.symbols)
        del cm
        t_pb, pb = timed(wh.price_bars)
        assert len(pb) == args.symbols
        del pb
        some = [b.symbol for b in universe[:: max(1, args.symbols // 50)]]
        t_sub, _ = timed(lambda: wh.price_bars(some))
        t_ck, _ = timed(wh.checksums)
        fast_rss = peak_rss_mib()

        base_up = base_cm = base_pb = None
        if not args.no_baseline:
            base_up = baseline_upsert(Path(tmp) / "baseline.db", universe, wh)
            portable = SqlWarehouse(wh.engine)
            base_cm = timed(portable.close_matrix)[0]
            base_pb = timed(portable.price_bars)[0]
        wh.close()

    print("fast paths (SqliteWarehouse); baselines: one-row executemany, portable SqlWarehouse")
    report("upsert_prices (fresh)", t_up, n, base_up, 5.0 if full else None)
    report("upsert_prices (all conflict)", t_re, n)
    report("close_matrix (all)", t_cm, n, base_cm, 2.0 if full else None)
    report("price_bars (all)", t_pb, n, base_pb, 3.0 if full else None)
    report(f"price_bars ({len(some)} symbols)", t_sub, len(some) * args.bars)
    report("checksums (all tables)", t_ck, n)
    print(f"peak RSS: {fast_rss:,.0f} MiB after the fast paths, {peak_rss_mib():,.0f} MiB overall")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
