"""The Typer application and the helpers every command shares."""

from __future__ import annotations

import sys
from datetime import date
from typing import Annotated

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console

from axiom.errors import ConfigError, DateRangeError
from axiom.settings import Settings

app = typer.Typer(
    name="axiom",
    help="Axiom market-intelligence pipeline.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
graph_app = typer.Typer(help="Query the company graph.", no_args_is_help=True)
risk_app = typer.Typer(help="Shock scenarios over the company graph.", no_args_is_help=True)
app.add_typer(graph_app, name="graph")
app.add_typer(risk_app, name="risk")

out = Console()
err = Console(stderr=True)

JsonOpt = Annotated[bool, typer.Option("--json", help="print one JSON object")]
UniverseOpt = Annotated[str, typer.Option("--universe", "-u", help="index name or 'all'")]


def settings() -> Settings:
    """Settings from the environment; a malformed value is a ConfigError."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"bad setting AXIOM_{field.upper()}: {first['msg']}") from None


def parse_day(value: str | None, what: str) -> date | None:
    """An ISO date or None; DateRangeError names the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DateRangeError(f"{what} '{value}' is not a date (use YYYY-MM-DD)") from None


def emit_json(obj: object) -> None:
    """Print one JSON object on stdout."""
    sys.stdout.write(
        orjson.dumps(
            obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
        ).decode()
        + "\n"
    )
