"""Country and region names for reading free-text places ("Cupertino, California, US").

Used by :mod:`axiom.sources.metadata` to split a headquarters string into city and country
and to normalise the universe's ``country`` field. Lookups go through :func:`place_key`, so
"U.S.", "US" and "u.s" are the same key. The tables are data, not logic: adding a country
alias or a region is a one-line change and needs no new code.
"""

from __future__ import annotations

import functools
import re

_NON_WORD = re.compile(r"[.\u00a0]")
_SPACES = re.compile(r"\s+")


@functools.lru_cache(maxsize=8192)
def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text``; keeps long word tables readable."""
    return frozenset(text.split())


@functools.lru_cache(maxsize=8192)
def place_key(text: str) -> str:
    """Lower-case, dots removed, whitespace collapsed: the lookup key of every table here."""
    return _SPACES.sub(" ", _NON_WORD.sub("", text)).strip().lower()


_COUNTRIES: dict[str, tuple[str, ...]] = {
    "United States": ("us", "usa", "united states", "united states of america"),
    "United Kingdom": (
        "uk",
        "united kingdom",
        "great britain",
        "britain",
        "england",
        "scotland",
        "wales",
        "northern ireland",
    ),
    "Netherlands": ("netherlands", "the netherlands", "holland"),
    "Russia": ("russia", "russian federation"),
    "United Arab Emirates": ("uae", "united arab emirates"),
    "Czech Republic": ("czech republic", "czechia"),
    "South Korea": ("south korea", "korea", "republic of korea"),
    "Switzerland": ("switzerland", "schweiz", "suisse"),
    "Germany": ("germany", "deutschland"),
    "China": ("china", "prc", "people's republic of china"),
}

_PLAIN_COUNTRIES = (
    "Argentina Australia Austria Bahamas Belgium Bermuda Brazil Canada Chile Colombia "
    "Curaçao Cyprus Denmark Finland France Greece Guernsey Hong Kong Hungary Iceland India "
    "Indonesia Ireland Isle of Man Israel Italy Japan Jersey Liechtenstein Luxembourg "
    "Malaysia Malta Mexico Monaco New Zealand Norway Panama Peru Philippines Poland Portugal "
    "Puerto Rico Qatar Saudi Arabia Singapore South Africa Spain Sweden Taiwan Thailand "
    "Turkey Cayman Islands British Virgin Islands Jamaica Kazakhstan Nigeria Egypt Morocco"
)
_MULTI_WORD = (
    "Hong Kong",
    "Isle of Man",
    "New Zealand",
    "Puerto Rico",
    "Saudi Arabia",
    "South Africa",
    "Cayman Islands",
    "British Virgin Islands",
)


def _plain_country_names() -> list[str]:
    text = _PLAIN_COUNTRIES
    names = list(_MULTI_WORD)
    for multi in _MULTI_WORD:
        text = text.replace(multi, " ")
    names.extend(text.split())
    return names


#: place_key(alias) -> canonical country name.
COUNTRY_ALIASES: dict[str, str] = {
    **{place_key(n): n for n in _plain_country_names()},
    **{alias: canon for canon, aliases in _COUNTRIES.items() for alias in aliases},
}

_US_STATES = (
    "Alabama Alaska Arizona Arkansas California Colorado Connecticut Delaware Florida "
    "Georgia Hawaii Idaho Illinois Indiana Iowa Kansas Kentucky Louisiana Maine Maryland "
    "Massachusetts Michigan Minnesota Mississippi Missouri Montana Nebraska Nevada Ohio "
    "Oklahoma Oregon Pennsylvania Tennessee Texas Utah Vermont Virginia Washington Wisconsin "
    "Wyoming"
)
_US_MULTI = (
    "New Hampshire",
    "New Jersey",
    "New Mexico",
    "New York",
    "North Carolina",
    "North Dakota",
    "Rhode Island",
    "South Carolina",
    "South Dakota",
    "West Virginia",
    "District of Columbia",
    "DC",
)
#: USPS codes; matched only when a whole part is exactly the upper-case code.
US_STATE_CODES = word_set(
    "AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH "
    "NJ NM NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY"
)

_OTHER_REGIONS: dict[str, tuple[str, ...]] = {
    "Canada": ("Ontario", "Quebec", "British Columbia", "Alberta", "Manitoba", "Nova Scotia"),
    "Germany": (
        "Bavaria",
        "Upper Bavaria",
        "Hesse",
        "Baden-Württemberg",
        "Lower Saxony",
        "North Rhine-Westphalia",
        "Rhineland-Palatinate",
        "Saxony",
        "Saxony-Anhalt",
        "Thuringia",
        "Schleswig-Holstein",
        "Brandenburg",
        "Saarland",
        "Mecklenburg-Vorpommern",
    ),
    "Finland": ("Uusimaa", "Pirkanmaa"),
    "France": ("Île-de-France", "Essonne", "Hauts-de-Seine", "Auvergne-Rhône-Alpes"),
    "Spain": ("Andalusia", "Catalonia", "Community of Madrid", "Basque Country", "Galicia"),
    "Italy": ("Lombardy", "Piedmont", "Lazio", "Emilia-Romagna", "Veneto"),
    "Switzerland": ("Vaud", "Zug", "Canton of Zürich", "Canton of Zurich", "Aargau"),
    "Japan": ("Kanagawa", "Aichi", "Hyōgo", "Hyogo", "Saitama", "Shizuoka", "Kanto"),
    "Sweden": ("Stockholm County", "Skåne", "Västra Götaland"),
    "Belgium": ("Flanders", "Wallonia", "Brussels-Capital Region"),
    "Netherlands": ("North Holland", "South Holland", "Noord-Holland", "Zuid-Holland"),
    "Singapore": ("North-East Region",),
}


def _region_table() -> dict[str, str]:
    text = _US_STATES
    table = {place_key(s): "United States" for s in _US_MULTI}
    table.update({place_key(s): "United States" for s in text.split()})
    for country, regions in _OTHER_REGIONS.items():
        table.update({place_key(r): country for r in regions})
    return table


#: place_key(region) -> the country it lies in (US states, German Länder, prefectures...).
REGIONS: dict[str, str] = _region_table()

#: Words that mark a part as a building or street address rather than a city.
ADDRESS_WORDS = word_set(
    "street avenue ave road boulevard blvd plaza tower towers building "
    "center centre house park square place way lane rue weg straße strasse yards campus "
    "headquarters offices office floor suite"
)


def country_of(part: str) -> str | None:
    """The canonical country ``part`` names exactly, else None."""
    return COUNTRY_ALIASES.get(place_key(part))


def region_country(part: str) -> str | None:
    """The country of the region ``part`` names exactly, else None.

    "California" -> "United States"; "Chiba Prefecture" -> "Japan"; an upper-case USPS
    code such as "AZ" -> "United States".
    """
    stripped = part.strip()
    if stripped in US_STATE_CODES:
        return "United States"
    key = place_key(stripped)
    if key.endswith(" prefecture"):
        return "Japan"
    if key.startswith("canton of "):
        return "Switzerland"
    if key.endswith("shire") and " " not in key:
        return "United Kingdom"
    return REGIONS.get(key)


#: Aliases that also start or end common place names ("Jersey City", "New Jersey"), so
#: they count only when they are a whole part.
_WHOLE_PART_ONLY = frozenset({"jersey"})
#: A country name followed by one of these is a city name ("Mexico City", "Panama City").
_CITY_WORDS = frozenset({"city", "beach", "county"})


def country_prefix(part: str) -> str | None:
    """The country a part starts with, as in "Spain Corporate headquarters", else None."""
    words = place_key(part).split(" ")
    for n in (4, 3, 2, 1):
        if len(words) <= n or words[n] in _CITY_WORDS:
            continue
        alias = " ".join(words[:n])
        if alias not in _WHOLE_PART_ONLY and (hit := COUNTRY_ALIASES.get(alias)):
            return hit
    return None


def country_suffix(part: str) -> tuple[str, str] | None:
    """``(rest, country)`` when a part ends with a country, as in "Tokyo 100-0006 Japan"."""
    words = part.split()
    for n in (4, 3, 2, 1):
        if len(words) <= n or place_key(words[-n - 1]) == "new":
            continue
        alias = place_key(" ".join(words[-n:]))
        if alias not in _WHOLE_PART_ONLY and (hit := COUNTRY_ALIASES.get(alias)):
            return " ".join(words[:-n]), hit
    return None
