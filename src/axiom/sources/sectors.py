"""A GICS-like sector for each company, derived from its free-text industries.

The universe lists industries such as "Technology Equipment", "Consumer Cyclicals" or
"Banking & Investment Services", several per company. :func:`sector_for` turns them into
one of the eleven GICS sector names (or "Other") by weighted vote, so one odd label does
not decide: a sector-level label ("Information technology") counts 3, a known sub-industry
("Semiconductors") counts 2, a keyword hit ("... Software ...") counts 1. Ties go to the
sector listed first in :data:`SECTORS`. The result depends only on the industry strings, so
the same company always lands in the same sector.
"""

from __future__ import annotations

import functools
import re

FIN = "Financials"
IND = "Industrials"
CD = "Consumer Discretionary"
CS = "Consumer Staples"
HC = "Health Care"
IT = "Information Technology"
COM = "Communication Services"
ENE = "Energy"
MAT = "Materials"
RE = "Real Estate"
UTI = "Utilities"
OTHER = "Other"

#: The sectors :func:`sector_for` can return, in tie-break order.
SECTORS: tuple[str, ...] = (IT, FIN, HC, CD, CS, IND, COM, ENE, MAT, RE, UTI, OTHER)

_SECTOR_LABELS: dict[str, str] = {
    "financials": FIN,
    "financial services": FIN,
    "financial": FIN,
    "finance": FIN,
    "industrials": IND,
    "industrial goods": IND,
    "industrial goods and services": IND,
    "consumer discretionary": CD,
    "consumer cyclicals": CD,
    "consumer cyclical": CD,
    "consumer staples": CS,
    "consumer non-cyclicals": CS,
    "consumer defensive": CS,
    "health care": HC,
    "healthcare": HC,
    "information technology": IT,
    "technology": IT,
    "communication services": COM,
    "communications services": COM,
    "telecommunications": COM,
    "energy": ENE,
    "materials": MAT,
    "basic materials": MAT,
    "basic resources": MAT,
    "real estate": RE,
    "utilities": UTI,
}

_SUB_INDUSTRIES: dict[str, str] = {
    "conglomerate": IND,
    "industrial conglomerates": IND,
    "manufacturing": IND,
    "services": IND,
    "trading companies": IND,
    "electric machinery": IND,
    "precision instruments": IT,
    "electronics": IT,
    "technology equipment": IT,
    "consumer goods": CS,
    "consumer electronics": CD,
    "automotive": CD,
    "e-commerce": CD,
    "food & drug retailing": CS,
    "food retail & distribution": CS,
    "drug retailers": CS,
    "discount stores": CS,
    "pharmacy": CS,
    "mortgage reits": FIN,
    "hotels & entertainment services": CD,
    "internet services": COM,
    "media": COM,
    "entertainment": COM,
    "renewable energy": UTI,
    "construction materials": MAT,
    "building materials": MAT,
    "homebuilding": CD,
    "household goods & home construction": CD,
    "mineral resources": MAT,
    "applied resources": MAT,
    "fossil fuels": ENE,
    "glass & ceramics": MAT,
}

#: (word prefix, sector), first match wins; more specific prefixes come first.
_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("real estate investment trust", RE),
    ("mortgage", FIN),
    ("reit", RE),
    ("real estate", RE),
    ("property", RE),
    ("immobilien", RE),
    ("insur", FIN),
    ("reinsur", FIN),
    ("versicherung", FIN),
    ("bank", FIN),
    ("asset management", FIN),
    ("invest", FIN),
    ("financ", FIN),
    ("payment", FIN),
    ("credit", FIN),
    ("securities", FIN),
    ("private equity", FIN),
    ("beteiligung", FIN),
    ("pharma", HC),
    ("biotech", HC),
    ("biopharm", HC),
    ("medic", HC),
    ("health", HC),
    ("dental", HC),
    ("life science", HC),
    ("diagnost", HC),
    ("social", COM),
    ("software", IT),
    ("semiconductor", IT),
    ("comput", IT),
    ("electronic", IT),
    ("elektronik", IT),
    ("cloud", IT),
    ("cybersecurity", IT),
    ("information", IT),
    ("it", IT),
    ("saas", IT),
    ("network", IT),
    ("technolog", IT),
    ("internet", COM),
    ("telecom", COM),
    ("wireless", COM),
    ("media", COM),
    ("medien", COM),
    ("broadcast", COM),
    ("advertis", COM),
    ("publish", COM),
    ("entertainment", COM),
    ("video game", COM),
    ("cable", COM),
    ("utilit", UTI),
    ("electric util", UTI),
    ("electricity", UTI),
    ("power", UTI),
    ("water", UTI),
    ("versorger", UTI),
    ("renewable", UTI),
    ("oilfield", ENE),
    ("oil", ENE),
    ("gas", ENE),
    ("petrol", ENE),
    ("coal", ENE),
    ("fossil", ENE),
    ("energy", ENE),
    ("ölf", ENE),
    ("erdöl", ENE),
    ("chemi", MAT),
    ("mining", MAT),
    ("metal", MAT),
    ("steel", MAT),
    ("stahl", MAT),
    ("alumin", MAT),
    ("gold", MAT),
    ("paper", MAT),
    ("pulp", MAT),
    ("packag", MAT),
    ("container", MAT),
    ("glass", MAT),
    ("forest", MAT),
    ("zement", MAT),
    ("cement", MAT),
    ("material", MAT),
    ("fertili", MAT),
    ("food", CS),
    ("beverage", CS),
    ("drink", CS),
    ("getränk", CS),
    ("tobacco", CS),
    ("brew", CS),
    ("distill", CS),
    ("household product", CS),
    ("personal", CS),
    ("cosmetic", CS),
    ("konsumg", CS),
    ("agricultur", CS),
    ("retail", CD),
    ("apparel", CD),
    ("cloth", CD),
    ("fashion", CD),
    ("textile", CD),
    ("footwear", CD),
    ("luxury", CD),
    ("auto", CD),
    ("car ", CD),
    ("hotel", CD),
    ("restaurant", CD),
    ("leisure", CD),
    ("touris", CD),
    ("travel", CD),
    ("casino", CD),
    ("gaming", CD),
    ("gambling", CD),
    ("hospitality", CD),
    ("homebuild", CD),
    ("home", CD),
    ("consumer", CD),
    ("education", CD),
    ("aerospace", IND),
    ("defen", IND),
    ("machine", IND),
    ("industr", IND),
    ("engineer", IND),
    ("construct", IND),
    ("transport", IND),
    ("logist", IND),
    ("airline", IND),
    ("aviation", IND),
    ("rail", IND),
    ("freight", IND),
    ("shipping", IND),
    ("trucking", IND),
    ("conglomerate", IND),
    ("electrical", IND),
    ("service", IND),
    ("dienstleist", IND),
    ("manufactur", IND),
    ("equipment", IND),
)
_KEYWORD_SECTOR = {word: sector for word, sector in _KEYWORDS}
_KEYWORD_RANK = {word: rank for rank, (word, _) in enumerate(_KEYWORDS)}
#: One zero-width search per word start; at each start the first listed keyword wins.
_KEYWORD_SCAN = re.compile(
    r"(?<![^\W\d_])(?=("
    + "|".join(
        re.escape(word) + (r"(?![^\W\d_])" if len(word) <= 3 else "") for word, _ in _KEYWORDS
    )
    + "))",
    re.IGNORECASE,
)


def _key(industry: str) -> str:
    return " ".join(industry.split()).lower()


@functools.lru_cache(maxsize=4096)
def _classify(industry: str) -> tuple[str, int] | None:
    key = _key(industry)
    if key in _SECTOR_LABELS:
        return _SECTOR_LABELS[key], 3
    if key in _SUB_INDUSTRIES:
        return _SUB_INDUSTRIES[key], 2
    hits = [m.group(1) for m in _KEYWORD_SCAN.finditer(key)]
    if not hits:
        return None
    best = min(hits, key=lambda word: _KEYWORD_RANK[word])
    return _KEYWORD_SECTOR[best], 1


def sector_for(industries: tuple[str, ...] | list[str]) -> str:
    """The sector a company's industry labels point to most, else "Other".

    Called by the universe loader once per company; deterministic and total (any input,
    including an empty tuple, gives one of :data:`SECTORS`).
    """
    votes: dict[str, int] = {}
    for industry in industries:
        if not isinstance(industry, str):
            continue
        hit = _classify(industry)
        if hit is not None:
            votes[hit[0]] = votes.get(hit[0], 0) + hit[1]
    if not votes:
        return OTHER
    best = max(votes.values())
    return next(s for s in SECTORS if votes.get(s) == best)
