"""Parsers for the free-text metadata of the company universe.

The universe's metadata comes from Wikipedia infoboxes, so one field has many shapes:
"US$416 billion (2025)", "€5,683.0 million (2024)", "c. 6,000 (2026)", "Apple Park,
Cupertino, California , US", "Arthur Levinson ( chairman ) Tim Cook ( CEO )". Each parser
here is called by :mod:`axiom.sources.universe` once per company and guarantees it never
raises on odd input: what it cannot read becomes ``None`` (or an empty tuple), never a guess
presented as a fact.
"""

from __future__ import annotations

import functools
import re
from decimal import Decimal, InvalidOperation

from axiom.domain.models import KeyPerson
from axiom.sources.places import (
    ADDRESS_WORDS,
    country_of,
    country_prefix,
    country_suffix,
    place_key,
    region_country,
    word_set,
)

# --- headquarters -----------------------------------------------------------------------

_COORDINATES = re.compile(r"-?\d+(?:\.\d+)?°")
_PARENS = re.compile(r"\([^()]*\)")
_PART_SPLIT = re.compile(r",|;|\s+and\s+|\s+/\s+")
_LETTER = re.compile(r"[^\W\d_]")
_DIGIT = re.compile(r"\d")
_PUNCT = " \t-–—:;'\"()"
#: Regions that are also the usual name of their main city.
_CITY_REGIONS = frozenset({"new york", "washington", "quebec", "zug", "luxembourg"})
_JUNK = frozenset({"", "none", "n/a", "na", "unknown", "-", "null"})


def _hq_parts(text: str) -> list[str]:
    text = text.replace("\ufeff", " ")
    text = _COORDINATES.split(text, maxsplit=1)[0]
    text = _PARENS.sub(" ", text).replace("(", " ").replace(")", " ")
    if ":" in text:
        head, _, tail = text.partition(":")
        text = head if "," in head else tail
    parts = [p.strip(_PUNCT) for p in _PART_SPLIT.split(text)]
    return [p for p in parts if p]


def _find_country(parts: list[str]) -> tuple[str | None, int, str | None]:
    """Return (country, index of its part, country implied by the nearest region)."""
    implied: str | None = None
    for i, part in enumerate(parts):
        if hit := country_of(part):
            return hit, i, implied
        if region := region_country(part):
            implied = region
            continue
        if i > 0 and (hit := country_prefix(part)):
            return hit, i, implied
        if suffix := country_suffix(part):
            rest, hit = suffix
            parts[i] = rest
            if rest and (region := region_country(rest)):
                implied = region
            return hit, i + 1, implied
    return None, len(parts), implied


def _city_candidate(part: str) -> str | None:
    words = [w for w in part.split() if not _DIGIT.search(w)]
    lowered = [place_key(w).strip(_PUNCT) for w in words]
    marks = [i for i, w in enumerate(lowered) if w in ADDRESS_WORDS]
    if marks:
        words = words[marks[-1] + 1 :]
    if not words or len(words) > 5 or not _LETTER.search(" ".join(words)):
        return None
    return " ".join(words).strip(_PUNCT) or None


def parse_headquarters(
    text: object, fallback_country: str | None = None
) -> tuple[str | None, str | None]:
    """Split a headquarters string into ``(city, country)``.

    Called by the universe loader for ``metadata.headquarters`` and, with no fallback, to
    normalise the record's own ``country``. Countries are canonical names ("US", "U.S."
    and "United States" all give "United States"); a state or region implies its country
    ("Cincinnati, Ohio"). When the text names only a city, the country is
    ``fallback_country``. Junk ("No headquarters : 16") gives ``(None, None)``.
    """
    if not isinstance(text, str):
        return None, None
    parts = _hq_parts(text)
    if not any(_LETTER.search(p) for p in parts):
        return None, None
    country, idx, implied = _find_country(parts)
    city: str | None = None
    region_cities: list[str] = []
    regions = 0
    for part in reversed(parts[:idx]):
        if region_country(part) or country_of(part):
            regions += 1
            if place_key(part) in _CITY_REGIONS:
                region_cities.append(part)
            continue
        if city := _city_candidate(part):
            break
    if city is None and region_cities:
        city = region_cities[-1]
        if regions == 1:
            implied = None
    return city, country or implied or fallback_country


@functools.lru_cache(maxsize=4096)
def normalise_country(text: object) -> str | None:
    """Canonical country of a free-text country field ("Houston, Texas" -> "United States").

    Text that names no known country is returned stripped (its last comma part), so an
    unlisted country is kept rather than lost; empty or "none" gives None.
    """
    if not isinstance(text, str) or place_key(text) in _JUNK:
        return None
    _, country = parse_headquarters(text)
    if country:
        return country
    last = text.split(",")[-1].strip(_PUNCT)
    return last if _LETTER.search(last) else None


# --- key people -------------------------------------------------------------------------

_ROLE_SPLIT = re.compile(r"\s*(?:,|;|/|&|\band\b)\s*", re.IGNORECASE)
_SINCE = re.compile(r"\bsince\s+\d{4}\b", re.IGNORECASE)
_PLAIN_SPLIT = re.compile(r"\s*(?:,|;|\s[-–—]\s)\s*")
_PAREN_GROUP = re.compile(r"\(([^()]*)\)")
#: Parenthesised words that disambiguate a name rather than give a role.
_NOT_ROLES = frozenset({"businessman", "businesswoman", "banker", "politician", "engineer"})
_ROLE_WORDS = word_set(
    "ceo cfo coo cto cio cmo cpo clo cao cro chro cso cdo cco gc president vice chairman "
    "chairwoman chair chairperson chief executive officer founder co-founder cofounder "
    "director representative managing financial operating technology technical honorary "
    "emeritus and & of the board group senior deputy interim lead independent general "
    "counsel secretary treasurer member first global principal non-executive supervisory "
    "management committee co-ceo co-chair co-chairman spokesman evp svp vp md former "
    "acting executive shareholders' shareholders"
)
_MAX_NAME_WORDS = 6
_NAME_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "ph.d", "md"})


def _roles(text: str) -> list[str]:
    text = _SINCE.sub(" ", text)
    out: list[str] = []
    for raw in _ROLE_SPLIT.split(text):
        role = re.sub(r"-\s+", "-", " ".join(raw.split())).strip(_PUNCT + ".").lower()
        if role and _LETTER.search(role) and role not in out:
            out.append(role)
    return out


def _is_role_word(word: str) -> bool:
    return word.strip(".,:;()").lower() in _ROLE_WORDS


def _add_chunk(people: list[tuple[str | None, list[str]]], chunk: str) -> None:
    """Add the names in a text chunk; leading role words belong to the previous person."""
    for piece in _PLAIN_SPLIT.split(chunk.replace("(", " ").replace(")", " ")):
        words = piece.split()
        lead = 0
        while lead < len(words) and _is_role_word(words[lead]):
            lead += 1
        if lead and people:
            people[-1][1].extend(_roles(" ".join(words[:lead])))
        words = words[lead:]
        trail = len(words)
        while trail > 0 and _is_role_word(words[trail - 1]):
            trail -= 1
        name = " ".join(words[:trail]).strip(_PUNCT + ",")
        if not name:
            continue
        if name.lower().strip(".") in _NAME_SUFFIXES and people and people[-1][0]:
            people[-1] = (f"{people[-1][0]} {name}", people[-1][1])
            people[-1][1].extend(_roles(" ".join(words[trail:])))
            continue
        ok = _LETTER.search(name) and not _DIGIT.search(name)
        people.append((name if ok and len(name.split()) <= _MAX_NAME_WORDS else None, []))
        people[-1][1].extend(_roles(" ".join(words[trail:])))


def parse_key_people(text: object) -> tuple[KeyPerson, ...]:
    """Read "Name ( role, role ) Name ( role )" or "Name, Role Name, Role" into people.

    Called by the universe loader for ``metadata.key_people``. Roles are lower-cased and
    split on ",", "and", "&" and "/"; "(businessman)"-style disambiguators are dropped; a
    chunk that cannot be a name (digits, more than six words) is skipped together with its
    roles. Unreadable text gives an empty tuple.
    """
    if not isinstance(text, str) or not text.strip():
        return ()
    people: list[tuple[str | None, list[str]]] = []
    pos = 0
    for match in _PAREN_GROUP.finditer(text):
        _add_chunk(people, text[pos : match.start()])
        pos = match.end()
        inner = match.group(1).strip().lower()
        if inner in _NOT_ROLES or not people:
            continue
        people[-1][1].extend(_roles(match.group(1)))
    _add_chunk(people, text[pos:])
    out: dict[str, list[str]] = {}
    for name, roles in people:
        if name is None:
            continue
        merged = out.setdefault(name, [])
        merged.extend(r for r in roles if r not in merged)
    return tuple(KeyPerson(name, tuple(roles)) for name, roles in out.items())


# --- money and counts -------------------------------------------------------------------

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_SCALES: tuple[tuple[re.Pattern[str], int], ...] = tuple(
    (re.compile(rf"(?<![a-z]){word}(?![a-z])", re.IGNORECASE), factor)
    for word, factor in (
        (r"trillion|tn", 10**12),
        (r"billion|billon|bn|bln|bsek|b", 10**9),
        (r"million|mio|mn|mln|msek|sekm|m", 10**6),
        (r"thousand", 10**3),
    )
)
_CURRENCIES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), code)
    for pattern, code in (
        (r"HK\$|(?<![a-z])HKD(?![a-z])", "HKD"),
        (r"(?<![a-z])(?:A\$|AUD(?![a-z]))", "AUD"),
        (r"(?<![a-z])(?:C\$|CAD(?![a-z]))", "CAD"),
        (r"(?<![a-z])(?:R\$|BRL(?![a-z]))", "BRL"),
        (r"JP¥|(?<![a-z])(?:JPY|yen)(?![a-z])|¥", "JPY"),
        (r"US\s*\$|\$\s*US|(?<![a-z])USD|United States dollars?|U\.S\. dollars?|\$", "USD"),
        (r"€|(?<![a-z])(?:EUR|euros?)(?![a-z])", "EUR"),
        (r"£|(?<![a-z])(?:GBP|pounds? sterling)(?![a-z])", "GBP"),
        (r"(?<![a-z])(?:CHF|SFr|Swiss francs?)(?![a-z])", "CHF"),
        (r"(?<![a-z])(?:DKK|NOK|ISK)(?![a-z])", ""),
        (r"SEK|(?<![a-z])(?:kr|kronor|krona)(?![a-z])", "SEK"),
        (r"(?<![a-z])(?:CNY|RMB)(?![a-z])", "CNY"),
        (r"(?<![a-z])INR(?![a-z])|₹", "INR"),
        (r"(?<![a-z])KRW(?![a-z])|₩", "KRW"),
    )
)
_KRONER = frozenset({"SEK", "DKK", "NOK", "ISK"})


def _to_decimal(raw: str) -> Decimal | None:
    """Read "1,508", "5,683.0", "6,8", "1.234,5"; a lone comma before 1-2 digits is decimal."""
    if "," in raw and "." in raw:
        if raw.rfind(",") > raw.rfind("."):
            raw = raw.replace(".", "").replace(",", ".")
        else:
            raw = raw.replace(",", "")
    elif "," in raw:
        groups = raw.split(",")
        if len(groups) == 2 and len(groups[1]) != 3:
            raw = raw.replace(",", ".")
        else:
            raw = raw.replace(",", "")
    elif raw.count(".") > 1:
        raw = raw.replace(".", "")
    try:
        return Decimal(raw)
    except InvalidOperation:
        return None


def _currency(text: str, hint: str | None) -> str | None:
    for pattern, code in _CURRENCIES:
        match = pattern.search(text)
        if match is None:
            continue
        token = match.group(0).upper()
        if code == "SEK" and token in {"KR", "KRONOR", "KRONA"} and hint in _KRONER:
            return hint
        return code or token
    return None


def _scale(text: str) -> int:
    for pattern, factor in _SCALES:
        if pattern.search(text):
            return factor
    return 1


def parse_revenue(
    text: object, currency_hint: str | None = None
) -> tuple[float | None, str | None]:
    """Read a revenue string into ``(amount in units of the currency, ISO currency code)``.

    Called by the universe loader for ``metadata.revenue``. Only the first amount counts
    ("US$14.7 billion ( ¥ 1,508 billion)" is USD); the currency is taken from just before
    the number, else from just after it; "kr" means the listing's krone (``currency_hint``)
    or SEK. No currency gives ``(amount, None)``; no positive number gives ``(None, None)``.
    """
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        return None, None
    text = str(text)
    match = _NUMBER.search(text)
    if match is None:
        return None, None
    value = _to_decimal(match.group(0))
    if value is None or value <= 0:
        return None, None
    prefix = text[: match.start()]
    tail = re.split(r"[(\d]", text[match.end() :], maxsplit=1)[0]
    scale = _scale(tail) if _scale(tail) != 1 else _scale(prefix)
    currency = _currency(prefix, currency_hint) or _currency(tail, currency_hint)
    return float(value * scale), currency


_COUNT = re.compile(r"\d{1,3}(?:[,.\u00a0 ]\d{3})+(?!\d)|\d+")


def parse_employees(value: object) -> int | None:
    """Read a head count: 9600, "166,000 (2025)", "c. 6,000 (2026)", "105.541", "Over 1 million".

    Called by the universe loader for ``metadata.employees``. The first count in the text
    wins (ranges and breakdowns give their first figure); zero, negative or no number gives
    None.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if not isinstance(value, str):
        return None
    match = _COUNT.search(value)
    if match is None:
        return None
    count = int(re.sub(r"\D", "", match.group(0)))
    tail = re.split(r"[(\d]", value[match.end() :], maxsplit=1)[0]
    count = int(count * _scale(tail)) if re.search(r"million|thousand", tail, re.I) else count
    return count if count > 0 else None


def parse_website(value: object) -> str | None:
    """The host of a website field ("www.boy.co.jp (en)" -> "www.boy.co.jp"), else None."""
    if not isinstance(value, str) or not value.split():
        return None
    token = value.split()[0].strip(" ,;()[]").rstrip("/")
    return token if "." in token and _LETTER.search(token) else None
