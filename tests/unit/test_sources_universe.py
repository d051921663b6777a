"""The company universe from pytickersymbols and the parsers of its free-text metadata."""

from __future__ import annotations

import random
import subprocess
import sys
import time

import pytest
from pytickersymbols import PyTickerSymbols

from axiom.domain.models import Company, KeyPerson
from axiom.errors import InputError, UnknownUniverseError
from axiom.sources.metadata import (
    normalise_country,
    parse_employees,
    parse_headquarters,
    parse_key_people,
    parse_revenue,
    parse_website,
)
from axiom.sources.sectors import SECTORS, sector_for
from axiom.sources.universe import find_companies, load_universe, universe_names


@pytest.fixture(scope="module")
def everyone() -> list[Company]:
    return load_universe()


def test_all_has_every_symbol_once_sorted(everyone: list[Company]) -> None:
    symbols = [c.symbol for c in everyone]
    assert len(everyone) > 1700
    assert symbols == sorted(symbols)
    assert len(set(symbols)) == len(symbols)
    records = PyTickerSymbols().get_all_stocks()
    with_symbol = {r["symbol"] for r in records if r.get("symbol")}
    assert set(symbols) == with_symbol
    assert sum(1 for r in records if not r.get("symbol")) > 40


def test_index_sizes() -> None:
    assert len(load_universe("DOW JONES")) == 30
    assert 480 <= len(load_universe("S&P 500")) <= 510
    assert 95 <= len(load_universe("NASDAQ 100")) <= 101
    assert len(load_universe("DAX")) == 40


def test_apple(everyone: list[Company]) -> None:
    aapl = next(c for c in everyone if c.symbol == "AAPL")
    assert aapl.name == "Apple Inc."
    assert aapl.isin == "US0378331005"
    assert (aapl.hq_city, aapl.hq_country) == ("Cupertino", "United States")
    assert aapl.country == "United States"
    assert KeyPerson("Tim Cook", ("ceo",)) in aapl.key_people
    assert aapl.revenue == 416e9
    assert aapl.revenue_currency == "USD"
    assert aapl.employees == 166_000
    assert {"DOW JONES", "NASDAQ 100", "S&P 500"} <= set(aapl.indices)
    assert aapl.sector == "Information Technology"
    assert aapl.currency == "USD"
    assert aapl.website == "apple.com"


def test_shared_symbol_is_merged_with_all_memberships(everyone: list[Company]) -> None:
    apam = [c for c in everyone if c.symbol == "APAM"]
    assert len(apam) == 1
    assert {"CAC Mid 60", "S&P 600"} <= set(apam[0].indices)
    assert apam[0] == load_universe("all")[[c.symbol for c in everyone].index("APAM")]


def test_every_company_is_well_formed(everyone: list[Company]) -> None:
    names = set(universe_names())
    for c in everyone:
        assert c.sector in SECTORS
        assert c.indices and set(c.indices) <= names
        assert c.revenue is None or c.revenue > 0
        assert c.employees is None or c.employees > 0
        assert c.revenue_currency is None or c.revenue is not None
        assert Company.from_payload(c.to_payload()) == c
    assert sum(c.hq_city is not None for c in everyone) > 1300
    assert sum(c.revenue is not None for c in everyone) > 1200
    assert sum(bool(c.key_people) for c in everyone) > 1300
    assert len({c.sector for c in everyone}) == 12


def test_members_of_an_index_list_it() -> None:
    for company in load_universe("nikkei 225"):
        assert "NIKKEI 225" in company.indices
        assert company.currency == "JPY"


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("sp500", "S&P 500"),
        ("S&P 500", "S&P 500"),
        ("s&p_500", "S&P 500"),
        ("  S & P 500 ", "S&P 500"),
        ("dow jones", "DOW JONES"),
        ("DOW_JONES", "DOW JONES"),
        ("djia", "DOW JONES"),
        ("nasdaq100", "NASDAQ 100"),
        ("cac 40", "CAC_40"),
        ("ALL", "all"),
    ],
)
def test_names_match_loosely(alias: str, canonical: str) -> None:
    assert load_universe(alias) == load_universe(canonical)


def test_unknown_name_is_one_helpful_line() -> None:
    with pytest.raises(UnknownUniverseError) as info:
        load_universe("sp5000")
    message = str(info.value)
    assert isinstance(info.value, InputError)
    assert "\n" not in message
    assert "'sp5000'" in message
    assert "'S&P 500'" in message
    assert "axiom universes" in message


def test_unknown_name_without_near_match_still_says_how_to_list() -> None:
    with pytest.raises(UnknownUniverseError, match=r"run 'axiom universes' to list all 21$"):
        load_universe("zzzzzzzzzzzz")


def test_universe_names() -> None:
    names = universe_names()
    assert names[0] == "all"
    assert {"AEX", "DAX", "DOW JONES", "NASDAQ 100", "S&P 500", "FTSE 100"} <= set(names)
    assert len(names) == len(set(names)) == 21


def test_find_companies() -> None:
    found = find_companies(["AAPL", "MSFT", "NOPE"])
    assert set(found) == {"AAPL", "MSFT"}
    assert found["MSFT"].sector == "Information Technology"


def test_cold_load_time_and_cache() -> None:
    code = (
        "import time; t = time.perf_counter(); "
        "from axiom.sources.universe import load_universe; n = len(load_universe()); "
        "print(n, time.perf_counter() - t)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    print(f"cold universe load: {float(out[1]):.3f} s for {out[0]} companies")
    assert int(out[0]) > 1700
    assert float(out[1]) < 5.0  # a regression guard; the benchmark figure is ~0.5 s
    load_universe()
    started = time.perf_counter()
    load_universe("S&P 500")
    assert time.perf_counter() - started < 0.05


# --- parsers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Montabaur , Germany", ("Montabaur", "Germany")),
        ("Apple Park, Cupertino, California , US", ("Cupertino", "United States")),
        ("New York", ("New York", "Fallbackland")),
        ("No headquarters : 16", (None, None)),
        ("Washington, D.C. , US", ("Washington", "United States")),
        ("1014 Vine Street, Cincinnati , Ohio, U.S.", ("Cincinnati", "United States")),
        ("Cincinnati, Ohio", ("Cincinnati", "United States")),
        ("Helsinki , Uusimaa , Finland", ("Helsinki", "Finland")),
        ("London , England, UK", ("London", "United Kingdom")),
        ("Tokyo 100-0006 Japan", ("Tokyo", "Japan")),
        ("Spain", (None, "Spain")),
        ("Harborside, Jersey City , New Jersey , U.S.", ("Jersey City", "United States")),
        ("St. Petersburg, Florida , U.S.", ("St. Petersburg", "United States")),
        (
            "Registered office : Madrid , Spain Corporate headquarters : London , England, UK",
            ("Madrid", "Spain"),
        ),
        (
            "Fremont, California , United States (operational) Dublin , Ireland (legal)",
            ("Fremont", "United States"),
        ),
        (
            "New York City , U.S. 40°45′47″N 73°58′17″W \ufeff / \ufeff 40.76307°N",
            ("New York City", "United States"),
        ),
        ("", (None, None)),
        (None, (None, None)),
        (17, (None, None)),
    ],
)
def test_parse_headquarters(text: object, expected: tuple[str | None, str | None]) -> None:
    assert parse_headquarters(text, "Fallbackland") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("US", "United States"),
        ("U.S.", "United States"),
        ("United States", "United States"),
        ("Houston, Texas", "United States"),
        ("Serangoon,North-East Region, Singapore", "Singapore"),
        ("Russian Federation", "Russia"),
        ("The Netherlands", "Netherlands"),
        ("Kazakhstan", "Kazakhstan"),
        ("none", None),
        ("", None),
        (None, None),
    ],
)
def test_normalise_country(text: object, expected: str | None) -> None:
    assert normalise_country(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("US$416 billion (2025)", (416e9, "USD")),
        ("€3.91 billion (2021)", (3.91e9, "EUR")),
        ("€5,683.0 million (2024)", (5.683e9, "EUR")),
        ("2.414 trillion (2023)", (2.414e12, None)),
        ("£ 1,699.4 million (2025)", (1.6994e9, "GBP")),
        ("JP¥ 277.959 billion (March 2024)", (277.959e9, "JPY")),
        ("1,775 billion yen (US$12.503 billon) (FY2024)", (1.775e12, "JPY")),
        ("CHF 20.330 bn (2024)", (20.33e9, "CHF")),
        ("SFr 7,472 million (2025)", (7.472e9, "CHF")),
        ("122.878 billion kr (2024)", (122.878e9, "SEK")),
        ("SEKm 147,147 (2023)", (147.147e9, "SEK")),
        ("SEK 60.2 BSEK (2023)", (60.2e9, "SEK")),
        ("US$ 1.25B ( FY 2018 )", (1.25e9, "USD")),
        ("€6,8 billion (2024)", (6.8e9, "EUR")),
        ("918,3 Mio.€ (December 2017)", (918.3e6, "EUR")),
        ("846,431,000 United States dollar (2022)", (846_431_000.0, "USD")),
        ("¥ 4.11 trillion ( US$ 37.45 billion)", (4.11e12, "JPY")),
        ("JPY 0 11 trillion (2013)", (None, None)),
        ("about as much as last year", (None, None)),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_parse_revenue(text: object, expected: tuple[float | None, str | None]) -> None:
    assert parse_revenue(text) == expected


def test_krone_follows_the_listing_currency() -> None:
    assert parse_revenue("43.35 billion kr (2021)", "NOK") == (43.35e9, "NOK")
    assert parse_revenue("43.35 billion kr (2021)", "EUR") == (43.35e9, "SEK")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("166,000 (2025)", 166_000),
        ("c. 6,000 (2026)", 6_000),
        ("1500", 1_500),
        (9600, 9_600),
        ("105.541 (December 31, 2024)", 105_541),
        ("3 500", 3_500),
        ("~ 1300", 1_300),
        ("Approximately 12,000", 12_000),
        ("Consolidated : 33,431 Non-consolidated : 8,034", 33_431),
        ("Over 1 million (est.)", 1_000_000),
        ("", None),
        ("approx.", None),
        (0, None),
        (True, None),
        (None, None),
    ],
)
def test_parse_employees(value: object, expected: int | None) -> None:
    assert parse_employees(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Arthur Levinson ( chairman ) Tim Cook ( CEO )",
            [("Arthur Levinson", ("chairman",)), ("Tim Cook", ("ceo",))],
        ),
        (
            "Sean O’Connor (CEO) Bill Dunaway (CFO)",
            [("Sean O’Connor", ("ceo",)), ("Bill Dunaway", ("cfo",))],
        ),
        (
            "Bill Fehrman ( chairman , president & CEO )",
            [("Bill Fehrman", ("chairman", "president", "ceo"))],
        ),
        (
            "Carsten Knobel ( CEO and chairman of the executive board)",
            [("Carsten Knobel", ("ceo", "chairman of the executive board"))],
        ),
        (
            "Tatsuya Kataoka(businessman) ( President )",
            [("Tatsuya Kataoka", ("president",))],
        ),
        (
            "Eugene I. Lee, Jr. ( chairman ) Shane O'Kelly ( CEO , president )",
            [("Eugene I. Lee Jr.", ("chairman",)), ("Shane O'Kelly", ("ceo", "president"))],
        ),
        (
            "Gale Klappa, Executive Chairman, Scott Lauber, CEO",
            [("Gale Klappa", ("executive chairman",)), ("Scott Lauber", ("ceo",))],
        ),
        (
            "- Steven B. Tanger - Chairman - Stephen Yalof - Chief Executive Officer",
            [("Steven B. Tanger", ("chairman",)), ("Stephen Yalof", ("chief executive officer",))],
        ),
        ("Brian Protiva ( co- CEO )", [("Brian Protiva", ("co-ceo",))]),
        ("Lei Chen", [("Lei Chen", ())]),
        ("((( )))", []),
        ("", []),
        (None, []),
    ],
)
def test_parse_key_people(text: object, expected: list[tuple[str, tuple[str, ...]]]) -> None:
    assert [(p.name, p.roles) for p in parse_key_people(text)] == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("apple.com", "apple.com"),
        ("www.boy.co.jp (en)", "www.boy.co.jp"),
        ("adva.com at the Wayback Machine (archived 2020-03-11)", "adva.com"),
        ("https://example.org/", "https://example.org"),
        ("n/a", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_website(value: object, expected: str | None) -> None:
    assert parse_website(value) == expected


def test_parsers_never_raise_on_junk() -> None:
    rng = random.Random(5)
    alphabet = "aZ09 ,.;:()[]$€£¥-–/&°\ufeff'\"\n\t"
    junk: list[object] = [None, 0, -3, 2.5, True, b"bytes", [], {"a": 1}]
    junk += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(500)]
    for value in junk:
        parse_headquarters(value, "X")
        parse_revenue(value, "SEK")
        parse_employees(value)
        parse_key_people(value)
        parse_website(value)
        if isinstance(value, str):
            normalise_country(value)


@pytest.mark.parametrize(
    ("industries", "sector"),
    [
        (("Information technology", "Technology Equipment"), "Information Technology"),
        (("Banking & Investment Services", "Banks"), "Financials"),
        (("Real estate investment trust",), "Real Estate"),
        (("Mortgage REITs",), "Financials"),
        (("Oil & Gas", "Fossil Fuels"), "Energy"),
        (("Pharmaceuticals",), "Health Care"),
        (("Consumer Cyclicals", "Retailers"), "Consumer Discretionary"),
        (("Food & Beverages",), "Consumer Staples"),
        (("Electric Utilities",), "Utilities"),
        (("Chemicals", "Steel"), "Materials"),
        (("Telecommunications",), "Communication Services"),
        (("Aerospace & Defense",), "Industrials"),
        (
            ("Social media", "Social media Advertising", "Computer Software"),
            "Communication Services",
        ),
        (("Immobilien",), "Real Estate"),
        (("Italian cuisine",), "Other"),
        ((), "Other"),
    ],
)
def test_sector_for(industries: tuple[str, ...], sector: str) -> None:
    assert sector_for(industries) == sector
