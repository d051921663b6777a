"""The ``axiom`` command line.

Commands only wire: parse options, build a runtime, call a pipeline or a store, render.
Expected errors (:class:`~axiom.errors.AxiomError`) print one line and exit 1.
"""

from __future__ import annotations

import click

from axiom.cli import agent, commands, queries
from axiom.cli.app import app, err
from axiom.errors import AxiomError

__all__ = ["agent", "app", "commands", "main", "queries"]


def main() -> None:
    """Entry point: run the app; expected errors become one line and exit code 1."""
    try:
        code = app(standalone_mode=False)
    except AxiomError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None
    except click.exceptions.Abort:
        err.print("aborted")
        raise SystemExit(130) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    raise SystemExit(code if isinstance(code, int) else 0)
