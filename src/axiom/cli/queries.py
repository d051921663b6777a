"""Read commands over the stores: graph neighbours and paths, risk shocks."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from axiom.cli.app import JsonOpt, emit_json, err, graph_app, out, risk_app, settings
from axiom.cli.render import progress_bars
from axiom.errors import InputError, UnknownSymbolError
from axiom.pipelines.base import PipelineContext, RunParams
from axiom.pipelines.orchestrate import run_with_consumers
from axiom.runtime import Runtime
from axiom.stores.base import GraphStore


def _company(graph: GraphStore, symbol: str) -> str:
    node_id = f"Company:{symbol.strip().upper()}"
    if graph.node(node_id) is None:
        raise UnknownSymbolError(
            f"unknown symbol '{symbol}': no such company in the graph "
            "(run `axiom demo` or the company_graph pipeline first)"
        )
    return node_id


@graph_app.command("neighbors")
def neighbors(
    symbol: Annotated[str, typer.Argument(help="company symbol, e.g. AAPL")],
    hops: Annotated[int, typer.Option("--hops", min=1, max=4)] = 1,
    edge_type: Annotated[list[str] | None, typer.Option("--type", help="edge type filter")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """Nodes within N hops of a company (optionally only along some edge types)."""
    with Runtime(settings()) as rt:
        start = _company(rt.graph, symbol)
        found = rt.graph.neighbors(start, hops=hops, edge_types=edge_type, limit=limit)
    rows = [
        {
            "id": n.node.id,
            "label": n.node.label,
            "hops": n.hops,
            "name": n.node.props.get("name", n.node.key),
        }
        for n in found
    ]
    if as_json:
        emit_json({"start": start, "hops": hops, "types": edge_type or [], "neighbors": rows})
        return
    table = Table(title=f"{start}: {len(rows)} neighbours within {hops} hop(s)")
    for col in ("hops", "label", "id", "name"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["hops"]), r["label"], r["id"], str(r["name"]))
    out.print(table)


@graph_app.command("path")
def path(
    src: Annotated[str, typer.Argument(help="from symbol")],
    dst: Annotated[str, typer.Argument(help="to symbol")],
    max_hops: Annotated[int, typer.Option(min=1, max=8)] = 6,
    as_json: JsonOpt = False,
) -> None:
    """Shortest path between two companies."""
    with Runtime(settings()) as rt:
        found = rt.graph.shortest_path(
            _company(rt.graph, src), _company(rt.graph, dst), max_hops=max_hops
        )
    if as_json:
        emit_json({"path": found})
    else:
        out.print(" -> ".join(found) if found else f"no path within {max_hops} hops")


@graph_app.command("stats")
def stats(as_json: JsonOpt = False) -> None:
    """Node counts by label and relationship counts by type."""
    with Runtime(settings()) as rt:
        c = rt.graph.counts()
    if as_json:
        emit_json({"nodes": c.nodes, "relationships": c.relationships})
        return
    for title, data in (("nodes", c.nodes), ("relationships", c.relationships)):
        table = Table(title=title)
        table.add_column("kind")
        table.add_column("count", justify="right")
        for k, v in sorted(data.items()):
            table.add_row(k, f"{v:,}")
        out.print(table)


def parse_shocks(specs: list[str]) -> dict[str, float]:
    """``["AAPL=-0.3", ...]`` -> ``{"AAPL": 0.3}``: the loss fraction of each shocked company."""
    shocks: dict[str, float] = {}
    for spec in specs:
        symbol, sep, value = spec.partition("=")
        try:
            loss = -float(value) if sep else float("nan")
        except ValueError:
            loss = float("nan")
        if not symbol or not 0.0 < loss <= 1.0:
            raise InputError(f"bad shock '{spec}': write SYMBOL=-0.3 (a loss between 0 and 100 %)")
        shocks[symbol.strip().upper()] = loss
    return shocks


@risk_app.command("shock")
def shock(
    specs: Annotated[list[str], typer.Argument(help="SYMBOL=-0.3 ...", metavar="SYMBOL=LOSS")],
    as_json: JsonOpt = False,
) -> None:
    """Propagate an initial loss of some companies through the graph (DebtRank)."""
    shocks = parse_shocks(specs)
    with Runtime(settings()) as rt, progress_bars(err, not as_json) as progress:
        for symbol in shocks:
            _company(rt.graph, symbol)
        ctx = PipelineContext(rt, RunParams(shocks=shocks), trigger="cli", progress=progress)
        detail = run_with_consumers(ctx, ["risk"]).results[0].detail
    if as_json:
        emit_json(detail)
        return
    out.print(
        f"scenario {detail['scenario_id']}: DebtRank {detail['debtrank']:.4f} "
        f"after {detail['rounds']} rounds, {detail['affected']} companies affected"
    )
    table = Table()
    for col in ("symbol", "loss", "round"):
        table.add_column(col)
    for r in detail["top"]:
        table.add_row(r["symbol"], f"{r['loss']:.3f}", str(r["round"]))
    out.print(table)
