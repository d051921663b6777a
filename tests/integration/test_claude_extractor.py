"""The Claude extractor through the real ``anthropic`` SDK against the local fake API.

The fake (``axiom.testing.anthropic_fake``) speaks the Messages API wire format; its answers
come from the responder below, not from a model. Nothing of the SDK is mocked.
"""

from __future__ import annotations

import pickle
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from prometheus_client import REGISTRY

from axiom.agents.costs import CostGovernor, price
from axiom.agents.documents import Document
from axiom.agents.extractors.base import Candidate, Context
from axiom.agents.extractors.claude import PROMPT_VERSION, ClaudeExtractor
from axiom.errors import BudgetExceededError, ConfigError, LLMError
from axiom.settings import Settings
from axiom.testing.anthropic_fake import FakeAnthropicServer

MODEL = "claude-haiku-4-5"
KEY = "sk-ant-test-key"
TEXT = (
    "Apple Inc. buys most of its processors from TSMC. "
    "Apple & Broadcom signed a <multi-year> agreement for 5G components."
)
DOC = Document("AAPL.txt", "AAPL", TEXT)
CTX = Context("AAPL", "Apple Inc.", ("Taiwan Semiconductor", "Broadcom"))


class Responder:
    """Relationships for the Apple document, plus one item that breaks the schema."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str]] = []

    def __call__(self, symbol: str, name: str, text: str) -> list[dict[str, Any]]:
        self.seen.append((symbol, name, text))
        return [
            {
                "relation": "customer_of",
                "counterparty": "TSMC",
                "evidence": "Apple Inc. buys most of its processors from TSMC.",
                "confidence": 0.95,
            },
            {
                "relation": "customer_of",
                "counterparty": "Broadcom",
                "evidence": "Apple & Broadcom signed a <multi-year> agreement for 5G components.",
                "confidence": 0.7,
            },
            {"relation": "befriends", "counterparty": "X", "evidence": "e", "confidence": 2},
        ]


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def responder() -> Responder:
    return Responder()


@pytest.fixture
def fake(responder: Responder, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    with FakeAnthropicServer(responder=responder, api_key=KEY) as srv:
        for var in ("AUTH_TOKEN", "PROFILE", "CONFIG_DIR", "CUSTOM_HEADERS", "FEDERATION_RULE_ID"):
            monkeypatch.delenv(f"ANTHROPIC_{var}", raising=False)
        monkeypatch.setenv("HOME", str(tmp_path))  # no profile of the developer's on disk
        monkeypatch.setenv("ANTHROPIC_BASE_URL", srv.url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        yield srv


def _extractor(
    governor: CostGovernor | None = None, *, timeout_s: float = 5.0, retries: int = 3
) -> ClaudeExtractor:
    settings = Settings(llm=f"anthropic:{MODEL}", llm_timeout_s=timeout_s, llm_max_retries=retries)
    gov = governor or CostGovernor(0, 10_000, 10**9, 64, "test_claude")
    return ClaudeExtractor.from_settings(settings, gov)


def test_tool_use_round_trip_books_usage(fake: FakeAnthropicServer, responder: Responder) -> None:
    pipeline = "test_claude_round_trip"
    gov = CostGovernor(1.0, 100, 10**6, 4, pipeline)
    calls = _metric("axiom_claude_api_calls_total", model=MODEL)
    tokens_in = _metric(
        "axiom_claude_api_tokens_total", model=MODEL, pipeline=pipeline, direction="input"
    )
    cost = _metric("axiom_claude_api_cost_dollars_total", pipeline=pipeline)
    latency = _metric("axiom_claude_api_latency_seconds_count", model=MODEL)
    with _extractor(gov) as ex:
        result = ex.extract(DOC, CTX)
    assert ex.name == f"anthropic:{MODEL}"
    assert responder.seen == [("AAPL", "Apple Inc.", TEXT)]  # escaped and unescaped intact
    assert result.candidates == [
        Candidate("customer_of", "TSMC", "Apple Inc. buys most of its processors from TSMC.", 0.95),
        Candidate(
            "customer_of",
            "Broadcom",
            "Apple & Broadcom signed a <multi-year> agreement for 5G components.",
            0.7,
        ),
    ]
    assert result.rejected_schema == 1
    assert result.model == MODEL
    stats = fake.stats
    usage = result.usage
    assert (usage.calls, usage.retries) == (1, 0)
    assert (usage.input_tokens, usage.output_tokens) == (stats.input_tokens, stats.output_tokens)
    assert usage.cost_usd == pytest.approx(price(MODEL, usage.input_tokens, usage.output_tokens))
    snap = gov.snapshot()
    assert snap["companies"]["AAPL"]["calls"] == 1
    assert snap["cost_usd"] == pytest.approx(usage.cost_usd)
    assert snap["reserved_usd"] == pytest.approx(0.0)
    assert _metric("axiom_claude_api_calls_total", model=MODEL) - calls == 1
    got_in = (
        _metric("axiom_claude_api_tokens_total", model=MODEL, pipeline=pipeline, direction="input")
        - tokens_in
    )
    assert got_in == usage.input_tokens
    got_cost = _metric("axiom_claude_api_cost_dollars_total", pipeline=pipeline) - cost
    assert got_cost == pytest.approx(usage.cost_usd)
    assert _metric("axiom_claude_api_latency_seconds_count", model=MODEL) - latency == 1


def test_429_waits_for_retry_after(fake: FakeAnthropicServer) -> None:
    retries = _metric("axiom_claude_api_retries_total", model=MODEL, reason="rate_limit")
    fake.fail_next(429, retry_after=1)
    with _extractor() as ex:
        started = time.monotonic()
        result = ex.extract(DOC, CTX)
        elapsed = time.monotonic() - started
    assert elapsed >= 1.0
    assert result.usage.retries == 1
    assert len(result.candidates) == 2
    assert fake.stats.count(429) == 1
    assert (
        _metric("axiom_claude_api_retries_total", model=MODEL, reason="rate_limit") - retries == 1
    )


def test_529_twice_then_success(fake: FakeAnthropicServer) -> None:
    fake.fail_next(529, count=2)
    with _extractor() as ex:
        result = ex.extract(DOC, CTX)
    assert result.usage.retries == 2
    assert (fake.stats.count(529), fake.stats.ok) == (2, 1)


def test_timeout_is_retried(fake: FakeAnthropicServer) -> None:
    retries = _metric("axiom_claude_api_retries_total", model=MODEL, reason="timeout")
    fake.stall_next(3.0)
    with _extractor(timeout_s=0.5) as ex:
        result = ex.extract(DOC, CTX)
    assert result.usage.retries == 1
    assert len(result.candidates) == 2
    assert _metric("axiom_claude_api_retries_total", model=MODEL, reason="timeout") - retries == 1


def test_persistent_529_fails_the_document_after_max_retries(fake: FakeAnthropicServer) -> None:
    fake.fail_next(529, count=10)
    gov = CostGovernor(1.0, 100, 10**6, 4, "test_claude")
    with _extractor(gov, retries=2) as ex, pytest.raises(LLMError, match="529") as err:
        ex.extract(DOC, CTX)
    assert not isinstance(err.value, BudgetExceededError)
    assert "after 2 retries" in str(err.value)
    assert fake.stats.requests == 3
    snap = gov.snapshot()
    assert (snap["calls"], snap["failed_calls"], snap["cost_usd"]) == (0, 3, 0.0)


def test_401_is_a_clear_config_error_without_retry(
    fake: FakeAnthropicServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-wrong")
    with _extractor() as ex, pytest.raises(ConfigError, match="ANTHROPIC_API_KEY") as err:
        ex.extract(DOC, CTX)
    assert "\n" not in str(err.value)
    assert "401" in str(err.value)
    assert fake.stats.requests == 1


def test_missing_key_and_model_are_config_errors(
    fake: FakeAnthropicServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    gov = CostGovernor(0, 10, 10**6, 1, "test_claude")
    with pytest.raises(ConfigError, match="names no Claude model"):
        ClaudeExtractor.from_settings(Settings(llm="anthropic:"), gov)
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(ConfigError, match="set ANTHROPIC_API_KEY"):
        ClaudeExtractor.from_settings(Settings(llm=f"anthropic:{MODEL}"), gov)


def test_answer_without_the_tool_call_fails_the_document(fake: FakeAnthropicServer) -> None:
    gov = CostGovernor(1.0, 100, 10**6, 4, "test_claude")
    ex = ClaudeExtractor(MODEL, gov, max_output_tokens=20)  # too small: stop_reason max_tokens
    with ex, pytest.raises(LLMError, match="stop_reason=max_tokens"):
        ex.extract(DOC, CTX)
    assert gov.snapshot()["calls"] == 1  # the call was paid for all the same


def test_budget_stops_before_the_call(fake: FakeAnthropicServer) -> None:
    with _extractor() as probe:
        worst = probe.worst_case_usd(DOC, CTX)
    gov = CostGovernor(worst * 1.02, 100, 10**6, 4, "test_claude")
    with _extractor(gov) as ex:
        first = ex.extract(DOC, CTX)
        assert first.usage.cost_usd < worst
        with pytest.raises(BudgetExceededError, match="AXIOM_LLM_BUDGET_USD"):
            ex.extract(DOC, CTX)
    assert fake.stats.requests == 1
    assert gov.spent_usd == pytest.approx(first.usage.cost_usd)


def test_concurrency_is_bounded_by_the_governor(fake: FakeAnthropicServer) -> None:
    fake.latency_s = 0.2
    gov = CostGovernor(0, 10_000, 10**9, 8, "test_claude")
    errors: list[BaseException] = []
    with _extractor(gov) as ex:

        def work() -> None:
            try:
                ex.extract(DOC, CTX)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert errors == []
    assert fake.stats.ok == 32
    assert 2 <= fake.stats.max_in_flight <= 8


@pytest.mark.parametrize(("rpm", "window_s", "n"), [(600, 60.0, 40), (10, 1.0, 30)])
def test_client_rpm_limit_never_triggers_the_servers(rpm: int, window_s: float, n: int) -> None:
    with FakeAnthropicServer(latency_s=0.05, rpm_limit=rpm, window_s=window_s) as srv:
        client = anthropic.Anthropic(api_key=KEY, base_url=srv.url, max_retries=0)
        gov = CostGovernor(0, rpm, 10**9, 8, "test_claude", window_s=window_s)
        ex = ClaudeExtractor(MODEL, gov, max_retries=0, client=client)
        with ex:
            threads = [
                threading.Thread(target=lambda: [ex.extract(DOC, CTX) for _ in range(n // 5)])
                for _ in range(5)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        stats = srv.stats
    assert stats.count(429) == 0
    assert stats.ok == n
    stamps = sorted(stats.accepted_at)
    assert all(stamps[i + rpm] - stamps[i] >= window_s for i in range(len(stamps) - rpm))


def test_fake_answers_429_beyond_its_limit() -> None:
    """The control of the test above: without a client limit the server does refuse."""
    with FakeAnthropicServer(rpm_limit=5, window_s=30.0) as srv:
        client = anthropic.Anthropic(api_key=KEY, base_url=srv.url, max_retries=0)
        ex = ClaudeExtractor(
            MODEL, CostGovernor(0, 1000, 10**9, 8, "t"), max_retries=0, client=client
        )
        with ex:
            for _ in range(5):
                ex.extract(DOC, CTX)
            with pytest.raises(LLMError, match="429 rate_limit_error"):
                ex.extract(DOC, CTX)
        assert srv.stats.count(429) == 1


def test_fake_serves_100_slow_requests_at_once() -> None:
    with FakeAnthropicServer(latency_s=2.0) as srv:
        client = anthropic.Anthropic(api_key=KEY, base_url=srv.url, max_retries=0, timeout=20)
        ex = ClaudeExtractor(MODEL, CostGovernor(0, 10**4, 10**9, 128, "t"), client=client)
        started = time.monotonic()
        with ex:
            threads = [threading.Thread(target=ex.extract, args=(DOC, CTX)) for _ in range(120)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        elapsed = time.monotonic() - started
        stats = srv.stats
    assert stats.ok == 120
    assert stats.max_in_flight >= 100
    assert elapsed < 10.0


def test_cache_key_and_pickle(fake: FakeAnthropicServer) -> None:
    with _extractor() as ex:
        assert ex.cache_key == f"anthropic:{MODEL}|prompt-v{PROMPT_VERSION}"
        copy = pickle.loads(pickle.dumps(ex))  # noqa: S301 - our own bytes
    with copy:
        assert copy.extract(DOC, CTX).candidates[0].counterparty == "TSMC"
