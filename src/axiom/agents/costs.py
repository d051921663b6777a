"""The cost governor: what LLM calls may cost, how fast they may go, and what they cost.

Every Claude request goes through :meth:`CostGovernor.reserve` (the Claude extractor does
this once per HTTP attempt). The governor guarantees, across all threads that share it:

* **budget** - a call is refused with :class:`~axiom.errors.BudgetExceededError` *before* it
  is sent when what was spent, plus the worst case of the calls in flight, plus the worst
  case of this call (its estimated input and its full ``max_tokens`` output) would pass the
  budget. So the budget is never overrun, whatever the concurrency.
* **rate** - at most ``rpm`` requests and ``tpm`` tokens in any window of 60 s (a sliding
  window, which is what "N per minute" means to a server; it is also safe against the API's
  token buckets, where a full bucket of N plus a minute of refill would let 2N through).
* **concurrency** - at most ``concurrency`` requests in flight.

Spend is booked per company and in total for the CLI's ``--json`` and in the ``CLAUDE_*``
metrics. A governor is per process; work split over n Ray actors gives each actor
:meth:`CostGovernor.share` of the limits so the sum stays within them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from types import TracebackType
from typing import Any

from axiom.agents.extractors.base import Usage
from axiom.errors import BudgetExceededError
from axiom.observability.metrics import CLAUDE_CALLS, CLAUDE_COST, CLAUDE_TOKENS
from axiom.settings import Settings

#: (model id prefix, USD per million input tokens, USD per million output tokens).
#: The longest matching prefix wins; an unknown model is priced as the dearest entry.
PRICES: tuple[tuple[str, float, float], ...] = (
    ("claude-opus-4-5", 5.0, 25.0),
    ("claude-opus-4", 15.0, 75.0),
    ("claude-sonnet-4", 3.0, 15.0),
    ("claude-haiku-4-5", 1.0, 5.0),
    ("claude-3-opus", 15.0, 75.0),
    ("claude-3-7-sonnet", 3.0, 15.0),
    ("claude-3-5-sonnet", 3.0, 15.0),
    ("claude-3-5-haiku", 0.8, 4.0),
    ("claude-3-haiku", 0.25, 1.25),
)
#: Grants are spaced this far beyond the window: the server counts a request when it
#: arrives, and a busy client sends some grants later than others, which packs more of them
#: into one of the server's windows. Measured at 4,000/min with 200 requests in flight on
#: two saturated cores (bench/agent.py): 0.25 s let 31 of 5,389 requests be refused with
#: 429, 2 s none, at 96-98 % of the limit.
SAFETY_MARGIN_S = 2.0


def rates(model: str) -> tuple[float, float]:
    """USD per million (input, output) tokens of ``model`` (``anthropic:`` prefix allowed)."""
    model = model.removeprefix("anthropic:").strip().lower()
    best: tuple[str, float, float] | None = None
    for entry in PRICES:
        if model.startswith(entry[0]) and (best is None or len(entry[0]) > len(best[0])):
            best = entry
    if best is None:  # conservative: never under-estimate what an unknown model costs
        best = max(PRICES, key=lambda e: (e[2], e[1]))
    return best[1], best[2]


def price(model: str, input_tokens: int, output_tokens: int) -> float:
    """Dollars for one call of ``model`` with these token counts."""
    rate_in, rate_out = rates(model)
    return (input_tokens * rate_in + output_tokens * rate_out) / 1_000_000


class _Grant:
    __slots__ = ("at", "live", "tokens")

    def __init__(self, at: float, tokens: int) -> None:
        self.at = at
        self.tokens = tokens
        self.live = True  # still inside the window


class Permit:
    """One granted request; :meth:`settle` replaces its token estimate by the real count."""

    def __init__(self, limiter: RateLimiter, grant: _Grant) -> None:
        self._limiter = limiter
        self._grant = grant

    def settle(self, tokens: int) -> None:
        """Book the real tokens of the request (frees window capacity if it was smaller)."""
        self._limiter._correct(self._grant, max(0, tokens))


class RateLimiter:
    """Thread-safe sliding-window limit of requests and tokens per ``window_s``.

    Called by :class:`CostGovernor` (or directly) right before a request is sent.
    :meth:`acquire` blocks until one more request and ``tokens`` more tokens fit into the
    window; a request of more tokens than ``tpm`` is let through once the window is empty,
    so it waits but never deadlocks. Waiters are not served in strict FIFO order.
    """

    def __init__(
        self,
        rpm: int,
        tpm: int,
        *,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rpm < 1 or tpm < 1 or window_s <= 0:
            raise ValueError("rpm, tpm and window_s must be positive")
        self.rpm = rpm
        self.tpm = tpm
        self.window_s = window_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._grants: deque[_Grant] = deque()
        self._tokens = 0

    def acquire(self, tokens: int = 0) -> Permit:
        """Block until the request fits; the returned permit is already counted."""
        tokens = max(0, int(tokens))
        while True:
            with self._lock:
                now = self._clock()
                self._expire(now)
                wait = self._wait(now, tokens)
                if wait <= 0:
                    grant = _Grant(now, tokens)
                    self._grants.append(grant)
                    self._tokens += tokens
                    return Permit(self, grant)
            self._sleep(wait)

    def _expire(self, now: float) -> None:
        while self._grants and self._grants[0].at + self.window_s <= now:
            gone = self._grants.popleft()
            gone.live = False
            self._tokens -= gone.tokens

    def _wait(self, now: float, tokens: int) -> float:
        """Seconds until one more request of ``tokens`` fits (<= 0: it fits now)."""
        grants, wait = self._grants, 0.0
        if len(grants) >= self.rpm:  # the oldest len-rpm+1 grants must leave the window
            wait = grants[len(grants) - self.rpm].at + self.window_s - now
        if grants and self._tokens + tokens > self.tpm:
            if tokens >= self.tpm:  # bigger than the bucket: wait for an empty window
                return max(wait, grants[-1].at + self.window_s - now)
            left = self._tokens
            for grant in grants:
                left -= grant.tokens
                if left + tokens <= self.tpm:
                    return max(wait, grant.at + self.window_s - now)
        return wait

    def _correct(self, grant: _Grant, tokens: int) -> None:
        with self._lock:
            if grant.live:
                self._tokens += tokens - grant.tokens
            grant.tokens = tokens


@dataclass(slots=True)
class _Book:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, usage: Usage) -> None:
        self.calls += usage.calls
        self.input_tokens += usage.input_tokens
        self.output_tokens += usage.output_tokens
        self.cost_usd += usage.cost_usd


class Reservation:
    """One request's slot: budget held on creation, rate and concurrency on ``with``.

    ``with governor.reserve(...) as slot:`` waits for a concurrency slot and the rate
    limiter; the caller sends the request inside the block and calls :meth:`settle` with
    the response's usage. Leaving the block releases the slot and whatever part of the
    worst-case reservation was not spent; a block left without ``settle`` (the request
    failed) books no cost and counts a failed call.
    """

    def __init__(self, gov: CostGovernor, model: str, company: str, worst: float, tok: int):
        self._gov, self.model, self.company = gov, model, company
        self._worst, self._tokens = worst, tok
        self._permit: Permit | None = None
        self._entered = False
        self._done = False

    def __enter__(self) -> Reservation:
        self._gov._slots.acquire()
        self._entered = True
        try:
            self._permit = self._gov.limiter.acquire(self._tokens)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def settle(self, input_tokens: int, output_tokens: int) -> Usage:
        """Book the response's real usage; returns it priced (``calls=1``)."""
        usage = Usage(
            1, input_tokens, output_tokens, price(self.model, input_tokens, output_tokens)
        )
        if self._permit is not None:
            self._permit.settle(input_tokens + output_tokens)
        self._gov._book(self, usage)
        self._done = True
        return usage

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._entered:
            self._entered = False
            self._gov._slots.release()
        if not self._done:
            self._done = True
            self._gov._book(self, None)


class CostGovernor:
    """Budget, rate and concurrency for every LLM call of one process (thread-safe).

    Args:
        budget_usd: the most the calls may cost; 0 = unlimited.
        rpm: requests per window (60 s).
        tpm: input + output tokens per window.
        concurrency: requests in flight at once.
        pipeline: label of the ``CLAUDE_COST`` metric.
        window_s: the rate window (60; shorter only to compress test time).
        clock: monotonic clock of the rate limiter.
        sleep: how the rate limiter waits.
    """

    def __init__(
        self,
        budget_usd: float,
        rpm: int,
        tpm: int,
        concurrency: int,
        pipeline: str,
        *,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if budget_usd < 0 or concurrency < 1:
            raise ValueError("budget_usd must be >= 0 and concurrency >= 1")
        self.budget_usd = budget_usd
        self.concurrency = concurrency
        self.pipeline = pipeline
        self.window_s = window_s
        self.limiter = RateLimiter(
            rpm, tpm, window_s=window_s + SAFETY_MARGIN_S, clock=clock, sleep=sleep
        )
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._reserved = 0.0
        self._failed = 0
        self._total = _Book()
        self._companies: dict[str, _Book] = {}
        self._models: dict[str, _Book] = {}

    @classmethod
    def from_settings(cls, settings: Settings, pipeline: str) -> CostGovernor:
        """The governor of ``AXIOM_LLM_BUDGET_USD`` / ``_RPM`` / ``_TPM`` / ``_CONCURRENCY``."""
        return cls(
            settings.llm_budget_usd,
            settings.llm_rpm,
            settings.llm_tpm,
            settings.llm_concurrency,
            pipeline,
        )

    def share(self, n: int) -> CostGovernor:
        """A fresh governor with 1/n of the budget and limits (never below 1 per limit).

        Used when the work is split over ``n`` Ray actors, each with its own governor; the
        sum of the shares stays within the limits as long as ``n`` <= each limit.
        """
        if n < 1:
            raise ValueError("share(n) needs n >= 1")
        return CostGovernor(
            self.budget_usd / n,
            max(1, self.limiter.rpm // n),
            max(1, self.limiter.tpm // n),
            max(1, self.concurrency // n),
            self.pipeline,
            window_s=self.window_s,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles as its configuration (a fresh, unspent governor) for Ray actors."""
        args = (self.budget_usd, self.limiter.rpm, self.limiter.tpm, self.concurrency)
        return (_rebuild, (*args, self.pipeline, self.window_s))

    def reserve(
        self, model: str, est_input_tokens: int, max_output_tokens: int, company: str = ""
    ) -> Reservation:
        """Hold the worst-case cost of one request, or refuse it.

        Called right before each request (each retry too). Raises BudgetExceededError,
        and nothing is sent, when the request could take the spend past the budget.
        """
        worst = price(model, est_input_tokens, max_output_tokens)
        with self._lock:
            spent = self._total.cost_usd
            if self.budget_usd > 0 and spent + self._reserved + worst > self.budget_usd:
                held = (
                    f" (+{_usd(self._reserved)} held by calls in flight)" if self._reserved else ""
                )
                raise BudgetExceededError(
                    f"LLM budget of {_usd(self.budget_usd)} reached: {_usd(spent)} spent on "
                    f"{self._total.calls} calls{held}; raise AXIOM_LLM_BUDGET_USD to continue"
                )
            self._reserved += worst
        return Reservation(self, model, company, worst, est_input_tokens + max_output_tokens)

    def _book(self, slot: Reservation, usage: Usage | None) -> None:
        with self._lock:
            self._reserved = max(0.0, self._reserved - slot._worst)
            if usage is None:
                self._failed += 1
                return
            self._total.add(usage)
            self._companies.setdefault(slot.company, _Book()).add(usage)
            self._models.setdefault(slot.model, _Book()).add(usage)
        book_metrics(slot.model, self.pipeline, 1, usage.input_tokens, usage.output_tokens,
                     usage.cost_usd)  # fmt: skip

    @property
    def spent_usd(self) -> float:
        """Dollars booked so far."""
        with self._lock:
            return self._total.cost_usd

    def snapshot(self) -> dict[str, Any]:
        """Totals and per-company / per-model usage, JSON-ready (the CLI's ``--json``)."""
        with self._lock:
            return {
                "pipeline": self.pipeline,
                "budget_usd": self.budget_usd,
                "reserved_usd": self._reserved,
                "failed_calls": self._failed,
                **asdict(self._total),
                "companies": {k: asdict(v) for k, v in sorted(self._companies.items())},
                "models": {k: asdict(v) for k, v in sorted(self._models.items())},
            }


def book_metrics(
    model: str, pipeline: str, calls: int, input_tokens: int, output_tokens: int, cost: float
) -> None:
    """Add spend to the ``CLAUDE_*`` metrics of this process.

    Called by the governor for each settled call, and by the driver of a Ray run for what
    its actors spent (their metrics live in the actors' processes, which nobody scrapes).
    """
    CLAUDE_CALLS.labels(model=model).inc(calls)
    CLAUDE_COST.labels(pipeline=pipeline).inc(cost)
    CLAUDE_TOKENS.labels(model=model, pipeline=pipeline, direction="input").inc(input_tokens)
    CLAUDE_TOKENS.labels(model=model, pipeline=pipeline, direction="output").inc(output_tokens)


def combine(snapshots: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One snapshot from the snapshots of several governors (e.g. one per Ray actor)."""
    out: dict[str, Any] = {"companies": {}, "models": {}}
    keys = ("budget_usd", "reserved_usd", "failed_calls", "calls", "input_tokens")
    for snap in snapshots:
        out.setdefault("pipeline", snap["pipeline"])
        for key in (*keys, "output_tokens", "cost_usd"):
            out[key] = out.get(key, 0) + snap[key]
        for part in ("companies", "models"):
            for name, book in snap[part].items():
                into = out[part].setdefault(name, dict.fromkeys(book, 0))
                for k, v in book.items():
                    into[k] += v
    return out


def _usd(amount: float) -> str:
    """``$0.49``, but ``$0.0006`` for amounts that would print as ``$0.00``."""
    return f"${amount:.2f}" if amount == 0 or amount >= 0.01 else f"${amount:.4f}"


def _rebuild(
    budget: float, rpm: int, tpm: int, concurrency: int, pipeline: str, window_s: float
) -> CostGovernor:
    return CostGovernor(budget, rpm, tpm, concurrency, pipeline, window_s=window_s)
