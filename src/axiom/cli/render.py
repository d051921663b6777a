"""Rich rendering: progress bars for long work and the demo summary."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from axiom.pipelines.base import NullProgress, TaskProgress
from axiom.pipelines.base import Progress as ProgressPort


class _RichTask:
    def __init__(self, progress: Progress, task_id: Any) -> None:
        self._progress = progress
        self._id = task_id

    def advance(self, n: int = 1) -> None:
        self._progress.advance(self._id, n)


class RichProgress:
    """The pipelines' Progress port drawn as rich progress bars on stderr."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress

    def task(self, description: str, total: int | None) -> TaskProgress:
        """A new bar."""
        return _RichTask(self.progress, self.progress.add_task(description, total=total))


@contextmanager
def progress_bars(console: Console, enabled: bool) -> Iterator[ProgressPort]:
    """Rich bars while the block runs (nothing when ``enabled`` is False, e.g. --json)."""
    if not enabled:
        yield NullProgress()
        return
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        yield RichProgress(progress)


def _by(mapping: Mapping[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in sorted(mapping.items(), key=lambda kv: -kv[1]))


def summary_tables(s: Mapping[str, Any]) -> list[Table]:
    """The demo summary as rich tables (the --json object holds the same figures)."""
    head = Table(
        title="Axiom demo" + (" (simulated market data)" if s["simulated"] else ""),
        show_header=False,
        title_justify="left",
    )
    head.add_column(style="bold")
    head.add_column()
    head.add_row("universe", f"{s['universe']} — {s['companies']:,} companies")
    head.add_row("price bars", f"{s['price_bars']:,}")
    head.add_row("market events", f"{s['events']['total']:,} ({_by(s['events']['by_kind'])})")
    head.add_row("correlation edges", f"{s['correlation_edges']:,}")
    g = s["graph"]
    head.add_row("graph nodes", f"{g['nodes']:,} ({_by(g['nodes_by_label'])})")
    head.add_row(
        "graph relationships", f"{g['relationships']:,} ({_by(g['relationships_by_type'])})"
    )
    head.add_row("elapsed", f"{s['elapsed_s']:.1f} s — {s['companies_per_min']:,.0f} companies/min")
    stages = Table(title="time per stage (pipeline + consumers caught up)", title_justify="left")
    stages.add_column("stage")
    stages.add_column("seconds", justify="right")
    for name, sec in s["stages"].items():
        stages.add_row(name, f"{sec:.2f}")
    risk = s["risk"]
    shocks = ", ".join(f"{k} {v:+.0%}" for k, v in risk["shocks"].items())
    top = Table(
        title=f"risk scenario: {shocks} — DebtRank {risk['debtrank']:.4f}, {risk['rounds']} rounds",
        title_justify="left",
    )
    for col in ("symbol", "company", "loss", "round"):
        top.add_column(col, justify="right" if col in ("loss", "round") else "left")
    for row in risk["top"]:
        top.add_row(row["symbol"], row["name"], f"{row['loss']:.3f}", str(row["round"]))
    return [head, stages, top]
