"""Run pipelines with their consumers: the in-process orchestration used by the CLI.

The catalog's dependencies split the run in waves (``ingestion``, then
``company_graph``/``events``/``correlations``, then ``risk``). The pipelines of a wave run
one after another (:func:`start_order`), each with its own runtime, while the consumers
(their own processes) work on what the earlier ones published. Before a wave starts, the consumers
writing the stores it reads must have caught up; at the end every consumer must have.
Airflow (a later layer) does the same with sensors; this is the laptop path.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from axiom.bus.base import TopicPartition
from axiom.consumers.fleet import ConsumerFleet
from axiom.consumers.registry import CONSUMER_NAMES, sink_port, sink_topics
from axiom.consumers.runner import RunnerStats
from axiom.pipelines.base import PipelineContext, PipelineResult
from axiom.pipelines.catalog import CATALOG, PIPELINES, levels, run_pipeline
from axiom.registry import scheme_of
from axiom.runtime import Runtime
from axiom.settings import Settings

#: Files and folders of the embedded backends under AXIOM_HOME.
EMBEDDED_STATE = ("bus.db", "warehouse.db", "graph.db", "chroma")


@dataclass(slots=True)
class OrchestrationResult:
    """Every pipeline result, the consumers' stats and the stage timings.

    ``stage_seconds`` holds each pipeline's own run time and, per wave, the time spent
    waiting for the consumers afterwards (``catch-up <wave>``).
    """

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


def reset_for_demo(settings: Settings) -> None:
    """Give the demo a fresh start on whatever backends the settings name.

    Embedded backends lose their files. Server backends keep their history but not their
    content: the warehouse is truncated (run records stay), the graph, vector index and
    cache are cleared, and every consumer group is moved to the end of its topics, so the
    consumers see only what this demo publishes.
    """
    reset_embedded_state(settings)
    with Runtime(settings) as rt:
        if scheme_of(settings.warehouse_url) != "sqlite":
            rt.warehouse.truncate()
        if scheme_of(settings.graph) != "embedded":
            rt.graph.clear()
        if scheme_of(settings.vectors) != "embedded":
            rt.vectors.reset()
        rt.cache.clear()
        if scheme_of(settings.bus) != "embedded":
            bus = rt.bus
            for name in CONSUMER_NAMES:
                ends = {
                    TopicPartition(t, p): end
                    for t in sink_topics(name)
                    for p, end in bus.end_offsets(t).items()
                }
                bus.commit_offsets(name, ends)


def _run_one(ctx: PipelineContext, name: str) -> PipelineResult:
    """Run ``name`` on its own runtime (own connections), as a separate task would.

    Each pipeline gets its own run id (``<orchestration id>-<pipeline>``), so every run
    keeps its own ``pipeline_runs`` row.
    """
    with Runtime(ctx.runtime.settings) as rt:
        return run_pipeline(name, replace(ctx, runtime=rt, run_id=f"{ctx.run_id}-{name}"))


def start_order(wave: Sequence[str]) -> list[str]:
    """The pipelines of a wave, those feeding the most consumer groups first.

    A wave's pipelines run one after another: in one process they share one interpreter
    lock, so running them side by side only makes each finish later, and the consumers
    of the first one start later. The pipeline with the most downstream work goes first
    (ties: catalog order), so its consumers overlap with the rest of the wave.
    """
    rank = {spec.name: i for i, spec in enumerate(CATALOG)}

    def fanout(name: str) -> int:
        topics = set(PIPELINES[name].publishes)
        return sum(1 for c in CONSUMER_NAMES if topics & set(sink_topics(c)))

    return sorted(wave, key=lambda n: (-fanout(n), rank[n]))


def run_with_consumers(
    ctx: PipelineContext,
    names: Sequence[str],
    *,
    on_stage: Callable[[str, str], None] | None = None,
    wait_timeout_s: float = 1800.0,
) -> OrchestrationResult:
    """Run ``names`` wave by wave with every consumer running; all caught up at the end."""
    out = OrchestrationResult()
    t0 = time.perf_counter()
    for name in names:  # import every pipeline here: concurrent first imports can break
        PIPELINES[name].runner()
    fleet = ConsumerFleet(ctx.runtime.settings).start()
    try:
        for i, wave in enumerate(levels(names)):
            reads = {port for n in wave for port in PIPELINES[n].reads}
            groups = [c for c in CONSUMER_NAMES if sink_port(c) in reads]
            ts = time.perf_counter()
            fleet.wait_caught_up(wait_timeout_s, groups=groups)
            if i:
                out.stage_seconds[f"catch-up before wave {i + 1}"] = time.perf_counter() - ts
            for name in wave:
                if on_stage:
                    on_stage(name, "run")
            results = [_run_one(ctx, n) for n in start_order(wave)]
            for r in results:
                out.results.append(r)
                out.stage_seconds[r.pipeline] = r.duration_s
                if on_stage:
                    on_stage(r.pipeline, "done")
        ts = time.perf_counter()
        fleet.wait_caught_up(wait_timeout_s)
        out.stage_seconds["catch-up at the end"] = time.perf_counter() - ts
    finally:
        out.consumers = fleet.stop()
    out.elapsed_s = time.perf_counter() - t0
    return out


def run_all(ctx: PipelineContext, **kwargs: object) -> OrchestrationResult:
    """The whole catalog (``axiom demo``)."""
    return run_with_consumers(ctx, [p.name for p in CATALOG], **kwargs)  # type: ignore[arg-type]
