"""Cache updater: the seed's "Redis cache updater" (any cache by URL).

Keys (all JSON values):

* ``bar:latest:<SYMBOL>`` — the newest bar; an older re-delivered bar never overwrites it.
* ``events:recent:<SYMBOL>`` — the 20 newest events of the symbol.
* ``risk:top:<SCENARIO>`` — the 25 largest losses of a scenario.
* ``graph:stats`` — deleted on every graph mutation (readers recompute with a TTL).

Every change is also published on the ``axiom:updates`` channel for live clients.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from axiom.consumers.runner import Batch, Sink
from axiom.domain.models import MarketEvent, PriceBars, RiskScore
from axiom.domain.topics import GRAPH_MUTATIONS, MARKET_EVENTS, PRICE_UPDATES, RISK_SCORES

if TYPE_CHECKING:
    from axiom.stores.base import Cache

UPDATES_CHANNEL = "axiom:updates"
GRAPH_STATS_KEY = "graph:stats"
RECENT_EVENTS = 20
RISK_TOP = 25


def latest_bar_key(symbol: str) -> str:
    """Cache key of a symbol's newest bar."""
    return f"bar:latest:{symbol}"


def _merge_top(
    old: bytes | None, new: list[dict[str, Any]], key: str, sort: str, limit: int
) -> list[dict[str, Any]]:
    items = {d[key]: d for d in (orjson.loads(old) if old else [])}
    items.update({d[key]: d for d in new})
    return sorted(items.values(), key=lambda d: d[sort], reverse=True)[:limit]


class CacheUpdater(Sink):
    """Keeps the hot keys above current."""

    name = "cache-updater"
    database = "cache"
    topics = (PRICE_UPDATES, MARKET_EVENTS, RISK_SCORES, GRAPH_MUTATIONS)
    #: A graph mutation only invalidates ``graph:stats``; its content is not read.
    signals = frozenset({GRAPH_MUTATIONS})
    #: Only a message's newest bar is cached.
    price_tail = 1

    def __init__(self, cache: Cache) -> None:
        self.cache = cache

    def _bars(self, bars: list[PriceBars]) -> dict[str, bytes]:
        newest: dict[str, dict[str, Any]] = {}
        for b in bars:
            if len(b) == 0:
                continue
            i = len(b) - 1
            day = str(b.dates[i])
            if b.symbol not in newest or newest[b.symbol]["day"] < day:
                newest[b.symbol] = {
                    "symbol": b.symbol,
                    "day": day,
                    "open": float(b.open[i]),
                    "high": float(b.high[i]),
                    "low": float(b.low[i]),
                    "close": float(b.close[i]),
                    "volume": float(b.volume[i]),
                    "simulated": b.simulated,
                }
        keys = [latest_bar_key(s) for s in newest]
        current = self.cache.get_many(keys)
        out: dict[str, bytes] = {}
        for key, old, bar in zip(keys, current, newest.values(), strict=True):
            if old is None or orjson.loads(old)["day"] <= bar["day"]:
                out[key] = orjson.dumps(bar)
        return out

    def _events(self, events: list[MarketEvent]) -> dict[str, bytes]:
        by_symbol: dict[str, list[dict[str, Any]]] = {}
        for e in events:
            by_symbol.setdefault(e.symbol, []).append(e.to_payload())
        keys = [f"events:recent:{s}" for s in by_symbol]
        olds = self.cache.get_many(keys)
        return {
            k: orjson.dumps(_merge_top(old, new, "event_id", "day", RECENT_EVENTS))
            for k, old, new in zip(keys, olds, by_symbol.values(), strict=True)
        }

    def _risk(self, scores: list[RiskScore]) -> dict[str, bytes]:
        by_scenario: dict[str, list[dict[str, Any]]] = {}
        for s in scores:
            by_scenario.setdefault(s.scenario_id, []).append(s.to_payload())
        keys = [f"risk:top:{s}" for s in by_scenario]
        olds = self.cache.get_many(keys)
        return {
            k: orjson.dumps(_merge_top(old, new, "symbol", "loss", RISK_TOP))
            for k, old, new in zip(keys, olds, by_scenario.values(), strict=True)
        }

    def write(self, batch: Batch) -> int:
        """Update the keys of this batch in one round trip, then notify subscribers."""
        items: dict[str, bytes] = {}
        items.update(self._bars(batch.of(PRICE_UPDATES)))
        items.update(self._events(batch.of(MARKET_EVENTS)))
        items.update(self._risk(batch.of(RISK_SCORES)))
        if items:
            self.cache.set_many(items)
        if batch.of(GRAPH_MUTATIONS):
            self.cache.delete(GRAPH_STATS_KEY)
        if items:
            self.cache.publish(
                UPDATES_CHANNEL, orjson.dumps({"keys": sorted(items)[:100], "count": len(items)})
            )
        return len(items)
