"""Bad input: one clear line on stderr, exit code 1, no traceback, nothing lost."""

from __future__ import annotations

import pytest

from tests.conftest import Cli


def _one_line_error(proc: object) -> str:
    code = proc.returncode  # type: ignore[attr-defined]
    stderr = proc.stderr.strip()  # type: ignore[attr-defined]
    assert code == 1, stderr
    assert "Traceback" not in stderr
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error:")
    return lines[0]


def test_unknown_universe_suggests(cli: Cli) -> None:
    line = _one_line_error(cli.run("demo", "--universe", "DOW JONSE", check=False))
    assert "DOW JONES" in line


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("run", "ingestion", "--start", "2024-13-01"), "--start"),
        (("run", "ingestion", "--start", "2024-06-01", "--end", "2024-01-01"), "after"),
        (("demo", "--years", "0"), "years"),
        (("run", "ingestoin"), "did you mean 'ingestion'"),
        (("risk", "shock", "AAPL=abc"), "bad shock"),
        (("replay", "--topic", "prices", "--from-offset", "0"), "unknown topic"),
    ],
)
def test_bad_arguments(cli: Cli, args: tuple[str, ...], needle: str) -> None:
    assert needle in _one_line_error(cli.run(*args, check=False))


def test_typo_in_backend_url(cli: Cli) -> None:
    proc = cli.run("topics", check=False, env={"AXIOM_BUS": "embeded://"})
    line = _one_line_error(proc)
    assert "did you mean 'embedded://'" in line


def test_malformed_setting(cli: Cli) -> None:
    line = _one_line_error(cli.run("topics", check=False, env={"AXIOM_WORKERS": "many"}))
    assert "AXIOM_WORKERS" in line


def test_unknown_symbol_after_state_exists(cli: Cli) -> None:
    cli.run("run", "ingestion", "--universe", "DOW JONES", "--years", "1")
    cli.run("run", "company_graph", "--universe", "DOW JONES")
    line = _one_line_error(cli.run("graph", "neighbors", "NOPE", check=False))
    assert "NOPE" in line
    line = _one_line_error(cli.run("risk", "shock", "NOPE=-0.3", check=False))
    assert "NOPE" in line
    # the failed commands lost nothing already written
    stats = cli.json("graph", "stats")
    assert isinstance(stats, dict)
    assert stats["nodes"]["Company"] == 30
