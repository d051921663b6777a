"""Warehouse bulk paths on PostgreSQL: the price writer against raw COPY, and the readers.

Runs on the local server (``deploy/local/postgres.sh start``) in a schema of its own,
dropped at the end. A synthetic universe (default 1,800 symbols x 1,260 daily bars =
2.27 M rows) is written and read back; every figure is printed with wall and CPU time.

Writer (``PostgresWarehouse.upsert_prices``, the warehouse consumer's path):

* on an empty table (binary COPY straight into ``prices``, keys are new);
* again with the same rows (a redelivered batch: staged COPY + upsert, nothing changes);
* again with every close changed (staged COPY + upsert rewriting every row).

Baselines measured in the same run, each on a fresh table: raw binary ``COPY`` of the same
rows (a) as a client writes it with psycopg's ``Copy.write_row`` from the arrays and (b) from
payload bytes encoded beforehand (the server's ingest ceiling, no client work timed), each
into a table with the columns and the primary key of ``prices`` (what any writer of that
table pays), and into a plain table without the key (what the key itself costs). The target
is writer >= 50 % of raw COPY rows/s; it is checked against the faster of the keyed raw
COPYs (the same rows into the same kind of table), and the ratios against the plain table
are printed next to it.

Readers: close_matrix, price_bars (all and 50 symbols), checksums; the portable
SQLAlchemy Core path (``SqlWarehouse`` on the same engine) is the baseline. Peak RSS is
taken after the fast paths, before the portable baselines. On a shared machine wall times
grow with the load of other processes (the load average is printed).

Usage: ``python bench/warehouse_postgres.py [--url URL] [--symbols N] [--bars N]
[--no-baseline]``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from itertools import repeat
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from axiom.domain.models import PriceBars
from axiom.settings import STACK_DEFAULTS
from axiom.stores.postgres import PostgresWarehouse
from axiom.stores.postgres_copy import PriceRows
from axiom.stores.sql import SqlWarehouse
from warehouse import make_universe

T = TypeVar("T")

_PLAIN = (
    "CREATE TABLE {name} (symbol varchar(64) NOT NULL, day date NOT NULL, "
    "open double precision NOT NULL, high double precision NOT NULL, "
    "low double precision NOT NULL, close double precision NOT NULL, "
    "volume double precision NOT NULL, simulated boolean NOT NULL)"
)
_TYPES = ["text", "date", "float8", "float8", "float8", "float8", "float8", "bool"]


@dataclass
class Timing:
    wall: float
    cpu: float


def timed(fn: Callable[[], T]) -> tuple[Timing, T]:
    w0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    return Timing(time.perf_counter() - w0, time.process_time() - c0), result


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def phase(fn: Callable[[], T]) -> tuple[Timing, T, float, float]:
    """Timing, result, RSS before and peak RSS during ``fn`` (MiB; Linux resets the peak)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    before = _status_mib("VmRSS")
    t, result = timed(fn)
    return t, result, before, _status_mib("VmHWM")


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def report(name: str, t: Timing, rows: int, extra: str = "") -> None:
    print(
        f"{name:<34} wall {t.wall:6.2f} s  cpu {t.cpu:6.2f} s  {rows / t.wall:>10,.0f} rows/s"
        + (f"  {extra}" if extra else ""),
        flush=True,
    )


def raw_copy_write_row(
    conn: psycopg.Connection[Any], table: str, universe: list[PriceBars]
) -> None:
    """Raw COPY as a client writes it: psycopg binary ``write_row`` from the arrays."""
    with (
        conn.transaction(),
        conn.cursor() as cur,
        cur.copy(f"COPY {table} FROM STDIN (FORMAT binary)") as copy,
    ):
        copy.set_types(_TYPES)
        for b in universe:
            days = b.dates.astype("datetime64[D]").astype(object).tolist()
            cols = (b.open, b.high, b.low, b.close, b.volume)
            for row in zip(
                repeat(b.symbol),
                days,
                *(c.tolist() for c in cols),
                repeat(b.simulated),
                strict=False,
            ):
                copy.write_row(row)


def raw_copy_bytes(conn: psycopg.Connection[Any], table: str, payload: list[bytes]) -> None:
    """Raw COPY of a binary payload encoded beforehand (server ingest only)."""
    with (
        conn.transaction(),
        conn.cursor() as cur,
        cur.copy(f"COPY {table} FROM STDIN (FORMAT binary)") as copy,
    ):
        for chunk in payload:
            copy.write(chunk)


def _runs(first: Timing, second: Timing) -> str:
    return f"(best of {first.wall:.2f} s before, {second.wall:.2f} s after the writer)"


def changed(universe: list[PriceBars]) -> list[PriceBars]:
    """Every bar's prices 1 % higher (a full rewrite of every row)."""
    return [
        replace(b, open=b.open * 1.01, high=b.high * 1.01, low=b.low * 1.01, close=b.close * 1.01)
        for b in universe
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=STACK_DEFAULTS["warehouse"])
    parser.add_argument("--symbols", type=int, default=1800)
    parser.add_argument("--bars", type=int, default=1260)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    universe = make_universe(args.symbols, args.bars)
    n = sum(len(b) for b in universe)
    print(f"universe: {args.symbols} symbols x {args.bars} bars = {n:,} rows")
    print(f"load average before: {load()}")

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = psycopg.connect(args.url, autocommit=True, connect_timeout=5)
    admin.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in args.url else "?"
    url = f"{args.url}{sep}options={quote(f'-csearch_path={schema}')}"
    raw = psycopg.connect(url, autocommit=True, connect_timeout=5)
    rss: list[tuple[str, float, float]] = []
    try:
        wh = PostgresWarehouse(url)
        t_mig, _ = timed(wh.migrate)
        t_head, _ = timed(wh.migrate)
        print(f"migrate: fresh {t_mig.wall * 1000:.0f} ms, at head {t_head.wall * 1000:.1f} ms")
        for name in ("plain_a", "plain_b1", "plain_b2", "keyed_a", "keyed_b1", "keyed_b2"):
            raw.execute(_PLAIN.format(name=name))
            if name.startswith("keyed"):
                raw.execute(f"ALTER TABLE {name} ADD PRIMARY KEY (symbol, day)")

        # Raw COPYs before and after the writer, so a change of load shows up in both.
        payload = list(PriceRows.from_bars(universe).copy_chunks())
        t_plain_b1, _ = timed(partial(raw_copy_bytes, raw, "plain_b1", payload))
        t_keyed_b1, _ = timed(partial(raw_copy_bytes, raw, "keyed_b1", payload))
        t_plain_a, _ = timed(partial(raw_copy_write_row, raw, "plain_a", universe))
        t_keyed_a, _ = timed(partial(raw_copy_write_row, raw, "keyed_a", universe))
        t_empty, written, before, peak = phase(partial(wh.upsert_prices, universe))
        rss.append(("upsert_prices (empty table)", before, peak))
        assert written == n and wh.counts()["prices"] == n
        t_plain_b2, _ = timed(partial(raw_copy_bytes, raw, "plain_b2", payload))
        t_keyed_b2, _ = timed(partial(raw_copy_bytes, raw, "keyed_b2", payload))
        del payload
        t_same, _, before, peak = phase(lambda: wh.upsert_prices(universe))
        rss.append(("upsert_prices (full, same rows)", before, peak))
        t_changed, _, before, peak = phase(partial(wh.upsert_prices, changed(universe)))
        rss.append(("upsert_prices (full, all changed)", before, peak))

        t_cm, cm, before, peak = phase(wh.close_matrix)
        rss.append(("close_matrix (all)", before, peak))
        assert cm.values.shape == (args.bars, args.symbols)
        del cm
        t_pb, pb, before, peak = phase(wh.price_bars)
        rss.append(("price_bars (all)", before, peak))
        assert len(pb) == args.symbols
        del pb
        some = [b.symbol for b in universe[:: max(1, args.symbols // 50)]]
        t_sub, _ = timed(lambda: wh.price_bars(some))
        t_ck, _ = timed(wh.checksums)
        fast_rss = peak_rss_mib()

        base_cm = base_pb = None
        if not args.no_baseline:
            portable = SqlWarehouse(wh.engine)
            base_cm = timed(portable.close_matrix)[0]
            base_pb = timed(portable.price_bars)[0]
        wh.close()
    finally:
        raw.close()
        admin.execute(f'DROP SCHEMA "{schema}" CASCADE')
        admin.close()

    def best(a: Timing, b: Timing) -> Timing:
        return min(a, b, key=lambda t: t.wall)

    print("baselines: raw binary COPY of the same rows into a fresh table")
    print("  with the primary key of prices (symbol, day):")
    report("  (a) psycopg write_row", t_keyed_a, n)
    report(
        "  (b) pre-encoded bytes", best(t_keyed_b1, t_keyed_b2), n, _runs(t_keyed_b1, t_keyed_b2)
    )
    print("  without the key (a plain table; the gap to the above is the key's cost):")
    report("  (a) psycopg write_row", t_plain_a, n)
    report(
        "  (b) pre-encoded bytes", best(t_plain_b1, t_plain_b2), n, _runs(t_plain_b1, t_plain_b2)
    )
    keyed = n / min(t_keyed_a.wall, t_keyed_b1.wall, t_keyed_b2.wall)
    plain = n / min(t_plain_a.wall, t_plain_b1.wall, t_plain_b2.wall)
    print("writer: PostgresWarehouse.upsert_prices (one transaction, all rows)")
    for name, t in (
        ("upsert_prices (empty table)", t_empty),
        ("upsert_prices (full, same rows)", t_same),
        ("upsert_prices (full, all changed)", t_changed),
    ):
        rate = n / t.wall
        report(name, t, n, f"{rate / keyed:5.0%} of keyed COPY  {rate / plain:5.0%} of plain COPY")
    ratio = n / t_empty.wall / keyed
    print(
        f"target writer (empty table) >= 50 % of raw COPY into a keyed table: {ratio:.0%} "
        f"{'ok' if ratio >= 0.5 else 'MISSED'}; of raw COPY into a plain table: "
        f"{n / t_empty.wall / plain:.0%}"
    )
    print("readers (baseline: portable SqlWarehouse on the same engine)")
    for name, t, base in (
        ("close_matrix (all)", t_cm, base_cm),
        ("price_bars (all)", t_pb, base_pb),
    ):
        extra = f"x{base.wall / t.wall:5.2f} vs portable ({base.wall:.2f} s)" if base else ""
        report(name, t, n, extra)
    report(f"price_bars ({len(some)} symbols)", t_sub, len(some) * args.bars)
    report("checksums (all tables)", t_ck, n)
    print("client RSS per phase (MiB): before -> peak during")
    for name, before, peak in rss:
        print(f"  {name:<34} {before:7,.0f} -> {peak:7,.0f}  (+{peak - before:,.0f})")
    print(f"peak RSS: {fast_rss:,.0f} MiB after the fast paths, {peak_rss_mib():,.0f} MiB overall")
    print(f"load average after: {load()}")


if __name__ == "__main__":
    main()
