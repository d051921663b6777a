"""Every ``make <target>`` the docs tell a user to type exists and does what they say."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _dry_run(target: str) -> str:
    make = shutil.which("make")
    assert make is not None, "make is not installed"
    out = subprocess.run(
        [make, "-n", "-C", str(ROOT), target],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0, f"make -n {target}: {out.stderr.strip()}"
    return out.stdout


def _documented_targets() -> set[str]:
    found: set[str] = set()
    for doc in DOCS:
        found.update(re.findall(r"`make ([a-z][a-z-]*)`", doc.read_text()))
        for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", doc.read_text(), re.S):
            found.update(re.findall(r"^\s*make ([a-z][a-z-]*)", block, re.M))
    return found


def test_the_docs_name_make_targets() -> None:
    assert {"demo", "test", "airflow"} <= _documented_targets()


@pytest.mark.parametrize("target", sorted(_documented_targets()))
def test_every_documented_target_exists(target: str) -> None:
    _dry_run(target)


def test_make_airflow_starts_the_local_airflow() -> None:
    assert "deploy/local/airflow.sh start" in _dry_run("airflow")


def test_help_lists_every_documented_target() -> None:
    make = shutil.which("make")
    assert make is not None, "make is not installed"
    shown = subprocess.run(
        [make, "-s", "-C", str(ROOT), "help"], capture_output=True, text=True, check=True
    ).stdout
    assert _documented_targets() <= set(re.findall(r"^\s+make (\S+)", shown, re.M))
