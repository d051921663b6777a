"""Backends by URL: nearest-scheme suggestions, install hints, settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from axiom import registry
from axiom.errors import ConfigError, MissingExtraError
from axiom.registry import BackendSpec, load_class, resolve, scheme_of
from axiom.settings import Settings


def test_scheme_of_strips_driver() -> None:
    assert scheme_of("postgresql+psycopg://u@h/db") == "postgresql"
    assert scheme_of("embedded://") == "embedded"
    assert scheme_of("local") == "local"


def test_typo_suggests_nearest_scheme() -> None:
    with pytest.raises(ConfigError, match="did you mean 'embedded://'"):
        resolve("bus", "embeded://")
    with pytest.raises(ConfigError, match="did you mean 'sqlite://'"):
        resolve("warehouse", "sqlit:///x.db")


def test_unrelated_scheme_lists_known_ones() -> None:
    with pytest.raises(ConfigError, match="known: embedded://"):
        resolve("bus", "zzzz://host")


def test_missing_extra_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # a real adapter module whose third-party dependency is not installed
    (tmp_path / "fancy_adapter.py").write_text("import fancy_client_not_installed\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    table = dict(registry.BACKENDS["bus"])
    table["fancy"] = BackendSpec("fancy_adapter:Bus", extra="fancy")
    monkeypatch.setitem(registry.BACKENDS, "bus", table)
    with pytest.raises(MissingExtraError, match=r"pip install 'axiom\[fancy\]'"):
        load_class("bus", "fancy://x")


def test_settings_from_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AXIOM_HOME", str(tmp_path / "h"))
    monkeypatch.setenv("AXIOM_CACHE", " memory://x ")
    s = Settings()
    assert s.home_dir == (tmp_path / "h").resolve()
    assert s.cache == "memory://x"
    assert s.warehouse_url == f"sqlite:///{(tmp_path / 'h').resolve() / 'warehouse.db'}"


def test_stack_defaults_keep_explicit_urls() -> None:
    s = Settings(cache="memory://mine").with_stack()
    assert s.bus.startswith("kafka://")
    assert s.cache == "memory://mine"
    assert "***" in s.with_stack().backend_urls()["warehouse"]
