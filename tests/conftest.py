"""Shared fixtures: an isolated AXIOM_HOME per test and a CLI runner in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from axiom.runtime import Runtime
from axiom.settings import Settings


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No AXIOM_* from the developer's shell leaks into a test; home is per test."""
    for key in list(os.environ):
        if key.startswith("AXIOM_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AXIOM_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded settings under the test's home."""
    return Settings(home=tmp_path / "home")


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    """A runtime on the embedded backends, closed after the test."""
    with Runtime(settings) as rt:
        yield rt


class Cli:
    """Runs ``python -m axiom`` in a subprocess with the test's environment."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def run(
        self,
        *args: str,
        check: bool = True,
        timeout: float = 600,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "axiom", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**self.env, **(env or {})},
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"axiom {' '.join(args)} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
            )
        return proc

    def json(self, *args: str, **kw: object) -> object:
        proc = self.run(*args, "--json", **kw)  # type: ignore[arg-type]
        return orjson.loads(proc.stdout)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "axiom", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The CLI with AXIOM_HOME in the test's folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AXIOM_")}
    env["AXIOM_HOME"] = str(tmp_path / "home")
    return Cli(env)
