"""The company universe: real index constituents from the ``pytickersymbols`` package.

``load_universe("S&P 500")`` is what the CLI, the API and the pipelines call to know which
companies exist. The package ships ~1,800 companies of 20 indices (AEX to TecDAX) with
ISINs, industries and Wikipedia metadata; this module turns each record into a
:class:`~axiom.domain.models.Company` with a derived sector, parsed headquarters, key
people, revenue and head count. Loading happens on first use (never at import) and is
cached for the life of the process.

Records without a symbol are skipped. Two records sharing a symbol are merged: the one with
more data is kept (ties: the name that sorts first) and their index memberships are
united. Membership of an index is by name or by symbol, because the package lists some
companies under a different symbol in one index than in another.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable
from typing import Any

from axiom.domain.models import Company
from axiom.errors import UnknownUniverseError
from axiom.sources.metadata import (
    normalise_country,
    parse_employees,
    parse_headquarters,
    parse_key_people,
    parse_revenue,
    parse_website,
)
from axiom.sources.sectors import sector_for

#: The universe that holds every company.
ALL = "all"

#: Short names people use for an index; keys are already normalised (see ``_norm``).
_ALIASES: dict[str, str] = {
    "djia": "DOW JONES",
    "dow": "DOW JONES",
    "dow30": "DOW JONES",
    "ndx": "NASDAQ 100",
    "nasdaq": "NASDAQ 100",
    "spx": "S&P 500",
    "sp": "S&P 500",
    "oex": "S&P 100",
    "nikkei": "NIKKEI 225",
    "n225": "NIKKEI 225",
    "ftse": "FTSE 100",
    "ukx": "FTSE 100",
    "cac": "CAC_40",
    "smi": "Switzerland 20",
    "stoxx50": "EURO STOXX 50",
    "sx5e": "EURO STOXX 50",
    "eurostoxx": "EURO STOXX 50",
    "omxs30": "OMX Stockholm 30",
    "omxh25": "OMX Helsinki 25",
    "ibex": "IBEX 35",
}


def _norm(name: str) -> str:
    """Lower-case with everything but letters and digits removed: "S&P 500" -> "sp500"."""
    return re.sub(r"[^0-9a-z]", "", name.lower())


@functools.lru_cache(maxsize=1)
def _raw() -> tuple[tuple[str, ...], tuple[dict[str, Any], ...], dict[str, tuple[str, ...]]]:
    """(index names, company records, record key -> indices), read once per process."""
    from pytickersymbols import PyTickerSymbols

    tickers = PyTickerSymbols()
    indices = tuple(str(i) for i in tickers.get_all_indices())
    by_name: dict[str, list[str]] = {}
    by_symbol: dict[str, list[str]] = {}
    for index in indices:
        for rec in tickers.get_stocks_by_index(index):
            for table, key in ((by_name, rec.get("name")), (by_symbol, rec.get("symbol"))):
                if isinstance(key, str) and key and index not in table.setdefault(key, []):
                    table[key].append(index)
    records = tuple(r for r in tickers.get_all_stocks() if isinstance(r, dict))
    members: dict[str, tuple[str, ...]] = {}
    for rec in records:
        found = set(by_name.get(str(rec.get("name")), ()))
        found |= set(by_symbol.get(str(rec.get("symbol")), ()))
        members[_record_key(rec)] = tuple(i for i in indices if i in found)
    return indices, records, members


def _record_key(rec: dict[str, Any]) -> str:
    return f"{rec.get('name')}\x00{rec.get('symbol')}"


def _richness(rec: dict[str, Any]) -> int:
    """How much a record tells: filled top-level fields plus metadata entries."""
    meta = rec.get("metadata")
    return sum(1 for v in rec.values() if v) + (len(meta) if isinstance(meta, dict) else 0)


#: Currency of the exchange a Yahoo ticker suffix names (".T" -> Tokyo -> JPY).
_SUFFIX_CURRENCY = {
    **dict.fromkeys(("DE", "F", "PA", "AS", "MC", "BR", "HE", "MI", "VI", "LS", "IR"), "EUR"),
    "T": "JPY",
    "L": "GBP",
    "SW": "CHF",
    "ST": "SEK",
    "CO": "DKK",
    "OL": "NOK",
    "HK": "HKD",
    "TO": "CAD",
    "AX": "AUD",
}
_COUNTRY_CURRENCY = {
    "United States": "USD",
    "Japan": "JPY",
    "United Kingdom": "GBP",
    "Switzerland": "CHF",
    "Sweden": "SEK",
    **dict.fromkeys(
        ("Germany", "France", "Netherlands", "Spain", "Finland", "Belgium", "Ireland", "Italy"),
        "EUR",
    ),
}


def _listing_currency(rec: dict[str, Any], symbol: str, country: str | None) -> str | None:
    """Currency of the company's primary listing, the one its symbol names.

    In order: the listing whose Yahoo ticker is the symbol; the exchange of the symbol's
    suffix; the listing whose Google code is the symbol; the home country's currency; the
    first listing with a currency.
    """
    listings = [s for s in rec.get("symbols") or () if isinstance(s, dict) and s.get("currency")]
    for listing in listings:
        if listing.get("yahoo") == symbol:
            return str(listing["currency"])
    _, dot, suffix = symbol.rpartition(".")
    if dot and suffix.upper() in _SUFFIX_CURRENCY:
        return _SUFFIX_CURRENCY[suffix.upper()]
    for listing in listings:
        if str(listing.get("google", "")).rpartition(":")[2] == symbol:
            return str(listing["currency"])
    if country in _COUNTRY_CURRENCY:
        return _COUNTRY_CURRENCY[country]
    return str(listings[0]["currency"]) if listings else None


def _text(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    return " ".join(value.split()) or None


def _company(rec: dict[str, Any], symbol: str, indices: tuple[str, ...]) -> Company:
    meta = rec.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    industries = tuple(t for t in (_text(i) for i in rec.get("industries") or ()) if t)
    isins = [i for i in rec.get("isins") or () if isinstance(i, str) and i]
    country = normalise_country(rec.get("country"))
    currency = _listing_currency(rec, symbol, country)
    hq_city, hq_country = parse_headquarters(meta.get("headquarters"), country)
    revenue, revenue_currency = parse_revenue(meta.get("revenue"), currency)
    return Company(
        symbol=symbol,
        name=_text(rec.get("name")) or symbol,
        isin=isins[0] if isins else None,
        country=country,
        sector=sector_for(industries),
        industries=industries,
        indices=indices,
        hq_city=hq_city,
        hq_country=hq_country,
        key_people=parse_key_people(meta.get("key_people")),
        currency=currency,
        revenue=revenue,
        revenue_currency=revenue_currency if revenue is not None else None,
        employees=parse_employees(meta.get("employees")),
        website=parse_website(meta.get("website")),
    )


@functools.lru_cache(maxsize=1)
def _companies() -> tuple[Company, ...]:
    """Every company with a symbol, one per symbol, sorted by symbol."""
    indices, records, members = _raw()
    groups: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        symbol = _text(rec.get("symbol"))
        if symbol:
            groups.setdefault(symbol, []).append(rec)
    out: list[Company] = []
    for symbol in sorted(groups):
        group = sorted(groups[symbol], key=lambda r: (-_richness(r), str(r.get("name"))))
        found = {i for rec in group for i in members[_record_key(rec)]}
        out.append(_company(group[0], symbol, tuple(i for i in indices if i in found)))
    return tuple(out)


def universe_names() -> list[str]:
    """``"all"`` followed by every index name, in the package's order.

    Called by ``axiom universes`` and by the error message of :func:`load_universe`.
    """
    return [ALL, *_raw()[0]]


def _resolve(name: str) -> str:
    """The canonical universe name for ``name``; raises UnknownUniverseError."""
    names = universe_names()
    table = {_norm(n): n for n in names}
    key = _norm(name)
    if key in table:
        return table[key]
    if key in _ALIASES and _ALIASES[key] in names:
        return _ALIASES[key]
    near = difflib.get_close_matches(key, list(table), n=3, cutoff=0.5)
    hint = ", ".join(repr(table[k]) for k in near)
    did_you_mean = f"did you mean {hint}? " if hint else ""
    raise UnknownUniverseError(
        f"unknown universe {name!r}: {did_you_mean}run 'axiom universes' to list all {len(names)}"
    )


def load_universe(name: str = ALL) -> list[Company]:
    """The companies of universe ``name`` (an index or ``"all"``), sorted by symbol.

    Called by the CLI, the API and the ingestion and graph pipelines. Names match
    case-insensitively ignoring spaces and punctuation ("sp500", "S&P 500", "dow jones"),
    plus a few common short names ("djia", "ndx"). The first call loads and parses the
    package data (well under a second); later calls reuse it. An unknown name raises
    :class:`~axiom.errors.UnknownUniverseError` whose one line suggests the nearest names.
    """
    canonical = _resolve(name)
    companies = _companies()
    if canonical == ALL:
        return list(companies)
    return [c for c in companies if canonical in c.indices]


def find_companies(symbols: Iterable[str]) -> dict[str, Company]:
    """The universe's companies for ``symbols`` (unknown symbols are simply absent)."""
    wanted = set(symbols)
    return {c.symbol: c for c in _companies() if c.symbol in wanted}
