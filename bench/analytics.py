"""Benchmark of axiom.analytics against baselines measured in the same run.

    python bench/analytics.py            # readable table
    python bench/analytics.py --json     # one JSON object on stdout

Measures: Pearson matrix vs np.corrcoef vs pandas DataFrame.corr on the same 5000 x 1260
returns; Ledoit-Wolf; DebtRank on 10k nodes / 200k edges (median of 20 scenarios);
detect_all on 1800 symbols x 1260 days; peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from axiom.analytics import (
    EventConfig,
    ImpactGraph,
    PricePanel,
    debtrank,
    detect_all,
    ledoit_wolf,
    pearson,
)

PANDAS_FULL_LIMIT_S = 60.0


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[list[float], Any]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def _factor_returns(t: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    market = rng.normal(0, 0.01, (t, 1))
    sectors = rng.normal(0, 0.01, (t, 11))[:, rng.integers(0, 11, n)]
    return market * rng.uniform(0.5, 1.5, n) + sectors + rng.normal(0, 0.015, (t, n))


def bench_correlation(n: int, t: int, repeat: int, pandas_mode: str) -> dict[str, Any]:
    x = _factor_returns(t, n, seed=1)
    corrcoef_t: list[float] = []
    pearson_t: list[float] = []
    for _ in range(repeat):  # interleaved so both see the same machine load
        dt, ref = _timed(lambda: np.corrcoef(x, rowvar=False), 1)
        corrcoef_t += dt
        dt, ours = _timed(lambda: pearson(x), 1)
        pearson_t += dt
    max_diff = float(np.max(np.abs(ours - ref)))
    symmetric = bool(np.array_equal(ours, ours.T))
    del ref, ours

    lw_t, (_, shrinkage) = _timed(lambda: ledoit_wolf(x), max(2, repeat // 2))

    holes = x.copy()
    holes[np.random.default_rng(2).random(holes.shape) < 0.01] = np.nan
    pairwise_t, _ = _timed(lambda: pearson(holes), 1)

    pandas = _bench_pandas(x, pandas_mode)
    best_np, best_ours = min(corrcoef_t), min(pearson_t)
    med_np, med_ours = statistics.median(corrcoef_t), statistics.median(pearson_t)
    return {
        "shape": [t, n],
        "repeat": repeat,
        "np_corrcoef_s": {"min": best_np, "median": med_np},
        "pearson_s": {"min": best_ours, "median": med_ours},
        "pearson_over_corrcoef": {"min": best_ours / best_np, "median": med_ours / med_np},
        "pearson_max_abs_diff_vs_corrcoef": max_diff,
        "pearson_exactly_symmetric": symmetric,
        "pearson_pairwise_1pct_nan_s": pairwise_t[0],
        "ledoit_wolf_s": {"min": min(lw_t), "median": statistics.median(lw_t)},
        "ledoit_wolf_shrinkage": shrinkage,
        "pandas": pandas,
        "pandas_over_pearson": pandas["full_s"] / best_ours,
    }


def _bench_pandas(x: np.ndarray, mode: str) -> dict[str, Any]:
    n = x.shape[1]
    sub = min(n, 1000)
    frame = pd.DataFrame(x[:, :sub])
    (sub_s,), _ = _timed(frame.corr, 1)
    estimate = sub_s * (n / sub) ** 2  # pairwise O(N^2 T) algorithm
    out: dict[str, Any] = {"subset_columns": sub, "subset_s": sub_s, "estimate_full_s": estimate}
    if mode == "full" or (mode == "auto" and estimate < PANDAS_FULL_LIMIT_S):
        (full_s,), _ = _timed(pd.DataFrame(x).corr, 1)
        out.update(full_s=full_s, full_measured=True)
    else:
        out.update(full_s=estimate, full_measured=False)
    return out


def bench_debtrank(n: int, m: int, scenarios: int) -> dict[str, Any]:
    rng = np.random.default_rng(3)
    types = rng.choice(["supplier", "customer", "competitor", "peer", "correlated"], m)
    tw = {"supplier": 0.6, "customer": 0.4, "competitor": 0.1, "peer": 0.2, "correlated": 0.1}
    (build_s,), graph = _timed(
        lambda: ImpactGraph.from_edges(
            [f"company:{i}" for i in range(n)],
            rng.integers(0, n, m),
            rng.integers(0, n, m),
            rng.uniform(0, 0.3, m),
            types,
            tw,
            value=rng.lognormal(0, 1.5, n),
        ),
        1,
    )
    times: list[float] = []
    rounds: list[int] = []
    ranks: list[float] = []
    for _ in range(scenarios):
        shocks = {int(i): 1.0 for i in rng.choice(n, 10, replace=False)}
        t0 = time.perf_counter()
        res = debtrank(graph, shocks)
        times.append(time.perf_counter() - t0)
        rounds.append(len(res.rounds) - 1)
        ranks.append(res.debtrank)
    return {
        "nodes": n,
        "edges": m,
        "impact_nnz": int(graph.inbound.nnz),
        "build_s": build_s,
        "scenarios": scenarios,
        "median_ms": statistics.median(times) * 1e3,
        "max_ms": max(times) * 1e3,
        "median_rounds": statistics.median(rounds),
        "median_debtrank": statistics.median(ranks),
    }


def _simulated_panel(n: int, t: int, seed: int) -> PricePanel:
    """GARCH(1,1), Student-t(5) shocks, planted jumps: the detectors' design case."""
    rng = np.random.default_rng(seed)
    long_run = rng.uniform(0.01, 0.03, n) ** 2
    shocks = rng.standard_t(5, (t, n)) / np.sqrt(5 / 3)
    s2, eps, sig = long_run.copy(), np.zeros((t, n)), np.zeros((t, n))
    for i in range(1, t):
        sig[i] = np.sqrt(s2)
        eps[i] = sig[i] * shocks[i]
        s2 = long_run * 0.02 + 0.08 * eps[i] ** 2 + 0.90 * s2
    planted = rng.random((t, n)) < 1 / 252
    jump = np.where(planted, rng.uniform(10, 20, (t, n)) * rng.choice([-1, 1], (t, n)) * sig, 0)
    close = 50 * np.exp(np.cumsum(eps + jump, axis=0))
    open_ = np.vstack([close[:1], close[:-1]]) * np.exp(0.3 * eps + jump)
    close[rng.random((t, n)) < 0.002] = np.nan  # a few missing bars
    return PricePanel(
        symbols=tuple(f"SYM{j:04d}" for j in range(n)),
        dates=np.datetime64("2020-01-01", "D") + np.arange(t),
        open=open_,
        high=np.fmax(open_, close) * 1.005,
        low=np.fmin(open_, close) * 0.995,
        close=close,
        volume=rng.lognormal(13, 0.4, (t, n)) * np.where(planted, 5.0, 1.0),
        simulated=True,
    )


def bench_events(n: int, t: int, repeat: int) -> dict[str, Any]:
    panel = _simulated_panel(n, t, seed=4)
    times: list[float] = []
    cpu: list[float] = []
    events: list[Any] = []
    for _ in range(repeat):
        del events  # free the previous run's objects outside the timed region
        c0, t0 = time.process_time(), time.perf_counter()
        events = detect_all(panel, EventConfig())
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    kinds: dict[str, int] = {}
    for e in events:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    return {
        "shape": [t, n],
        "seconds": {"min": min(times), "median": statistics.median(times)},
        "cpu_seconds": {"min": min(cpu), "median": statistics.median(cpu)},
        "events": len(events),
        "by_kind": dict(sorted(kinds.items())),
    }


def _environment() -> dict[str, Any]:
    blas = np.__config__.CONFIG.get("Build Dependencies", {}).get("blas", {})
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "blas": f"{blas.get('name', '?')} {blas.get('version', '')}".strip(),
        "cpus": os.cpu_count(),
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE"),
        "load_average": list(os.getloadavg()),
    }


def _table(r: dict[str, Any]) -> str:
    c, d, e, p = r["correlation"], r["debtrank"], r["events"], r["correlation"]["pandas"]
    t, n = c["shape"]
    pandas_note = (
        "measured on the full matrix"
        if p["full_measured"]
        else f"NOT measured in full: extrapolated from {p['subset_columns']} columns x (N/n)^2"
    )
    rows = [
        (f"np.corrcoef {t}x{n} (s, min/median)", _pair(c["np_corrcoef_s"])),
        (f"pearson {t}x{n} (s, min/median)", _pair(c["pearson_s"])),
        ("pearson / np.corrcoef (min/median)", _pair(c["pearson_over_corrcoef"], "{:.3f}")),
        ("max |pearson - corrcoef|", f"{c['pearson_max_abs_diff_vs_corrcoef']:.2e}"),
        ("pearson exactly symmetric", str(c["pearson_exactly_symmetric"])),
        (f"pandas .corr on {p['subset_columns']} columns (s)", f"{p['subset_s']:.2f}"),
        (f"pandas .corr {t}x{n} (s)", f"{p['full_s']:.1f}  ({pandas_note})"),
        ("pandas / pearson", f"{c['pandas_over_pearson']:.0f}x"),
        ("pearson, 1% NaN, pairwise (s)", f"{c['pearson_pairwise_1pct_nan_s']:.3f}"),
        ("ledoit_wolf (s, min/median)", _pair(c["ledoit_wolf_s"])),
        ("ledoit_wolf shrinkage", f"{c['ledoit_wolf_shrinkage']:.4f}"),
        (f"DebtRank {d['nodes']} nodes / {d['edges']} edges: build (s)", f"{d['build_s']:.3f}"),
        (
            f"DebtRank median / max over {d['scenarios']} scenarios (ms)",
            f"{d['median_ms']:.2f} / {d['max_ms']:.2f}",
        ),
        ("DebtRank median rounds", f"{d['median_rounds']}"),
        (f"detect_all {e['shape'][1]} x {e['shape'][0]} (s, min/median)", _pair(e["seconds"])),
        ("detect_all CPU time (s, min/median)", _pair(e["cpu_seconds"])),
        ("events found", f"{e['events']}  {e['by_kind']}"),
        ("peak RSS (MB)", f"{r['peak_rss_mb']:.0f}"),
    ]
    width = max(len(k) for k, _ in rows)
    env = r["environment"]
    head = (
        f"axiom.analytics benchmark | numpy {env['numpy']} ({env['blas']}), pandas "
        f"{env['pandas']}, {env['cpus']} cpus, OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']}, "
        f"load {env['load_average'][0]:.2f}"
    )
    return "\n".join([head, "-" * len(head)] + [f"{k:<{width}}  {v}" for k, v in rows])


def _pair(v: dict[str, float], fmt: str = "{:.3f}") -> str:
    return f"{fmt.format(v['min'])} / {fmt.format(v['median'])}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--repeat", type=int, default=5, help="timing repeats (default 5)")
    ap.add_argument(
        "--pandas",
        choices=("auto", "full", "subset"),
        default="auto",
        help=f"auto: full matrix if the estimate is < {PANDAS_FULL_LIMIT_S:.0f} s",
    )
    args = ap.parse_args(argv)
    result: dict[str, Any] = {}
    result["correlation"] = bench_correlation(5000, 1260, args.repeat, args.pandas)
    result["debtrank"] = bench_debtrank(10_000, 200_000, 20)
    result["events"] = bench_events(1800, 1260, args.repeat)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["environment"] = _environment()  # load average over the run, not before it
    print(json.dumps(result) if args.json else _table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
