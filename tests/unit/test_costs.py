"""The cost governor: prices, the rate limiter on a fake clock, budget, bookkeeping."""

from __future__ import annotations

import pickle
import threading
import time

import pytest
from prometheus_client import REGISTRY

from axiom.agents.costs import CostGovernor, RateLimiter, combine, price, rates
from axiom.errors import BudgetExceededError
from axiom.settings import Settings


class FakeClock:
    """A monotonic clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, "the limiter must not busy-loop"
        self.now += seconds


def _limiter(rpm: int, tpm: int) -> tuple[RateLimiter, FakeClock]:
    clock = FakeClock()
    return RateLimiter(rpm, tpm, clock=clock, sleep=clock.sleep), clock


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# -- prices
@pytest.mark.parametrize(
    ("model", "per_million"),
    [
        ("claude-opus-4-1-20250805", (15.0, 75.0)),
        ("claude-opus-4-5", (5.0, 25.0)),
        ("claude-sonnet-4-5-20250929", (3.0, 15.0)),
        ("claude-haiku-4-5", (1.0, 5.0)),
        ("claude-3-5-haiku-20241022", (0.8, 4.0)),
        ("claude-3-haiku-20240307", (0.25, 1.25)),
        ("anthropic:claude-sonnet-4-0", (3.0, 15.0)),
    ],
)
def test_price_by_model_family(model: str, per_million: tuple[float, float]) -> None:
    assert rates(model) == per_million
    assert price(model, 1_000_000, 0) == pytest.approx(per_million[0])
    assert price(model, 2_000, 1_000) == pytest.approx(
        (2_000 * per_million[0] + 1_000 * per_million[1]) / 1e6
    )


def test_unknown_model_is_priced_as_the_dearest() -> None:
    assert rates("claude-future-9") == (15.0, 75.0)
    assert price("some-other-model", 0, 1_000_000) == pytest.approx(75.0)


# -- rate limiter
def test_rpm_is_respected_exactly() -> None:
    limiter, clock = _limiter(rpm=5, tpm=10**9)
    grants = []
    for _ in range(12):
        limiter.acquire()
        grants.append(clock.now)
    assert grants == [0.0] * 5 + [60.0] * 5 + [120.0] * 2
    # never more than 5 grants in any 60 s window
    assert all(grants[i + 5] - grants[i] >= 60.0 for i in range(len(grants) - 5))


def test_tpm_is_respected_and_corrected_by_real_usage() -> None:
    limiter, clock = _limiter(rpm=1000, tpm=1000)
    limiter.acquire(400)
    limiter.acquire(400)
    assert clock.now == 0.0
    limiter.acquire(400)  # 1200 > 1000: waits for the first two to leave the window
    assert clock.now == 60.0
    permit = limiter.acquire(600)  # 400 + 600 = 1000 fits
    assert clock.now == 60.0
    permit.settle(100)  # it really used 100: room for 500 more now
    limiter.acquire(500)
    assert clock.now == 60.0


def test_request_bigger_than_tpm_waits_for_an_empty_window_but_never_deadlocks() -> None:
    limiter, clock = _limiter(rpm=100, tpm=1000)
    limiter.acquire(5_000)  # empty window: goes at once
    assert clock.now == 0.0
    limiter.acquire(10)
    assert clock.now == 60.0  # the big one filled the minute
    limiter.acquire(5_000)
    assert clock.now == 120.0  # waited until the window was empty


def test_rate_limiter_is_thread_safe() -> None:
    limiter = RateLimiter(rpm=50, tpm=10**9, window_s=0.5)
    grants: list[float] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(10):
            limiter.acquire()
            with lock:
                grants.append(time.monotonic())

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    grants.sort()
    assert len(grants) == 80
    assert all(grants[i + 50] - grants[i] >= 0.5 for i in range(len(grants) - 50))


# -- governor
def test_budget_refuses_before_the_call() -> None:
    gov = CostGovernor(0.05, rpm=10, tpm=10**6, concurrency=1, pipeline="unit")
    with pytest.raises(BudgetExceededError) as err:
        gov.reserve("claude-opus-4-1", 1_000, 2_048, company="AAPL")  # worst case ~$0.17
    message = str(err.value)
    assert "\n" not in message
    assert "LLM budget of $0.05 reached" in message
    assert "0 calls" in message
    assert "AXIOM_LLM_BUDGET_USD" in message
    snap = gov.snapshot()
    assert (snap["calls"], snap["failed_calls"], snap["reserved_usd"]) == (0, 0, 0.0)
    assert len(gov.limiter._grants) == 0  # it never reached the rate limiter


def test_budget_is_never_overrun() -> None:
    gov = CostGovernor(0.10, rpm=10**4, tpm=10**9, concurrency=4, pipeline="unit")
    calls = 0
    with pytest.raises(BudgetExceededError, match=r"spent on \d+ calls"):
        while True:
            with gov.reserve("claude-haiku-4-5", 2_000, 2_048, "MSFT") as slot:
                slot.settle(2_000, 1_500)  # $0.0095 each, worst case $0.01224
            calls += 1
            assert gov.spent_usd <= 0.10
    assert calls == 10  # the 11th: 0.095 spent + 0.01224 worst case > 0.10
    assert gov.snapshot()["calls"] == calls


def test_worst_case_of_calls_in_flight_is_held() -> None:
    gov = CostGovernor(0.03, rpm=100, tpm=10**9, concurrency=4, pipeline="unit")
    first = gov.reserve("claude-haiku-4-5", 1_000, 2_048)  # worst $0.01124
    second = gov.reserve("claude-haiku-4-5", 1_000, 2_048)
    with pytest.raises(BudgetExceededError, match="held by calls in flight"):
        gov.reserve("claude-haiku-4-5", 1_000, 2_048)
    with first as slot:
        slot.settle(1_000, 100)  # $0.0015 real: the unused reservation comes back
    with second:
        pass  # failed without a response: nothing booked, counted as failed
    third = gov.reserve("claude-haiku-4-5", 1_000, 2_048)
    with third as slot:
        slot.settle(10, 10)
    snap = gov.snapshot()
    assert snap["calls"] == 2
    assert snap["failed_calls"] == 1
    assert snap["reserved_usd"] == pytest.approx(0.0)


def test_unlimited_budget() -> None:
    gov = CostGovernor(0, rpm=100, tpm=10**9, concurrency=1, pipeline="unit")
    for _ in range(20):
        with gov.reserve("claude-opus-4-1", 100_000, 32_000) as slot:
            slot.settle(100_000, 32_000)
    assert gov.spent_usd == pytest.approx(20 * (1.5 + 2.4))


def test_snapshot_per_company_and_metrics() -> None:
    model, pipeline = "claude-sonnet-4-5", "unit_snapshot"
    before_calls = _metric("axiom_claude_api_calls_total", model=model)
    before_cost = _metric("axiom_claude_api_cost_dollars_total", pipeline=pipeline)
    before_out = _metric(
        "axiom_claude_api_tokens_total", model=model, pipeline=pipeline, direction="output"
    )
    gov = CostGovernor(10.0, rpm=100, tpm=10**6, concurrency=2, pipeline=pipeline)
    for company, tokens in (("AAPL", 1_000), ("AAPL", 3_000), ("NVDA", 2_000)):
        with gov.reserve(model, tokens, 1_024, company) as slot:
            usage = slot.settle(tokens, 500)
        assert usage.calls == 1
        assert usage.cost_usd == pytest.approx(price(model, tokens, 500))
    snap = gov.snapshot()
    assert snap["calls"] == 3
    assert snap["input_tokens"] == 6_000
    assert snap["output_tokens"] == 1_500
    assert snap["cost_usd"] == pytest.approx(price(model, 6_000, 1_500))
    assert snap["companies"]["AAPL"]["calls"] == 2
    assert snap["companies"]["AAPL"]["input_tokens"] == 4_000
    assert snap["companies"]["NVDA"]["cost_usd"] == pytest.approx(price(model, 2_000, 500))
    assert snap["models"][model]["calls"] == 3
    assert _metric("axiom_claude_api_calls_total", model=model) - before_calls == 3
    cost = _metric("axiom_claude_api_cost_dollars_total", pipeline=pipeline) - before_cost
    assert cost == pytest.approx(snap["cost_usd"])
    out = (
        _metric("axiom_claude_api_tokens_total", model=model, pipeline=pipeline, direction="output")
        - before_out
    )
    assert out == 1_500
    merged = combine([snap, snap])
    assert merged["calls"] == 6
    assert merged["companies"]["AAPL"]["input_tokens"] == 8_000


def test_concurrency_bound() -> None:
    gov = CostGovernor(0, rpm=10**4, tpm=10**9, concurrency=3, pipeline="unit")
    in_flight, peak = 0, 0
    lock = threading.Lock()

    def call() -> None:
        nonlocal in_flight, peak
        with gov.reserve("claude-haiku-4-5", 10, 10) as slot:
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            time.sleep(0.02)
            with lock:
                in_flight -= 1
            slot.settle(10, 10)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 3
    assert gov.snapshot()["calls"] == 16


def test_share_splits_budget_and_limits() -> None:
    gov = CostGovernor(5.0, rpm=50, tpm=40_000, concurrency=8, pipeline="company_graph")
    part = gov.share(4)
    assert part.budget_usd == pytest.approx(1.25)
    assert (part.limiter.rpm, part.limiter.tpm, part.concurrency) == (12, 10_000, 2)
    assert part.pipeline == "company_graph"
    tiny = gov.share(100)
    assert (tiny.limiter.rpm, tiny.concurrency) == (1, 1)  # never below 1
    assert CostGovernor(0, 10, 10, 1, "p").share(3).budget_usd == 0  # unlimited stays so
    with pytest.raises(ValueError, match="n >= 1"):
        gov.share(0)


def test_from_settings_and_pickle() -> None:
    settings = Settings(llm_budget_usd=2.5, llm_rpm=120, llm_tpm=90_000, llm_concurrency=6)
    gov = CostGovernor.from_settings(settings, "company_graph")
    assert (gov.budget_usd, gov.limiter.rpm, gov.limiter.tpm) == (2.5, 120, 90_000)
    with gov.reserve("claude-haiku-4-5", 10, 10) as slot:
        slot.settle(10, 10)
    copy = pickle.loads(pickle.dumps(gov))  # noqa: S301 - our own bytes
    assert (copy.budget_usd, copy.limiter.rpm, copy.concurrency) == (2.5, 120, 6)
    assert copy.snapshot()["calls"] == 0  # a fresh governor, as a Ray actor gets
