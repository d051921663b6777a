"""Ray executor URLs, its registry entry and its install hint (no Ray runtime started)."""

from __future__ import annotations

import importlib
import sys

import pytest

from axiom.compute.ray import CLIENT_PORT, RayTarget, parse_ray_url
from axiom.errors import ConfigError, MissingExtraError
from axiom.registry import load_class, resolve


@pytest.mark.parametrize("url", ["ray://local", "ray://", "ray", "RAY://Local/"])
def test_local_runtime(url: str) -> None:
    assert parse_ray_url(url) == RayTarget("local")
    assert parse_ray_url(url).address == "local"


def test_auto() -> None:
    assert parse_ray_url("ray://auto").address == "auto"


def test_cluster_through_ray_client() -> None:
    assert parse_ray_url("ray://head:10001") == RayTarget("client", "head", 10001)
    assert parse_ray_url("ray://head").port == CLIENT_PORT
    assert parse_ray_url("ray://10.0.0.5:20001").address == "ray://10.0.0.5:20001"
    assert parse_ray_url("ray://[::1]:10001").address == "ray://[::1]:10001"


@pytest.mark.parametrize(
    "url", ["ray://head:port", "ray://head:99999", "ray://head/x", "ray://u@head", "local"]
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_ray_url(url)


def test_registry_entry() -> None:
    spec = resolve("executor", "ray://head:10001")
    assert spec.target == "axiom.compute.ray:RayExecutor"
    assert spec.extra == "ray"
    assert load_class("executor", "ray://local").__name__ == "RayExecutor"


def test_missing_ray_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails
    monkeypatch.delitem(sys.modules, "axiom.compute.ray")
    monkeypatch.delitem(sys.modules, "axiom.compute.ray_pool", raising=False)
    with pytest.raises(MissingExtraError, match=r"pip install 'axiom\[ray\]'"):
        importlib.import_module("axiom.compute.ray")


def test_a_cluster_job_gets_the_drivers_anthropic_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from axiom.compute.ray import FORWARDED_ENV, _job_env

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "")
    monkeypatch.setenv("AXIOM_BUS", "kafka://127.0.0.1:9092")
    assert "ANTHROPIC_API_KEY" in FORWARDED_ENV
    # set ones travel; empty ones and everything else stay behind
    assert _job_env() == {
        "ANTHROPIC_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": "http://127.0.0.1:9/",
    }
