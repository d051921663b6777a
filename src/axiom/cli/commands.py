"""Pipeline and stream commands: demo, run, consume, replay, topics, universes."""

from __future__ import annotations

import signal
import threading
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from axiom.bus.base import TopicPartition
from axiom.cli.app import JsonOpt, UniverseOpt, app, emit_json, err, out, parse_day, settings
from axiom.cli.render import progress_bars, summary_tables
from axiom.consumers.registry import CONSUMER_NAMES, build_sink
from axiom.consumers.runner import ConsumerRunner
from axiom.domain.topics import MAIN_TOPICS, TOPICS
from axiom.errors import DateRangeError, InputError, TopicError
from axiom.observability import metrics
from axiom.pipelines.base import PipelineContext, RunParams
from axiom.pipelines.catalog import get as get_pipeline
from axiom.pipelines.catalog import run_pipeline
from axiom.pipelines.orchestrate import reset_for_demo, run_all, run_with_consumers
from axiom.pipelines.summary import demo_summary
from axiom.runtime import Runtime
from axiom.sources.universe import load_universe, universe_names

YearsOpt = Annotated[int, typer.Option("--years", help="years of daily history")]
SeedOpt = Annotated[int, typer.Option("--seed", help="seed of the simulated market")]


@app.command()
def demo(
    universe: UniverseOpt = "all",
    years: YearsOpt = 5,
    seed: SeedOpt = 7,
    stack: Annotated[
        bool, typer.Option("--stack", help="use the local servers (Kafka, PostgreSQL, ...)")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Fresh state, every pipeline in order, consumers caught up, then a summary."""
    s = settings().with_stack() if stack else settings()
    load_universe(universe)  # fail fast on a bad name, before anything is deleted
    reset_for_demo(s)
    params = RunParams(universe=universe, years=years, seed=seed)
    with Runtime(s) as rt, progress_bars(err, not as_json) as progress:
        ctx = PipelineContext(rt, params, trigger="demo", progress=progress)
        stage = progress.task("pipelines", 2 * 5)
        result = run_all(ctx, on_stage=lambda name, what: stage.advance(1))
        summary = demo_summary(ctx, result)
    if as_json:
        emit_json(summary)
        return
    for table in summary_tables(summary):
        out.print(table)


@app.command("run")
def run_cmd(
    pipeline: Annotated[str, typer.Argument(help="ingestion, company_graph, events, ...")],
    universe: UniverseOpt = "all",
    years: YearsOpt = 5,
    seed: SeedOpt = 7,
    start: Annotated[str | None, typer.Option(help="first day (YYYY-MM-DD)")] = None,
    end: Annotated[str | None, typer.Option(help="last day (YYYY-MM-DD)")] = None,
    source: Annotated[str, typer.Option(help="'simulated' or a folder of CSV/Parquet")] = (
        "simulated"
    ),
    consume: Annotated[bool, typer.Option(help="run the consumers until caught up")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Run one pipeline (and, by default, the consumers until they caught up)."""
    spec = get_pipeline(pipeline)
    params = RunParams(
        universe=universe,
        years=years,
        seed=seed,
        source=source,
        start=parse_day(start, "--start"),
        end=parse_day(end, "--end"),
    )
    with Runtime(settings()) as rt, progress_bars(err, not as_json) as progress:
        ctx = PipelineContext(rt, params, trigger="cli", progress=progress)
        if consume:
            result = run_with_consumers(ctx, [spec.name]).results[0]
        else:
            result = run_pipeline(spec.name, ctx)
    payload = {
        "pipeline": result.pipeline,
        "run_id": result.run_id,
        "published": result.published,
        "records": result.records,
        "duration_s": round(result.duration_s, 3),
        "detail": result.detail,
    }
    if as_json:
        emit_json(payload)
    else:
        out.print(
            f"[bold]{result.pipeline}[/bold] run {result.run_id}: "
            f"{result.records:,} messages in {result.duration_s:.2f} s"
        )
        for topic, n in result.published.items():
            out.print(f"  {topic}: {n:,}")


@app.command()
def consume(
    group: Annotated[list[str] | None, typer.Option("--group", "-g", help="consumer(s)")] = None,
    until_caught_up: Annotated[bool, typer.Option(help="stop when the lag is zero")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Run consumers in this process until interrupted (or caught up)."""
    names = group or list(CONSUMER_NAMES)
    cfg = settings()
    if cfg.metrics_port:
        metrics.serve(cfg.metrics_port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stats = {}
    with Runtime(cfg) as rt:
        runners = [
            ConsumerRunner(build_sink(n, rt), rt.bus, batch_size=rt.settings.consumer_batch)
            for n in names
        ]
        try:
            while not stop.is_set():
                polled = sum(r.step() for r in runners)
                if polled == 0 and until_caught_up and all(r.lag() == 0 for r in runners):
                    break
        except KeyboardInterrupt:
            pass
        finally:
            for r in runners:
                stats[r.sink.name] = r.stats
                r.close()
    report = {
        n: {"records": s.records, "written": s.written, "dead_lettered": s.dead_lettered}
        for n, s in stats.items()
    }
    if as_json:
        emit_json(report)
    else:
        for n, s in report.items():
            out.print(
                f"{n}: {s['records']:,} records, {s['written']:,} written, "
                f"{s['dead_lettered']} to DLQ"
            )


@app.command()
def replay(
    topic: Annotated[str, typer.Option("--topic", "-t", help="topic to replay")],
    from_offset: Annotated[int | None, typer.Option(help="offset to restart from")] = None,
    from_time: Annotated[str | None, typer.Option(help="ISO time to restart from")] = None,
    group: Annotated[list[str] | None, typer.Option("--group", "-g")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Move consumer groups back on a topic; the next `axiom consume` re-processes from there."""
    if topic not in TOPICS:
        raise TopicError(f"unknown topic '{topic}'; topics: {', '.join(MAIN_TOPICS)}")
    if (from_offset is None) == (from_time is None):
        raise InputError("give exactly one of --from-offset N or --from-time YYYY-MM-DDTHH:MM")
    if from_offset is not None and from_offset < 0:
        raise InputError(f"--from-offset must be >= 0, got {from_offset}")
    ts_ms = None
    if from_time is not None:
        try:
            when = datetime.fromisoformat(from_time)
        except ValueError:
            raise DateRangeError(f"--from-time '{from_time}' is not an ISO time") from None
        ts_ms = int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1000)
    with Runtime(settings()) as rt:
        bus = rt.bus
        ends = bus.end_offsets(topic)
        if ts_ms is not None:
            target = bus.offsets_for_time(topic, ts_ms)
        else:
            assert from_offset is not None  # noqa: S101 - checked above
            target = {p: min(from_offset, end) for p, end in ends.items()}
        moved: dict[str, dict[int, int]] = {}
        for name in group or CONSUMER_NAMES:
            sink = build_sink(name, rt)
            if topic not in sink.topics:
                continue
            bus.commit_offsets(name, {TopicPartition(topic, p): o for p, o in target.items()})
            moved[name] = target
    if as_json:
        emit_json({"topic": topic, "groups": moved})
    else:
        for name, parts in moved.items():
            out.print(f"{name}: {topic} rewound to {parts}; run `axiom consume` to replay")


@app.command()
def topics(as_json: JsonOpt = False) -> None:
    """Topics with partitions, end offsets and the lag of every consumer group."""
    with Runtime(settings()) as rt:
        bus = rt.bus
        rows: list[dict[str, Any]] = []
        for name, parts in sorted(bus.list_topics().items()):
            ends = bus.end_offsets(name)
            lag = {
                g: sum(bus.lag(g, [name])[name].values())
                for g in bus.groups()
                if bus.committed(g, name)
            }
            rows.append(
                {
                    "topic": name,
                    "partitions": parts,
                    "messages": sum(ends.values()),
                    "end_offsets": ends,
                    "lag": lag,
                }
            )
    if as_json:
        emit_json({"topics": rows})
        return
    table = Table(title="topics")
    for col in ("topic", "partitions", "messages", "lag by group"):
        table.add_column(col)
    for r in rows:
        lags = ", ".join(f"{g} {n:,}" for g, n in r["lag"].items()) or "-"
        table.add_row(r["topic"], str(r["partitions"]), f"{r['messages']:,}", lags)
    out.print(table)


@app.command()
def universes(as_json: JsonOpt = False) -> None:
    """Universe names accepted by --universe, with their sizes."""
    sizes = {name: len(load_universe(name)) for name in universe_names()}
    if as_json:
        emit_json(sizes)
    else:
        for name, n in sizes.items():
            out.print(f"{name:<20} {n:>5} companies")
