"""The offline rules extractor: explicit relationship phrases found with regular expressions.

Chosen when ``AXIOM_LLM`` is unset (``name = "offline"``), and the default responder of the
local fake LLM server through :func:`extract_text`. Deterministic and stateless, so one
instance is safe to share between threads. It favours precision: it only reads explicit
phrases (see :data:`PATTERNS`), skips negated, ended, failed and hedged statements, and
reads a pronoun as the subject only where that is safe (a sentence-initial "It"; "its" and
"our" when the sentence opens with the subject).

How a sentence is read: the subject (its name, a short form, an alias, its ticker, "the
company", "we") and other company-like names (capitalised word runs allowing ``& . - '``
and digits, with suffixes such as ``Co., Ltd.``) become placeholders; each pattern then
relates a left party ``a`` to a right party ``b`` (either may be a list "A, B and C").
Subject on the left: the relation to every other name on the right. Subject on the right:
the inverse ("Foxconn supplies iPhones to Apple" in Apple's document is Apple
``customer_of`` Foxconn); ``invests_in``, ``licenses_from`` and agreed acquisitions have
none, a completed acquisition of the subject reads as ``subsidiary_of`` (0.7). A sentence
about two other companies yields nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from axiom.agents.documents import Document, Sentence
from axiom.agents.extractors.base import Candidate, Context, Extraction, Extractor, Usage
from axiom.agents.resolve import ALIASES, legal_form, normalise_name, short_key
from axiom.agents.vocabulary import SYMMETRIC

if TYPE_CHECKING:
    from axiom.settings import Settings

EXPLICIT = 0.9
WEAKER = 0.7
_PAIRS = (("supplier_of", "customer_of"), ("subsidiary_of", "parent_of"))
_INVERSE = {r: r for r in SYMMETRIC} | dict(_PAIRS) | {b: a for a, b in _PAIRS}
_O, _C = "\ue000", "\ue001"  # placeholder delimiters (private-use characters)
_P = rf"{_O}\d+{_C}"
_CAP = "A-ZÀ-ÖØ-Þ"
#: Never part of a name (titles, months, days, periods).
_STOP_ANY = (
    "Chief|CEO|CFO|COO|CTO|President|Chairman|Mr|Ms|January|February|March|April|May|June|"
    "July|August|September|October|November|December|Monday|Tuesday|Wednesday|Thursday|"
    "Friday|Q[1-4]|H[12]|FY"
)
#: Never the first word of a name (function words, acronyms, nationalities ...); later in a
#: name they are fine ("T-Mobile US", "SK On", "Keurig Dr Pepper").
_STOP_LEAD = (
    "The|A|An|In|On|At|For|By|With|From|To|Of|And|Or|But|As|After|Before|Since|During|Under|"
    "Over|Through|Its|It|Their|Our|We|They|He|She|His|Her|This|That|These|Those|Both|Each|"
    "Analysts|According|Last|Next|Also|However|Meanwhile|While|Although|Unlike|Like|Following|"
    "Including|Dr|Shares|Revenue|Sales|Investors|Regulators|Customers|Suppliers|Competitors|"
    "Rivals|Today|Earlier|Later|Separately|Other|Many|Most|Some|Several|All|Any|No|Not|One|"
    "Two|Three|AI|EV|EVs|GPU|GPUs|CPU|CPUs|US|USA|UK|EU|IPO|ERP|EUV|TPU|5G|4G|mRNA|Chinese|"
    "German|Dutch|French|Japanese|Korean|Swiss|Italian|Spanish|Indian|Taiwanese|European|"
    "Asian|African"
)
_TOKEN = rf"(?:[{_CAP}][^\W_]*|[0-9]+[^\W\d_][^\W_]*|[a-z][{_CAP}][^\W_]*)(?:[&'’.-][^\W_]+)*"
_FIRST = rf"(?!(?:{_STOP_ANY}|{_STOP_LEAD})\b){_TOKEN}"
_NEXT = rf"(?!(?:{_STOP_ANY})\b){_TOKEN}"
_NAME = re.compile(rf"{_FIRST}(?:\s+(?:(?:&|of|de|von)\s+)?{_NEXT})*")
_SUFFIX = re.compile(
    r"\.?(?:,\s*|\s+)(?:(?:Inc|Corp|Co|Ltd|N\.V|S\.A)\b\.?|(?:LLC|plc|PLC|AG|SE|SA|NV|KGaA|GmbH)\b)"
)
_ABBREV = re.compile(r"\b(?:Inc|Corp|Co|Ltd|N\.V|S\.A)$")


def _phrases(text: str) -> frozenset[str]:
    return frozenset(text.split("|"))


#: Whole mentions that are places, not companies.
_PLACES = _phrases(
    "germany|china|india|japan|europe|asia|africa|america|north america|south america|latin"
    " america|united states|us|u.s|uk|britain|great britain|france|italy|spain|netherlands|"
    "switzerland|sweden|taiwan|korea|south korea|vietnam|mexico|canada|brazil|turkey|russia|"
    "israel|australia|singapore|ireland|california|texas|nevada|arizona|ohio|michigan|alabama|"
    "new york|london|paris|frankfurt|berlin|munich|tokyo|beijing|shanghai|seoul|bonn|"
    "silicon valley|wall street|middle east"
)
_PRONOUNS = re.compile(r"\b(?:[Tt]he (?:[Cc]ompany|[Gg]roup|[Ff]irm)|[Ww]e|us)\b|^It\b")
_POSSESSIVE = re.compile(r"\b(?:[Ii]ts|[Oo]ur)\b")
_NEGATION = re.compile(
    r"\b(?:not|no longer|never|neither|nor|no|none|ended|ends|ending|terminated|exited|ceased|"
    r"discontinued|dissolved|stopped|denied|denies|unrelated|rather than|"
    r"instead of)\b|n't\b",
    re.IGNORECASE,
)
_HEDGE = re.compile(
    r"\b(?:may|might|could|would|reportedly|rumou?red|in talks|considering|considers|consider|"
    r"exploring|explores|plans? to|intends? to|expected to|potential|possible|possibly|"
    r"speculat\w*|if|whether)\b"
)
_FAILED = re.compile(
    r"\b(?:abandoned|terminated|called off|collapsed|blocked|cancell?ed|scrapped|withdrawn|"
    r"fell through|walked away)\b"
)

# Building blocks of the patterns (over the placeholder skeleton of a sentence).
_AUX = r"(?:,[^,.]{1,100},)?(?:\s+(?!(?:and|or|but|which|who|that)\b)[a-z][\w'-]*){0,4}?\s+"
_DESC = (
    r"(?:(?:the|its|a|an|their)\s+)?"
    r"(?:(?!(?:of|in|from|to|for|with|by|on|at|and|or|but)\b)[^\W\d_][\w-]*\s+){0,3}?"
)
_ITEM = rf"(?:{_DESC}{_P}(?!['’]s))"
_JOIN = r"(?:(?:with|to|from|in)\s+)?"
_LIST = (
    rf"{_ITEM}(?:\s*,\s*(?:and\s+|or\s+)?{_JOIN}{_ITEM})*"
    rf"(?:,?\s+(?:and|or|as well as)\s+{_JOIN}{_ITEM})?"
)
_END = (
    r"(?=[,.;:]|\s*$|\s+(?:in|for|from|last|this|on|at|after|before|earlier|during|to|with|"
    r"which|who|as|and|but|under|by|via|when|while|together|through)\b)"
)
_PIECES = {
    "{A}": f"(?P<a>{_LIST})",
    "{B}": f"(?P<b>{_LIST})",
    "{B1}": f"(?P<b>{_P})",
    "{SP}": rf"(?:(?P<a>{_P})(?:['’]s)?|\b(?P<pp>[Ii]ts|[Oo]ur)\b)",
    "{AUX}": _AUX,
    "{FILL}": r"[^.]{1,80}?",
    "{GAP}": r"(?:[^.\ue000]{0,60}?\s+)?",
    "{ADJ}": r"(?:[\w%-]+\s+){0,3}?",
    "{END}": _END,
    "~": r"\s+",
}


@dataclass(frozen=True, slots=True)
class Pattern:
    """One phrase family: ``a --relation--> b``; ``inverse`` applies when ``b`` is the subject.

    ``inverse`` of ``""`` means "the vocabulary inverse" (:data:`_INVERSE`), None means no
    relation when the subject is on the right. ``unless`` vetoes a match whose text it finds;
    ``failure_sensitive`` drops it when the sentence says the deal failed; ``possessive``
    lets "its"/"our" stand for the subject on the left when the sentence opens with the
    subject (or with the pronoun).
    """

    relation: str
    regex: re.Pattern[str]
    confidence: float
    inverse: str | None = ""
    inverse_confidence: float | None = None
    unless: re.Pattern[str] | None = None
    failure_sensitive: bool = False
    possessive: bool = False


def _alternatives(m: re.Match[str]) -> str:
    return "(?:" + "|".join(w.replace("_", r"\s+") for w in m.group(1).split()) + ")"


def _p(relation: str, template: str, confidence: float = EXPLICIT, inverse: str | None = "",
       inverse_confidence: float | None = None, unless: str | None = None,
       failure_sensitive: bool = False) -> Pattern:  # fmt: skip
    """Compile a template: ``<a b c_d>`` is ``(?:a|b|c d)``, ``~`` is whitespace."""
    text = re.sub(r"(?<!\?P)<([^<>]+)>", _alternatives, template)  # not "(?P<name>"
    for piece, regex in _PIECES.items():
        text = text.replace(piece, regex)
    veto = re.compile(unless) if unless else None
    return Pattern(relation, re.compile(text), confidence, inverse, inverse_confidence, veto,
                   failure_sensitive, "{SP}" in template)  # fmt: skip


_BUSINESS = r"\b(?:business(?:es)?|unit|division|stake|shares|operations|assets)\b"
_BE = "<is was are were remains became has_been>"
_A_OR_ONE = "<a an the one_of_the>"

#: Every phrase family the extractor knows, in the order they are tried.
# fmt: off
PATTERNS: tuple[Pattern, ...] = (
    _p("supplier_of", "{A}{AUX}<supplies supply supplied provides provide provided sells sell"
       " delivers ships>~{FILL}~to~{B}", unless=_BUSINESS),
    _p("supplier_of", r"{A}{AUX}<supplies supplied supply>~{B}(?![^.]*\bto\b)"),
    _p("supplier_of", "{A}(?:{AUX}" + _BE + "~|,~)(?:also~)?" + _A_OR_ONE + "~{ADJ}<supplier"
       " suppliers vendor provider manufacturer foundry>~{GAP}<to of for>~{B}"),
    _p("supplier_of", "{A}{AUX}<manufactures makes produces builds assembles fabricates"
       " manufactured made built assembled>~{FILL}~for~{B}", WEAKER),
    _p("customer_of", "{SP}~[^.]{0,60}?~<is are were was>~(?:\\w+~)?<manufactured made produced"
       " fabricated assembled supplied built>~by~{B}", WEAKER, None),
    _p("customer_of", "{A}{AUX}<sources sourced source buys bought buy purchases purchased"
       " procures procured obtains>~{FILL}~from~{B}", unless=_BUSINESS),
    _p("customer_of", r"{A}{AUX}<relies rely relied depends depend depended>~(?:\w+ly~)?on~{B}"
       r"~<for to>\b"),
    _p("customer_of", "{A}{AUX}<outsources outsource outsourced>~{FILL}~to~{B}"),
    _p("customer_of", "{A}{AUX}" + _BE + "~(?:also~)?" + _A_OR_ONE + "~{ADJ}<customer customers"
       " client clients buyer buyers>~of~{B}"),
    _p("supplier_of", "{SP}~{ADJ}<customers clients>~<include includes included are such_as>~{B}",
       inverse=None),
    _p("supplier_of", "{A}{AUX}counts~{B}~<among as>~<its one_of_its>~{ADJ}<customers clients>"),
    _p("customer_of", "{SP}~{ADJ}<suppliers vendors>~<include includes included are such_as>~{B}",
       inverse=None),
    _p("competes_with", r"{A}{AUX}<competes compete competed competing>~(?:\w+~){0,2}?"
       "<with against>~{B}"),
    _p("competes_with", r"{A}~and~{B}~(?:\w+~)?(?:<compete competed>|are~(?:\w+~)?"
       r"<rivals competitors>)\b"),
    _p("competes_with", "{SP}~{ADJ}<competitors rivals competition>~<include includes included"
       " are such_as>~{B}", inverse=None),
    _p("competes_with", "{A}{AUX}<is are was>~<a an the>~{ADJ}<competitor rival>~<of to>~{B}"),
    _p("competes_with", "{SP}~(?:<main chief closest biggest largest>~)?<rival competitor>~{B}",
       WEAKER, None),
    _p("partner_of", "{A}{AUX}<partnered partners partner partnering teamed_up teams_up"
       " collaborates collaborated cooperates cooperated allied>~with~{B}",
       failure_sensitive=True),
    _p("partner_of", r"{A}~and~{B}~(?:\w+~){0,2}?<partner partnered cooperate cooperated"
       r" collaborate collaborated team_up teamed_up>\b", failure_sensitive=True),
    _p("partner_of", r"{A}~and~{B}~(?:\w+~)?<formed established created announced signed have"
       " had set_up launched entered run operate>~(?:into~)?<a an their>~{ADJ}<partnership"
       " alliance joint_venture collaboration>", failure_sensitive=True),
    _p("partner_of", "{A}(?:,[^,]{1,100},)?~{GAP}<partnership alliance joint_venture"
       " collaboration>~with~{B}", failure_sensitive=True),
    _p("partner_of", "{SP}~{ADJ}<partnership alliance joint_venture>~with~{B}", WEAKER, None),
    _p("partner_of", "joint~venture~between~{A}~and~{B}"),
    _p("subsidiary_of", "{A}(?:~<is was has_been became remains>|,)~(?:now~)?<a an the>~"
       "(?:<wholly majority fully>[- ]owned~|<indirect direct>~)?<subsidiary unit division>"
       "~of~{B}"),
    _p("subsidiary_of", r"{A}{AUX}<is was are>~(?:\w+[- ])?<owned controlled>~by~{B}"),
    _p("stake", r"{A}{AUX}<owns holds controls has>~(?:<about roughly around nearly almost some"
       r" more_than over>~)?(?P<pct>\d+(?:[.,]\d+)?)\s?%~<of in>~{B}"),
    _p("parent_of", "{A}{AUX}<owns controls wholly_owns fully_owns>~{B}{END}"),
    _p("parent_of", "{A}{AUX}<is was remains became>~(?:also~)?<the a>~<majority controlling>~"
       "<owner shareholder stakeholder>~of~{B}"),
    _p("parent_of", "{A}{AUX}<is was>~(?:also~)?the~parent(?:~company)?~of~{B}"),
    _p("parent_of", "{A}{AUX}<holds owns has acquired took bought retains>~<a an the>~"
       "<majority controlling>~<stake interest shareholding>~in~{B}"),
    _p("parent_of", r"{SP}~(?:\w+~)?<subsidiary unit division>~{B}", WEAKER, None),
    _p("invests_in", "{A}{AUX}<invested invests invest committed>~(?:[^.\ue000]{0,40}?~)?in~{B}",
       inverse=None, failure_sensitive=True),
    _p("invests_in", "{A}{AUX}<holds owns has acquired took bought retains disclosed built>~"
       "(?:<a an the>~)?{ADJ}<stake stakes interest shareholding holding>~"
       "(?:of~[^.\ue000]{1,30}?~)?in~{B}", inverse=None, unless=r"\b(?:majority|controlling)\b"),
    _p("invests_in", "{A}{AUX}<is was>~<a an the>~{ADJ}<investor shareholder>~in~{B}",
       WEAKER, None),
    _p("licenses_from", "{A}{AUX}<licenses licensed license licences licenced>~{FILL}~from~{B}",
       inverse=None),
    _p("licenses_from", "{A}{AUX}<holds has obtained signed acquired took secured>~<a an>~{ADJ}"
       "licen[cs]e~(?:agreement~)?<from with>~{B}", inverse=None),
    _p("licenses_from", "{B1}{AUX}<licenses licensed licences>~{FILL}~to~{A}", inverse=None),
    _p("acquired", "{A}{AUX}<acquired acquires bought purchased took_over takes_over>~{B}{END}",
       inverse="subsidiary_of", inverse_confidence=WEAKER, failure_sensitive=True),
    _p("acquired", "{A}{AUX}<completed closed finalized finalised announced>~<its the a an>~"
       "(?:[^.\ue000]{0,40}?~)?<acquisition purchase takeover buyout>~of~{B}(?!['’]s)",
       inverse="subsidiary_of", inverse_confidence=WEAKER, failure_sensitive=True),
    _p("acquired", "{A}{AUX}<agreed agrees signed_an_agreement reached_an_agreement>~to~"
       "<acquire buy purchase take_over>~{B}{END}", inverse=None, failure_sensitive=True),
    _p("acquired", "{B1}~<was were has_been had_been>~<acquired bought purchased taken_over>"
       "~by~{A}",
       inverse="subsidiary_of", inverse_confidence=WEAKER, failure_sensitive=True),
)
# fmt: on


class _Subject:
    """Recognises the document's own company among the names of a sentence."""

    def __init__(self, symbol: str, name: str) -> None:
        self.tickers = {symbol.upper(), symbol.upper().split(".")[0]}
        self.form = legal_form(name)
        key = normalise_name(name)
        self.keys = {key, short_key(key) or key}
        self.keys |= {normalise_name(a) for a, s in ALIASES.items() if s == symbol.upper()}

    def matches(self, text: str) -> bool:
        if text in self.tickers:
            return True
        form = legal_form(text)
        if form and self.form and form != self.form:
            return False  # "Porsche AG" in Porsche SE's document is another company
        key = normalise_name(text)
        return key in self.keys or (short_key(key) or key) in self.keys


def _names(sentence: str) -> list[tuple[int, int]]:
    """Spans of company-like names, with ``, Inc.``-style suffixes and without ``'s``."""
    out: list[tuple[int, int]] = []
    for m in _NAME.finditer(sentence):
        start, end = m.span()
        while s := _SUFFIX.match(sentence, end):  # "Netflix, Inc.", "Co., Ltd."
            end = s.end()
        if sentence[end : end + 1] == "." and _ABBREV.search(sentence[start:end]):
            end += 1
        if sentence[start:end].endswith(("'s", "’s")):
            end -= 2
        if sentence[start:end].casefold().rstrip(".") not in _PLACES:
            out.append((start, end))
    return out


def _skeleton(sentence: str, subject: _Subject) -> tuple[str, list[tuple[str, str]]]:
    """The sentence with every party replaced by a placeholder, and the (kind, text) list.

    Kinds: ``subject`` (a name, ticker or alias of the subject, "the company", "we", a
    sentence-initial "It") and ``name``. "its"/"our" stay text (see :class:`Pattern`).
    """
    spans = [(m.start(), m.end(), "subject") for m in _PRONOUNS.finditer(sentence)]
    for start, end in _names(sentence):
        if all(end <= s or start >= e for s, e, _ in spans):
            kind = "subject" if subject.matches(sentence[start:end]) else "name"
            spans.append((start, end, kind))
    spans.sort()
    parts: list[str] = []
    mentions: list[tuple[str, str]] = []
    pos = 0
    for start, end, kind in spans:
        parts.append(sentence[pos:start] + f"{_O}{len(mentions)}{_C}")
        mentions.append((kind, sentence[start:end]))
        pos = end
    parts.append(sentence[pos:])
    return "".join(parts), mentions


def _parties(group: str | None) -> list[int]:
    return [int(i) for i in re.findall(rf"{_O}(\d+){_C}", group or "")]


def _blocked(pattern: Pattern, skeleton: str, m: re.Match[str]) -> bool:
    """True when the match is negated, hedged, vetoed or about a failed deal."""
    before = skeleton[max(0, m.start() - 30) : m.start()]
    window = re.split(r"[,;:]", before)[-1] + m.group(0)
    if _NEGATION.search(window) or _HEDGE.search(window):
        return True
    if pattern.unless is not None and pattern.unless.search(m.group(0)):
        return True
    return pattern.failure_sensitive and bool(_FAILED.search(skeleton))


def _inverse(pattern: Pattern, relation: str) -> str | None:
    """The relation to emit when the subject is the right-hand party (None: nothing)."""
    return None if pattern.inverse is None else pattern.inverse or _INVERSE.get(relation)


def _sentence_candidates(sentence: Sentence, subject: _Subject) -> list[Candidate]:
    skeleton, mentions = _skeleton(sentence.text, subject)
    is_subject = [kind == "subject" for kind, _ in mentions]
    if not any(is_subject) and not _POSSESSIVE.search(skeleton):
        return []  # the subject is not in this sentence
    out: list[Candidate] = []
    for pattern in PATTERNS:
        for m in pattern.regex.finditer(skeleton):
            if _blocked(pattern, skeleton, m):
                continue
            relation, confidence = pattern.relation, pattern.confidence
            if relation == "stake":
                pct = float(m.group("pct").replace(",", "."))
                relation = "parent_of" if pct > 50 else "invests_in"
            groups = m.groupdict()
            left, right = _parties(groups.get("a")), _parties(groups.get("b"))
            if groups.get("pp"):  # "its"/"our": the subject only if the sentence opens with it
                opening = _parties(skeleton[: m.start("pp")])
                subject_left = not opening or is_subject[opening[0]]
            else:
                subject_left = any(is_subject[i] for i in left)
            if subject_left:
                others = right
            elif any(is_subject[i] for i in right) and (inverse := _inverse(pattern, relation)):
                others, relation = left, inverse
                confidence = pattern.inverse_confidence or confidence
            else:
                continue
            out.extend(
                Candidate(relation, mentions[i][1], sentence.text, confidence)
                for i in others
                if not is_subject[i]
            )
    return out


def _sentences(doc: Document) -> list[Sentence]:
    """``doc.sentences()`` plus a last one ending in ``Inc.`` that it keeps open and drops."""
    out = doc.sentences()
    end = out[-1].end if out else 0
    tail = doc.text[end:]
    if text := tail.strip():
        start = end + len(tail) - len(tail.lstrip())
        out.append(Sentence(text, start, start + len(text)))
    return out


def extract_document(doc: Document, subject_symbol: str, subject_name: str) -> list[Candidate]:
    """Candidates of one document, sentence by sentence, one per (relation, counterparty).

    Called by :class:`RulesExtractor` and :func:`extract_text`; pure and deterministic.
    """
    subject = _Subject(subject_symbol, subject_name or subject_symbol)
    seen: set[tuple[str, str, str | None]] = set()
    out: list[Candidate] = []
    for sentence in _sentences(doc):
        for cand in _sentence_candidates(sentence, subject):
            cp = cand.counterparty
            key = (cand.relation, normalise_name(cp), legal_form(cp))
            if key not in seen:
                seen.add(key)
                out.append(cand)
    return out


def extract_text(subject_symbol: str, subject_name: str, text: str) -> list[dict[str, Any]]:
    """Relationship dicts ``{relation, counterparty, evidence, confidence}`` found in ``text``.

    The default responder of the local fake LLM server (it answers the tool call the real
    Anthropic client makes); also handy in a REPL. Never raises for any text.
    """
    doc = Document("inline", subject_symbol.upper(), text)
    return [c.to_dict() for c in extract_document(doc, subject_symbol, subject_name)]


class RulesExtractor(Extractor):
    """The ``offline`` extractor: rule-based, free, deterministic and thread-safe."""

    name = "offline"

    @classmethod
    def from_settings(cls, settings: Settings) -> RulesExtractor:
        """Built by the extractor factory when no LLM is configured (needs no settings)."""
        return cls()

    def extract(self, doc: Document, context: Context) -> Extraction:
        """Candidates for ``doc`` about ``context.subject_symbol``; usage is always zero."""
        candidates = extract_document(doc, context.subject_symbol, context.subject_name)
        return Extraction(candidates, Usage(), model=self.name)
