"""Per-symbol pipeline work on Ray tasks gives the same stores as local threads.

``AXIOM_EXECUTOR=ray://local`` runs the ingestion and events symbol batches as Ray tasks
(in Ray worker processes); the demo over the Dow Jones must leave a warehouse and a graph
identical, by checksum, to the demo on the local executor.
"""

from __future__ import annotations

from pathlib import Path

from axiom.runtime import Runtime
from axiom.settings import Settings
from tests.conftest import Cli


def _checksums(home: Path) -> tuple[dict[str, str], str]:
    with Runtime(Settings(home=home)) as rt:
        return rt.warehouse.checksums(), rt.graph.checksum()


def test_demo_on_ray_tasks_equals_the_local_executor(cli: Cli, tmp_path: Path) -> None:
    args = ("demo", "--universe", "DOW JONES", "--years", "2")
    local = cli.json(*args, env={"AXIOM_HOME": str(tmp_path / "local")})
    on_ray = cli.json(*args, env={"AXIOM_HOME": str(tmp_path / "ray"),
                                  "AXIOM_EXECUTOR": "ray://local"})  # fmt: skip
    assert isinstance(local, dict) and isinstance(on_ray, dict)
    assert on_ray["backends"]["executor"] == "ray://local"
    assert on_ray["price_bars"] == local["price_bars"] > 0
    assert on_ray["events"] == local["events"]
    assert _checksums(tmp_path / "ray") == _checksums(tmp_path / "local")
