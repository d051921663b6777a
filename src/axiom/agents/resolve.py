"""Entity resolution: a counterparty name as written in text -> a company, or external.

Called by the ``resolve`` node of the company-graph workflow for every candidate an
extractor returned (and by the corpus tests). :class:`EntityResolver` never merges two
different companies silently: a name that is not clearly one company of the universe
becomes an ``External:<slug>`` node, and when two companies were too close to tell apart
the :class:`Resolution` lists them in ``ambiguous``.

Matching order (the first that answers wins):

1. **ticker** - the whole name is written like a ticker. ``$AAPL``, ``NASDAQ: AAPL`` and
   a full symbol with its exchange suffix (``VOW3.DE``) match any symbol. A bare token
   must be upper case, 2-5 letters or digits, not a common word or acronym (``IT``, ``ON``,
   ``ALL``, ``NOW``, ``AI`` ...) and not the exact name of another company (``UCB``), so
   one-letter symbols (``A``, ``F``, ``V``) need the explicit context. A bare base symbol
   (``SAP`` for ``SAP.DE``) counts when it is unique.
2. **isin** - a 12-character ISIN.
3. **exact** - the company's name, case and spacing ignored.
4. **normalised** - accents, punctuation, a leading "The", possessive 's and legal
   suffixes (Inc, Corp, Co, Ltd, plc, AG, SE, SA, N.V., Holdings, Group, REIT, Class A ...)
   removed; then trailing descriptors (Motor, Technologies, Platforms ...) removed from a
   distinctive head ("Ford Motor Company" ~ "Ford"). Two different European legal forms
   never match ("Porsche AG" is not "Porsche SE").
5. **alias** - a short hand-kept table of well-known brands and former names.
6. **fuzzy** - rapidfuzz ``token_sort_ratio`` on normalised names, at least
   :data:`FUZZY_THRESHOLD` and :data:`FUZZY_MARGIN` ahead of the next company.

External ids are slugs of the normalised name (``Taiwan Semiconductor Manufacturing Co.,
Ltd.`` and ``TSMC`` -> ``External:taiwan-semiconductor-manufacturing``); when that slug
would equal a universe company's name, stripped suffixes are put back
(``External:porsche-ag``).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz, process

from axiom.domain.models import Company

Kind = Literal["company", "external"]
Method = Literal["ticker", "isin", "exact", "normalised", "alias", "fuzzy", "unresolved"]

#: Minimum token_sort_ratio (0-100) for a fuzzy match, and its lead over the next company.
FUZZY_THRESHOLD = 88.0
FUZZY_MARGIN = 5.0
_CACHE_MAX = 200_000
#: A shortened name that starts this many other companies' names is a family, not one.
_FAMILY_MIN = 3


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_LEGAL_1 = _words(
    "inc incorporated corp corporation co cos company ltd limited plc ag se sa nv bv spa ab asa"
    " oyj kgaa gmbh llc lp llp holdings holding group reit"
)
_LEGAL_N = (("and", "co"), ("s", "p", "a"), ("s", "a"), ("n", "v"), ("b", "v"), ("a", "s"))
#: Legal forms that name a distinct entity: two different ones never match.
_DISTINCT_FORMS = _words("ag se sa nv bv spa ab asa oyj kgaa gmbh plc")
_DESCRIPTORS = _words(
    "motor motors technologies technology tech platforms systems industries international"
    " pharmaceuticals pharmaceutical pharma semiconductors electronics communications solutions"
    " software networks financial brands enterprises entertainment therapeutics biosciences"
    " sciences laboratories labs healthcare resources worldwide"
)
_COMMON_HEADS = _words(
    "general american united international national first texas southern northern western"
    " eastern central pacific atlantic global new great royal british deutsche japan china bank"
    " banco universal standard advanced applied home capital federal consolidated air energy"
    " digital public premier liberty old prime select alpha the taiwan"
)
#: Upper-case words that are symbols of the universe but, bare, are usually just words.
_COMMON_WORDS = _words(
    "A AN AND ARE AS AT BE BIG BOX BY CAN CAR CASH CAT CEO CFO COO CPU DO DOC EAT EU EV EVS FAST"
    " FOR FUN GDP GO GPU HAS HD HE HOME I ICE IN IPO IS IT KEY LIFE LOW MA MAIN MAN ME NEW NEXT NO"
    " NOW OF ON ONE OR OUT PEAK PLAY R RUN SO SEE THE TAP TO TRUE TV UK UP US USA WE WELL AI AIR"
    " ALL ANY ARM BEST EARN FIVE GOOD HOPE LIVE LOVE MIND NICE OPEN REAL SAFE SAVE SITE SUN TEAM"
    " UNIT WORK"
)
_EXCHANGES = "NASDAQ|NYSE|NYSEARCA|AMEX|XETRA|ETR|FRA|LSE|LON|EPA|AMS|TYO|TSE|SIX|SWX|BIT|BME"
_TICKER = re.compile(
    rf"^(?:(?P<dollar>\$)|(?P<exch>{_EXCHANGES})\s*:\s*)?"
    r"(?P<sym>[A-Z0-9]{1,8}(?:[.-][A-Z0-9]{1,3}){0,2})$"
)
_ISIN = re.compile(r"^[A-Z]{2}[A-Z0-9]{9}[0-9]$")

#: Well-known brands and former names -> symbol (used only when the symbol is loaded).
ALIASES: dict[str, str] = {
    "Google": "GOOGL", "Google Cloud": "GOOGL", "Facebook": "META", "Meta": "META",
    "Amazon Web Services": "AMZN", "AWS": "AMZN", "Disney": "DIS", "Coca-Cola": "KO",
    "VW": "VOW3.DE", "Mercedes": "MBG.DE", "Porsche Automobil Holding": "PAH3.DE",
    "Advanced Micro Devices": "AMD", "General Electric": "GE", "Merck KGaA": "MRK.DE",
    "Merck Sharp & Dohme": "MRK", "MSD": "MRK", "J&J": "JNJ", "P&G": "PG", "Exxon": "XOM",
    "Exxon Mobil": "XOM", "Amex": "AXP", "BofA": "BAC", "JP Morgan": "JPM", "JPMorgan": "JPM",
    "GlaxoSmithKline": "GSK.L", "Royal Dutch Shell": "SHELL.AS", "DHL": "DHL.DE",
    "Bayerische Motoren Werke": "BMW.DE", "LVMH Moet Hennessy Louis Vuitton": "MC.PA",
}  # fmt: skip
#: Names that look like a universe company but are a different entity.
DISTINCT: frozenset[str] = frozenset({"softbank group", "softbank group corp"})
#: External name variants -> (canonical key, display name).
EXTERNAL_ALIASES: dict[str, tuple[str, str]] = {
    **dict.fromkeys(
        ("tsmc", "taiwan semiconductor"),
        ("taiwan semiconductor manufacturing", "Taiwan Semiconductor Manufacturing"),
    ),
    **dict.fromkeys(("hon hai", "hon hai precision industry", "foxconn"), ("foxconn", "Foxconn")),
    "samsung": ("samsung electronics", "Samsung Electronics"),
}


@dataclass(frozen=True, slots=True)
class Resolution:
    """Where one name resolved to: a company of the universe or an external entity.

    ``score`` is 1.0 for the exact paths, the fuzzy ratio / 100 for ``fuzzy``, and for an
    external the best fuzzy ratio seen (0.0 when none was computed). ``ambiguous`` holds
    the symbols of companies that were too close to tell apart (then ``kind`` is external).
    """

    kind: Kind
    node_id: str
    symbol: str | None
    canonical_name: str
    method: Method
    score: float
    ambiguous: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """Same as ``canonical_name`` (the company's name, or the external's as written)."""
        return self.canonical_name

    @property
    def is_company(self) -> bool:
        """True when the name resolved to a company of the universe."""
        return self.kind == "company"


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _tokens(name: str) -> list[str]:
    """Lower-case word tokens: accents, possessive 's, parentheses and punctuation removed."""
    text = _ascii(name).casefold().replace("\u2019", "'")
    text = re.sub(r"\([^)]*\)", " ", text)
    text = re.sub(r"'s\b", "", text).replace("'", "")
    text = re.sub(r"\.com\b", "", text).replace("&", " and ")
    words = re.sub(r"[^0-9a-z]+", " ", text).split()
    return words[1:] if len(words) > 1 and words[0] == "the" else words


def _strip_legal(words: list[str]) -> tuple[list[str], list[str]]:
    """(words without trailing legal suffixes, the stripped suffixes in text order).

    A multi-word suffix is one entry with its words joined (``s a`` -> ``sa``); at least
    one word always remains.
    """
    words = list(words)
    stripped: list[str] = []
    while len(words) > 1:
        for seq in _LEGAL_N:
            n = len(seq)
            if len(words) > n and tuple(words[-n:]) == seq:
                stripped.insert(0, "".join(seq))
                words = words[:-n]
                break
        else:
            if len(words) > 2 and words[-2] == "class" and len(words[-1]) == 1:
                stripped.insert(0, "class" + words[-1])
                words = words[:-2]
            elif words[-1] in _LEGAL_1:
                stripped.insert(0, words.pop())
            else:
                break
    return words, stripped


def legal_form(name: str) -> str | None:
    """The distinct legal form of ``name`` (``ag``, ``se``, ``sa``, ``plc`` ...) or None.

    Two names whose forms differ (``Porsche AG``, ``Porsche SE``) are never merged.
    """
    forms = [t for t in _strip_legal(_tokens(name))[1] if t in _DISTINCT_FORMS]
    return forms[-1] if forms else None


def normalise_name(name: str) -> str:
    """The matching key of a company name: ``"The Walt Disney Company"`` -> ``"walt disney"``.

    Used by the resolver's indices, by external slugs and by the rules extractor to
    recognise its subject; the same function on both sides keeps them consistent.
    """
    return " ".join(_strip_legal(_tokens(name))[0])


def short_key(key: str) -> str | None:
    """``key`` without trailing descriptors when its head is distinctive, else None."""
    words = key.split()
    while len(words) > 1 and words[-1] in _DESCRIPTORS:
        words.pop()
    if len(words) == len(key.split()):
        return None
    head = " ".join(words)
    return head if len(head) >= 3 and words[0] not in _COMMON_HEADS else None


def slug(key: str) -> str:
    """URL-safe id part of a normalised key (``"sk on"`` -> ``"sk-on"``)."""
    return "-".join(key.split()) or "unnamed"


class EntityResolver:
    """Resolves counterparty names against the companies of one universe.

    Built once per workflow run (indices over ~1,800 companies take a few milliseconds);
    :meth:`resolve` is thread-safe and caches every answer, so the workflow may call it
    from many threads. It never raises for a name: anything it cannot place is external.
    """

    def __init__(self, companies: Sequence[Company]) -> None:
        self._by_symbol = {c.symbol: c for c in companies}
        self._by_isin = {c.isin: c.symbol for c in companies if c.isin}
        self._forms = {c.symbol: legal_form(c.name) for c in companies}
        self._exact: dict[str, set[str]] = {}
        self._keys: dict[str, set[str]] = {}
        self._short: dict[str, set[str]] = {}
        bases: dict[str, set[str]] = {}
        family: dict[str, set[str]] = {}
        for c in companies:
            self._exact.setdefault(" ".join(c.name.casefold().split()), set()).add(c.symbol)
            key = normalise_name(c.name)
            self._keys.setdefault(key, set()).add(c.symbol)
            words = key.split()
            for i in range(1, len(words)):
                family.setdefault(" ".join(words[:i]), set()).add(c.symbol)
            head = short_key(key)
            if head:
                self._short.setdefault(head, set()).add(c.symbol)
            base = c.symbol.split(".")[0]
            if base != c.symbol:
                bases.setdefault(base, set()).add(c.symbol)
        self._bases = {b: next(iter(s)) for b, s in bases.items() if len(s) == 1}
        #: key -> other companies whose names start with it ("mitsubishi" -> 7 symbols).
        self._family = {k: v for k, v in family.items() if len(v) >= _FAMILY_MIN}
        self._aliases: dict[str, str] = {}
        for text, symbol in ALIASES.items():
            if symbol in self._by_symbol:
                self._aliases[" ".join(_tokens(text))] = symbol
                key = normalise_name(text)
                if key not in self._keys:
                    self._aliases.setdefault(key, symbol)
        self._choices = sorted(self._keys)
        self._cache: dict[str, Resolution] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._by_symbol)

    def resolve(self, name: str) -> Resolution:
        """The company ``name`` denotes, or an external entity (see the module docstring)."""
        hit = self._cache.get(name)
        if hit is None:
            hit = self._resolve(name)
            with self._lock:
                if len(self._cache) >= _CACHE_MAX:
                    self._cache.clear()
                self._cache[name] = hit
        return hit

    def resolve_subject(self, symbol: str) -> Resolution | None:
        """The document's own company from its front-matter symbol, or None if unknown.

        Called once per company by the workflow's ``gather`` node. Matches the symbol
        case-insensitively; a unique base symbol such as ``SAP`` also matches ``SAP.DE``.
        None means the symbol is not in the universe (the caller reports it).
        """
        sym = symbol.strip().upper()
        sym = sym if sym in self._by_symbol else self._bases.get(sym, sym)
        return self._company(sym, "ticker", 1.0) if sym in self._by_symbol else None

    def _company(self, symbol: str, method: Method, score: float) -> Resolution:
        name = self._by_symbol[symbol].name
        return Resolution("company", f"Company:{symbol}", symbol, name, method, score)

    def _compatible(self, symbols: set[str], form: str | None) -> set[str]:
        """Drop candidates whose distinct legal form differs from the name's own form."""
        if form is None:
            return symbols
        return {s for s in symbols if self._forms[s] in (None, form)}

    def _resolve(self, name: str) -> Resolution:
        text = " ".join(name.split())
        ticker = self._ticker(text)
        if ticker:
            return self._company(ticker, "ticker", 1.0)
        if _ISIN.match(text) and text in self._by_isin:
            return self._company(self._by_isin[text], "isin", 1.0)
        exact = self._exact.get(text.casefold(), set())
        if len(exact) == 1:
            return self._company(next(iter(exact)), "exact", 1.0)
        light = " ".join(_tokens(text))
        key = normalise_name(text)
        if light in DISTINCT:
            return self._external(text, key, 0.0, ())
        form = legal_form(text)
        head = short_key(key)
        ambiguous: set[str] = set(exact)
        for index, probe in ((self._keys, key), (self._short, key), (self._keys, head),
                             (self._short, head)):  # fmt: skip
            found = self._compatible(index.get(probe, set()), form) if probe else set()
            if found and probe in self._family:
                found = found | self._family[probe]  # a group name, not one company
            if len(found) == 1 and not ambiguous:
                return self._company(next(iter(found)), "normalised", 1.0)
            ambiguous |= found
            if ambiguous:
                break
        for probe in (light, key):
            if probe in self._aliases:
                return self._company(self._aliases[probe], "alias", 1.0)
        if ambiguous:
            return self._external(text, key, 1.0, tuple(sorted(ambiguous)))
        return self._fuzzy(text, key, form)

    def _ticker(self, text: str) -> str | None:
        m = _TICKER.match(text)
        if not m:
            return None
        sym = m.group("sym")
        if not (m.group("dollar") or m.group("exch") or "." in sym):  # a bare token
            if not 2 <= len(sym) <= 5 or sym in _COMMON_WORDS or sym.isdigit():
                return None
            named = self._exact.get(sym.casefold(), set())
            if len(named) == 1 and sym not in named:
                return None  # "UCB" is the company named UCB, not the symbol UCB
        if sym in self._by_symbol:
            return sym
        return self._bases.get(sym)

    def _fuzzy(self, text: str, key: str, form: str | None) -> Resolution:
        if len(key) < 5:
            return self._external(text, key, 0.0, ())
        scores: dict[str, float] = {}
        for choice, score, _ in process.extract(
            key, self._choices, scorer=fuzz.token_sort_ratio, limit=8, score_cutoff=60
        ):
            for symbol in self._compatible(self._keys[choice], form):
                scores[symbol] = max(scores.get(symbol, 0.0), float(score))
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
        best = ranked[0][1] if ranked else 0.0
        if best >= FUZZY_THRESHOLD:
            close = [s for s, v in ranked if v > best - FUZZY_MARGIN]
            if len(close) == 1:
                return self._company(close[0], "fuzzy", round(best / 100, 4))
            return self._external(text, key, best / 100, tuple(sorted(close)))
        return self._external(text, key, best / 100, ())

    def _external(
        self, text: str, key: str, score: float, ambiguous: tuple[str, ...]
    ) -> Resolution:
        canonical, display = key, text
        for probe in (" ".join(_tokens(text)), key):
            if probe in EXTERNAL_ALIASES:
                canonical, display = EXTERNAL_ALIASES[probe]
                break
        else:
            words, stripped = _strip_legal(_tokens(text))
            while " ".join(words) in self._keys and stripped and not ambiguous:
                words.append(stripped.pop(0))
            canonical = " ".join(words)
            display = re.sub(r"^[Tt]he\s+", "", text)
        return Resolution(
            "external", f"External:{slug(canonical)}", None, display, "unresolved",
            round(score, 4), ambiguous,
        )  # fmt: skip
