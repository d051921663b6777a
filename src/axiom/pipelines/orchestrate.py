"""Run pipelines with their consumers: the in-process orchestration used by the CLI.

``run_all`` runs the catalog in order and, after each pipeline, waits until every
consumer caught up, because the next pipeline reads what the consumers wrote. Airflow
(a later layer) does the same with sensors; this is the laptop path.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from axiom.consumers.fleet import ConsumerFleet
from axiom.consumers.runner import RunnerStats
from axiom.pipelines.base import PipelineContext, PipelineResult
from axiom.pipelines.catalog import CATALOG, run_pipeline
from axiom.registry import scheme_of
from axiom.settings import Settings

#: Files and folders of the embedded backends under AXIOM_HOME.
EMBEDDED_STATE = ("bus.db", "warehouse.db", "graph.db", "chroma")


@dataclass(slots=True)
class OrchestrationResult:
    """Every pipeline result, the consumers' stats and the stage timings."""

    results: list[PipelineResult] = field(default_factory=list)
    consumers: dict[str, RunnerStats] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0


def reset_embedded_state(settings: Settings) -> list[str]:
    """Delete the embedded backends' files under AXIOM_HOME (fresh demo); returns what went.

    Only files of backends whose URL is embedded are touched; server backends are left
    alone (resetting those is their adapters' business).
    """
    home = settings.home_dir
    embedded = {
        "bus.db": scheme_of(settings.bus) == "embedded",
        "warehouse.db": not settings.warehouse,
        "graph.db": scheme_of(settings.graph) == "embedded",
        "chroma": scheme_of(settings.vectors) == "embedded",
    }
    removed = []
    for name in EMBEDDED_STATE:
        path = home / name
        if not embedded[name] or not path.exists():
            continue
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
            for suffix in ("-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
        removed.append(name)
    return removed


def run_with_consumers(
    ctx: PipelineContext,
    names: Sequence[str],
    *,
    on_stage: Callable[[str, str], None] | None = None,
    wait_timeout_s: float = 1800.0,
) -> OrchestrationResult:
    """Run ``names`` in order with every consumer running; wait for them after each."""
    out = OrchestrationResult()
    t0 = time.perf_counter()
    fleet = ConsumerFleet(ctx.runtime.settings).start()
    try:
        for name in names:
            if on_stage:
                on_stage(name, "run")
            ts = time.perf_counter()
            out.results.append(run_pipeline(name, ctx))
            if on_stage:
                on_stage(name, "consume")
            fleet.wait_caught_up(wait_timeout_s)
            out.stage_seconds[name] = time.perf_counter() - ts
    finally:
        out.consumers = fleet.stop()
    out.elapsed_s = time.perf_counter() - t0
    return out


def run_all(ctx: PipelineContext, **kwargs: object) -> OrchestrationResult:
    """The whole catalog in order (``axiom demo``)."""
    return run_with_consumers(ctx, [p.name for p in CATALOG], **kwargs)  # type: ignore[arg-type]
