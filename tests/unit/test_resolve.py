"""Entity resolution against the real universe (pytickersymbols), plus a few synthetic cases."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from axiom.agents.resolve import EntityResolver, Resolution, normalise_name
from axiom.domain.models import Company
from axiom.sources.universe import load_universe


@pytest.fixture(scope="module")
def resolver() -> EntityResolver:
    return EntityResolver(load_universe())


def _ids(resolver: EntityResolver, *names: str) -> set[str]:
    return {resolver.resolve(n).node_id for n in names}


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("Apple Inc.", "exact"),
        ("apple inc.", "exact"),
        ("Apple", "normalised"),
        ("apple inc", "normalised"),
        ("APPLE, INC", "normalised"),
        ("The Apple Company", "normalised"),
        ("AAPL", "ticker"),
        ("$AAPL", "ticker"),
        ("NASDAQ: AAPL", "ticker"),
        ("US0378331005", "isin"),
    ],
)
def test_apple_variants_resolve_to_aapl(resolver: EntityResolver, name: str, method: str) -> None:
    r = resolver.resolve(name)
    assert (r.kind, r.node_id, r.symbol, r.method) == ("company", "Company:AAPL", "AAPL", method)
    assert r.canonical_name == "Apple Inc." and r.score == 1.0 and r.is_company


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("Microsoft Corporation", "MSFT"),
        ("Nvidia Corporation", "NVDA"),
        ("NVIDIA", "NVDA"),
        ("The Walt Disney Company", "DIS"),
        ("Walt Disney", "DIS"),
        ("Volkswagen AG", "VOW3.DE"),
        ("Toyota Motor Corporation", "7203.T"),
        ("Ford", "F"),
        ("Nestlé S.A.", "NESN.SW"),
        ("L'Oreal", "OR.PA"),
        ("McDonald's", "MCD"),
        ("Meta Platforms, Inc.", "META"),
        ("Taiwan Semiconductor Manufacturing Co., Ltd.", None),
        ("SAP SE", "SAP.DE"),
        ("VOW3.DE", "VOW3.DE"),
        ("UCB", "UCB.BR"),  # the company named UCB, not the bank whose symbol is UCB
    ],
)
def test_name_forms(resolver: EntityResolver, name: str, symbol: str | None) -> None:
    assert resolver.resolve(name).symbol == symbol


@pytest.mark.parametrize(
    ("name", "symbol"),
    [
        ("Google", "GOOGL"),
        ("Facebook", "META"),
        ("VW", "VOW3.DE"),
        ("Amazon Web Services", "AMZN"),
        ("Merck KGaA", "MRK.DE"),
        ("General Electric", "GE"),
    ],
)
def test_aliases(resolver: EntityResolver, name: str, symbol: str) -> None:
    r = resolver.resolve(name)
    assert (r.symbol, r.method) == (symbol, "alias")


def test_fuzzy_typo_needs_threshold_and_margin(resolver: EntityResolver) -> None:
    r = resolver.resolve("Microsfot Corporation")
    assert (r.node_id, r.method) == ("Company:MSFT", "fuzzy")
    assert 0.88 <= r.score < 1.0
    assert resolver.resolve("Volkswagon").symbol == "VOW3.DE"
    # two near-identical names: a typo between them is ambiguous, never merged
    twins = EntityResolver([Company("AA", "Acme Widgets"), Company("BB", "Acme Widgetz")])
    r = twins.resolve("Acme Widgetx")
    assert r.kind == "external" and r.ambiguous == ("AA", "BB") and r.method == "unresolved"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Apple Hospitality", "Company:APLE"),
        ("Apple Hospitality REIT, Inc.", "Company:APLE"),
        ("Applied Materials", "Company:AMAT"),
        ("American Express", "Company:AXP"),
        ("American Electric Power", "Company:AEP"),
        ("American Airlines", "External:american-airlines"),
        ("General Motors", "Company:GM"),
        ("General Dynamics", "Company:GD"),
        ("General Mills", "Company:GIS"),
        ("Siemens", "Company:SIE.DE"),
        ("Siemens Energy", "Company:ENR.DE"),
        ("Siemens Healthineers", "Company:SHL.DE"),
        ("Coca-Cola", "Company:KO"),
        ("Coca-Cola HBC", "Company:CCH.L"),
        ("Coca-Cola Europacific Partners", "Company:CCEP.L"),
        ("Coca-Cola FEMSA", "External:coca-cola-femsa"),
        ("Porsche SE", "Company:PAH3.DE"),
        ("Porsche AG", "External:porsche-ag"),
        ("SoftBank", "Company:9434.T"),
        ("SoftBank Group", "External:softbank-group"),
        ("Carl Zeiss Meditec", "Company:AFX.DE"),
        ("Carl Zeiss SMT", "External:carl-zeiss-smt"),
        ("Snap-on", "Company:SNA"),
        ("Snap", "External:snap"),
        ("Toyota", "Company:7203.T"),
        ("Toyota Tsusho", "Company:8015.T"),
        ("Ford Otosan", "External:ford-otosan"),
        ("Meta", "Company:META"),
        ("MetaBank", "Company:CASH"),
    ],
)
def test_look_alikes_do_not_merge(resolver: EntityResolver, name: str, expected: str) -> None:
    assert resolver.resolve(name).node_id == expected


def test_ambiguous_names_stay_external_with_candidates(resolver: EntityResolver) -> None:
    merck = resolver.resolve("Merck")
    assert merck.kind == "external" and merck.symbol is None
    assert merck.node_id == "External:merck" and merck.ambiguous == ("MRK", "MRK.DE")
    assert resolver.resolve("Merck & Co.").symbol == "MRK"
    assert resolver.resolve("Merck Group").symbol == "MRK.DE"
    family = resolver.resolve("Mitsubishi")
    assert family.kind == "external" and len(family.ambiguous) >= 5
    assert resolver.resolve("Mitsubishi Electric").symbol == "6503.T"


@pytest.mark.parametrize("word", ["IT", "A", "ON", "ALL", "F", "V", "NOW", "AI"])
def test_common_words_are_not_tickers(resolver: EntityResolver, word: str) -> None:
    r = resolver.resolve(word)
    assert r.symbol not in {"IT", "A", "ON", "ALL", "F", "V", "NOW"}


def test_explicit_ticker_context_allows_short_symbols(resolver: EntityResolver) -> None:
    assert resolver.resolve("$A").symbol == "A"
    assert resolver.resolve("NYSE: F").symbol == "F"
    assert resolver.resolve("$IT").symbol == "IT"
    assert resolver.resolve("GM").symbol == "GM"


def test_external_ids_are_stable_slugs(resolver: EntityResolver) -> None:
    tsmc = _ids(
        resolver,
        "Taiwan Semiconductor Manufacturing Co., Ltd.",
        "Taiwan Semiconductor Manufacturing",
        "Taiwan Semiconductor Manufacturing Company Limited",
        "TSMC",
    )
    assert tsmc == {"External:taiwan-semiconductor-manufacturing"}
    assert _ids(resolver, "Foxconn", "Hon Hai Precision Industry Co., Ltd.") == {"External:foxconn"}
    assert _ids(resolver, "SK On", "SK On Co., Ltd.") == {"External:sk-on"}
    assert _ids(resolver, "Koç Holding", "Koc Holding A.S.") == {"External:koc"}
    fresh = EntityResolver(load_universe())
    for name in ("OpenAI", "Whole Foods Market", "Koç Holding", "21st Century Fox"):
        assert fresh.resolve(name).node_id == resolver.resolve(name).node_id
        assert resolver.resolve(name).kind == "external"
    assert resolver.resolve("Koç Holding").node_id == "External:koc"


def test_resolve_subject(resolver: EntityResolver) -> None:
    apple = resolver.resolve_subject("AAPL")
    assert apple is not None and apple.node_id == "Company:AAPL"
    assert apple.name == apple.canonical_name == "Apple Inc."
    assert (resolver.resolve_subject("vow3.de") or apple).symbol == "VOW3.DE"
    assert (resolver.resolve_subject("SAP") or apple).symbol == "SAP.DE"
    assert resolver.resolve_subject("ZZZZQ") is None


def test_normalise_name() -> None:
    assert normalise_name("The Walt Disney Company") == "walt disney"
    assert normalise_name("Nestlé S.A.") == "nestle"
    assert normalise_name("Apple Hospitality REIT, Inc.") == "apple hospitality"
    assert normalise_name("Alphabet Inc. Class A") == "alphabet"
    assert normalise_name("Procter & Gamble Co.") == "procter and gamble"
    assert normalise_name("Inc.") == "inc"


def test_many_resolutions_are_cached_and_thread_safe(resolver: EntityResolver) -> None:
    companies = load_universe()
    names = [c.name for c in companies] + [c.symbol for c in companies]
    names += [f"{c.name} Holdings" for c in companies] + [c.name.lower() for c in companies]
    names = (names * 3)[:10_000]
    first = [resolver.resolve(n) for n in names]
    with ThreadPoolExecutor(8) as pool:
        again = list(pool.map(resolver.resolve, names))
    assert first == again
    assert all(isinstance(r, Resolution) for r in first)
    by_name = {c.name: c.symbol for c in companies}
    named = [(by_name[n], r) for n, r in zip(names, first, strict=True) if n in by_name]
    assert sum(r.symbol == symbol for symbol, r in named) / len(named) > 0.99
