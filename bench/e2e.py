"""End-to-end benchmark: the full demo on the embedded backends, then numerics on its data.

Run ``python bench/e2e.py [--universe all] [--years 5] [--json]`` (``make bench``).

1. ``axiom demo`` (``--stack``: on the local servers) in a subprocess on a fresh
   AXIOM_HOME: companies/min, time per stage
   (pipeline + consumers caught up), consumer busy time, peak RSS of the demo process and
   of its largest consumer process.
2. On the demo's own returns (read back from its warehouse): ``axiom.analytics.pearson``
   against ``np.corrcoef`` and ``pandas.DataFrame.corr``, timed in the same run, with the
   largest absolute difference.
3. DebtRank: one scenario on the demo's company graph, and 10,000 nodes / 200,000 edges.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from analytics import bench_debtrank
from axiom.analytics.correlations import pearson
from axiom.analytics.returns import log_returns
from axiom.pipelines.base import PipelineContext
from axiom.pipelines.risk import default_shocks, fetch_graph, propagate
from axiom.runtime import Runtime
from axiom.settings import Settings


def _best(fn: Any, repeat: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def run_demo(home: Path, universe: str, years: int, stack: bool) -> dict[str, Any]:
    """``axiom demo --json`` in a child process; wall time and children's peak RSS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AXIOM_")}
    env["AXIOM_HOME"] = str(home)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "axiom",
            "demo",
            "--universe",
            universe,
            "--years",
            str(years),
            "--json",
            *(["--stack"] if stack else []),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"demo failed: {proc.stderr[-2000:]}")
    summary = orjson.loads(proc.stdout)
    summary["wall_s"] = wall
    summary["children_peak_rss_mib"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return summary


def bench_correlations(rt: Runtime, window: int | None, repeat: int) -> dict[str, Any]:
    """pearson vs np.corrcoef vs pandas on the demo's complete return columns."""
    cm = rt.warehouse.close_matrix()
    rets = log_returns(cm.values)
    rets = rets[:, np.isfinite(rets).all(axis=0)]
    if window:
        rets = rets[-window:]
    ours_s, ours = _best(lambda: pearson(rets), repeat)
    np_s, ref = _best(lambda: np.corrcoef(rets, rowvar=False), repeat)
    pd_s, _ = _best(lambda: pd.DataFrame(rets).corr(), 1)
    return {
        "shape": list(rets.shape),
        "pearson_s": ours_s,
        "corrcoef_s": np_s,
        "pandas_s": pd_s,
        "vs_corrcoef": ours_s / np_s,
        "pandas_over_pearson": pd_s / ours_s,
        "max_abs_diff": float(np.abs(ours - ref).max()),
    }


def bench_graph_debtrank(rt: Runtime, repeat: int) -> dict[str, Any]:
    """DebtRank of the demo's default scenario on its own company graph."""
    ctx = PipelineContext(rt)
    build_s, graph = _best(lambda: fetch_graph(ctx), 1)
    shocks = default_shocks(graph)
    run_s, result = _best(lambda: propagate(graph, shocks), repeat)
    return {
        "nodes": graph.n,
        "impacts": int(graph.inbound.nnz),
        "build_s": build_s,
        "scenario_ms": run_s * 1e3,
        "rounds": len(result.rounds) - 1,
    }


def _print(r: dict[str, Any]) -> None:
    d = r["demo"]
    print(
        f"demo: {d['companies']:,} companies, {d['price_bars']:,} bars, "
        f"{d['events']['total']:,} events, {d['correlation_edges']:,} correlation edges"
    )
    print(
        f"  elapsed {d['elapsed_s']:.1f} s (process wall {d['wall_s']:.1f} s) -> "
        f"{d['companies_per_min']:,.0f} companies/min  [target >= {r['target_per_min']:,}]"
    )
    for stage, sec in d["stages"].items():
        print(f"  stage {stage:<14} {sec:7.2f} s")
    for name, c in d["consumers"].items():
        print(f"  consumer {name:<17} busy {c['seconds']:6.2f} s  records {c['records']:,}")
    print(
        f"  peak RSS: bench {r['peak_rss_mib']:.0f} MiB, largest child "
        f"{d['children_peak_rss_mib']:.0f} MiB"
    )
    for key in ("correlation_window", "correlation_full"):
        c = r[key]
        print(
            f"{key} {c['shape']}: pearson {c['pearson_s']:.3f} s, np.corrcoef "
            f"{c['corrcoef_s']:.3f} s (x{c['vs_corrcoef']:.2f}), pandas {c['pandas_s']:.3f} s "
            f"(pearson {c['pandas_over_pearson']:.0f}x faster), max diff {c['max_abs_diff']:.1e}"
        )
    g, s = r["debtrank_graph"], r["debtrank_10k"]
    print(
        f"debtrank on the demo graph ({g['nodes']} nodes, {g['impacts']} impacts): "
        f"{g['scenario_ms']:.2f} ms, {g['rounds']} rounds"
    )
    print(
        f"debtrank 10k nodes / 200k edges: median {s['median_ms']:.2f} ms, "
        f"max {s['max_ms']:.2f} ms  [target <= 50 ms]"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--universe", default="all")
    ap.add_argument("--years", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--stack", action="store_true", help="on the local servers (make services-up)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="axiom-bench-") as tmp:
        home = Path(tmp) / "home"
        result: dict[str, Any] = {"demo": run_demo(home, args.universe, args.years, args.stack)}
        settings = Settings(home=home)
        with Runtime(settings.with_stack() if args.stack else settings) as rt:
            result["correlation_window"] = bench_correlations(rt, 252, args.repeat)
            result["correlation_full"] = bench_correlations(rt, None, args.repeat)
            result["debtrank_graph"] = bench_graph_debtrank(rt, args.repeat)
    result["debtrank_10k"] = bench_debtrank(10_000, 200_000, 20)
    result["mode"] = "stack" if args.stack else "embedded"
    result["target_per_min"] = 5_000 if args.stack else 10_000
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["cpu_count"] = os.cpu_count()
    if args.json:
        print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    else:
        _print(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
