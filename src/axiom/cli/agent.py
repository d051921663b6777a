"""``axiom graph extract``: the company-graph agent over a folder of documents."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from axiom.cli.app import JsonOpt, emit_json, err, graph_app, out, settings
from axiom.cli.render import progress_bars
from axiom.errors import AxiomError
from axiom.runtime import Runtime


def extraction_tables(report: dict[str, Any]) -> list[Table]:
    """What was added, rejected and spent, as rich tables."""
    added = Table(title=f"Relations accepted ({report['relations_added']} new in the graph)")
    for col in ("from", "relation", "to", "conf.", "evidence"):
        added.add_column(col, overflow="fold")
    for r in report["relations"]:
        evidence = r["evidence"] if len(r["evidence"]) <= 80 else r["evidence"][:77] + "..."
        added.add_row(r["src"], r["relation"], r["dst"], f"{r['confidence']:.2f}", evidence)
    totals = Table(title="Run")
    totals.add_column("what")
    totals.add_column("value", justify="right")
    llm = report["llm"]
    rows = [
        ("companies", f"{report['companies']:,} ({_statuses(report)})"),
        ("documents (cached)", f"{report['documents']:,} ({report['documents_cached']:,})"),
        ("relations accepted", f"{report['relations_accepted']:,}"),
        ("rejected", ", ".join(f"{k} {v}" for k, v in report["rejected"].items()) or "0"),
        ("LLM calls (retries)", f"{llm['calls']:,} ({llm['retries']:,})"),
        ("tokens in / out", f"{llm['input_tokens']:,} / {llm['output_tokens']:,}"),
        ("spend", f"${llm['cost_usd']:.4f}"),
    ]
    for k, v in rows:
        totals.add_row(k, v)
    return [added, totals]


@graph_app.command("extract")
def extract(
    docs: Annotated[Path, typer.Option(help="folder of .txt/.md documents, one company each")],
    llm: Annotated[str | None, typer.Option(help="offline or anthropic:<model>")] = None,
    budget: Annotated[float | None, typer.Option(help="LLM budget in USD for this run")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Extract relationships from documents with the company-graph agent into the graph."""
    from axiom.pipelines.base import PipelineContext
    from axiom.pipelines.graph_extract import extract_with_consumers

    updates: dict[str, object] = {}
    if llm is not None:
        updates["llm"] = llm
    if budget is not None:
        if budget < 0:
            raise AxiomError(f"--budget must be >= 0, got {budget}")
        updates["llm_budget_usd"] = budget
    conf = settings().model_copy(update=updates)
    # Ray's driver prints worker-death notices on stdout; stdout carries only the report.
    with (
        contextlib.redirect_stdout(sys.stderr),
        Runtime(conf) as rt,
        progress_bars(err, not as_json) as progress,
    ):
        ctx = PipelineContext(rt, trigger="cli", progress=progress)
        result = extract_with_consumers(ctx, docs)
    report = {"run_id": result.run_id, "status": result.status, **result.detail}
    if as_json:
        emit_json(report)
    else:
        for table in extraction_tables(report):
            out.print(table)
    if result.status != "success" or result.errors:
        raise AxiomError(result.message)


def _statuses(report: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in report["companies_by_status"].items())
