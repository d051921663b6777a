"""The offline rules extractor: phrase patterns, and its measured quality on a labelled corpus."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from axiom.agents.documents import Document, load_folder
from axiom.agents.extractors.base import Context, Extraction, Usage
from axiom.agents.extractors.rules import RulesExtractor, extract_text
from axiom.agents.resolve import EntityResolver
from axiom.agents.vocabulary import is_known
from axiom.settings import Settings
from axiom.sources.universe import find_companies, load_universe

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "documents"


def _pairs(symbol: str, name: str, text: str) -> set[tuple[str, str]]:
    return {(d["relation"], d["counterparty"]) for d in extract_text(symbol, name, text)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # supplier_of / customer_of, both directions
        ("Apple is a key supplier to Best Buy.", {("supplier_of", "Best Buy")}),
        ("Apple sells its watches to Best Buy.", {("supplier_of", "Best Buy")}),
        ("Foxconn supplies iPhones to Apple.", {("customer_of", "Foxconn")}),
        (
            "Apple buys displays from Samsung Display and LG Display.",
            {("customer_of", "Samsung Display"), ("customer_of", "LG Display")},
        ),
        ("Apple relies on Corning for cover glass.", {("customer_of", "Corning")}),
        ("Apple outsources assembly to Pegatron.", {("customer_of", "Pegatron")}),
        ("Best Buy is one of the largest customers of Apple.", {("supplier_of", "Best Buy")}),
        ("Corning relies on Apple for a fifth of its revenue.", {("supplier_of", "Corning")}),
        ("Its modems are made by Qualcomm.", {("customer_of", "Qualcomm")}),
        (
            "Our customers include Verizon and AT&T.",
            {("supplier_of", "Verizon"), ("supplier_of", "AT&T")},
        ),
        # competes_with, lists expanded
        (
            "We compete with Samsung Electronics Co., Ltd. and Google LLC.",
            {("competes_with", "Samsung Electronics Co., Ltd."), ("competes_with", "Google LLC")},
        ),
        (
            "Apple's competitors include Samsung, Huawei, and Xiaomi.",
            {
                ("competes_with", "Samsung"),
                ("competes_with", "Huawei"),
                ("competes_with", "Xiaomi"),
            },
        ),
        ("Apple and Samsung are fierce rivals.", {("competes_with", "Samsung")}),
        ("Samsung competes with Apple in phones.", {("competes_with", "Samsung")}),
        # partner_of
        (
            "Apple partnered with Goldman Sachs on the Apple Card.",
            {("partner_of", "Goldman Sachs")},
        ),
        (
            "In March, the company announced a strategic alliance with Infosys.",
            {("partner_of", "Infosys")},
        ),
        ("Apple and Broadcom formed a joint venture in 2023.", {("partner_of", "Broadcom")}),
        ("Apple has a long-standing collaboration with Corning.", {("partner_of", "Corning")}),
        # ownership, both directions
        (
            "Apple is a wholly-owned subsidiary of Berkshire Hathaway.",
            {("subsidiary_of", "Berkshire Hathaway")},
        ),
        ("Beats Electronics is a subsidiary of Apple.", {("parent_of", "Beats Electronics")}),
        ("Apple owns Shazam.", {("parent_of", "Shazam")}),
        ("Apple owns 60% of Braeburn Ltd.", {("parent_of", "Braeburn Ltd.")}),
        ("Apple is owned by Berkshire Hathaway.", {("subsidiary_of", "Berkshire Hathaway")}),
        ("Apple holds a 20% stake in Kioxia.", {("invests_in", "Kioxia")}),
        ("Apple holds a majority stake in Kioxia.", {("parent_of", "Kioxia")}),
        ("Apple invested $250 million in Corning.", {("invests_in", "Corning")}),
        # licensing and acquisitions
        ("Apple licenses patents from Nokia.", {("licenses_from", "Nokia")}),
        ("Arm licenses its designs to Apple and others.", {("licenses_from", "Arm")}),
        ("Apple acquired Beats Electronics for $3 billion.", {("acquired", "Beats Electronics")}),
        ("Apple completed the acquisition of Shazam in 2018.", {("acquired", "Shazam")}),
        ("Apple agreed to acquire Dialog Semiconductor.", {("acquired", "Dialog Semiconductor")}),
        ("Apple was acquired by Berkshire Hathaway.", {("subsidiary_of", "Berkshire Hathaway")}),
        # subject forms: ticker, short name with suffix, "It"
        ("AAPL competes with Samsung.", {("competes_with", "Samsung")}),
        ("It competes with Samsung.", {("competes_with", "Samsung")}),
    ],
)
def test_patterns(text: str, expected: set[tuple[str, str]]) -> None:
    assert _pairs("AAPL", "Apple Inc.", text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Apple does not compete with Sony.",
        "Apple no longer supplies chargers to Best Buy.",
        "Apple ended its partnership with Goldman Sachs.",
        "Apple is not a customer of Micron.",
        "Apple isn't owned by Berkshire Hathaway.",
        "Apple never acquired Tesla.",
        "Apple may partner with Hyundai on cars.",
        "Apple is reportedly in talks to acquire Disney.",
        "Apple agreed to acquire Imagination Technologies, but the deal was abandoned.",
        "Apple sold its modem unit to Intel.",
        "Apple bought several Intel patents.",
        "Apple purchased Intel's modem business.",
        "Samsung competes with Xiaomi.",  # two other companies: not about the subject
        "Apple Hospitality REIT buys hotels from Marriott.",  # a look-alike, not the subject
        "Apple designs the iPhone in California.",
        "Apple invested heavily in Germany.",
    ],
)
def test_negated_hedged_and_unrelated_sentences_yield_nothing(text: str) -> None:
    assert _pairs("AAPL", "Apple Inc.", text) == set()


def test_look_alike_of_the_subject_is_a_counterparty() -> None:
    text = "Porsche SE holds a stake in Porsche AG. Porsche SE owns Porsche Automobil Holding."
    assert _pairs("PAH3.DE", "Porsche SE", text) == {("invests_in", "Porsche AG")}
    assert _pairs("AAPL", "Apple Inc.", "Apple competes with Apple Hospitality REIT.") == {
        ("competes_with", "Apple Hospitality REIT")
    }


def test_extract_text_returns_candidate_dicts() -> None:
    text = "Ford sources cells from SK On. Ford Motor Company competes with Toyota Motor Corp."
    rows = extract_text("F", "Ford Motor Company", text)
    assert rows == [
        {
            "relation": "customer_of",
            "counterparty": "SK On",
            "evidence": "Ford sources cells from SK On.",
            "confidence": 0.9,
        },
        {
            "relation": "competes_with",
            "counterparty": "Toyota Motor Corp.",
            "evidence": "Ford Motor Company competes with Toyota Motor Corp.",
            "confidence": 0.9,
        },
    ]
    assert extract_text("F", "Ford", "") == []


def test_extractor_port(settings: Settings) -> None:
    extractor = RulesExtractor.from_settings(settings)
    doc = Document("d.md", "MSFT", "Microsoft invested $13 billion in OpenAI.")
    out = extractor.extract(doc, Context("MSFT", "Microsoft"))
    assert extractor.name == "offline" and extractor.cache_key == "offline"
    assert out.model == "offline" and out.usage == Usage()
    assert [c.to_dict() for c in out.candidates] == [
        {
            "relation": "invests_in",
            "counterparty": "OpenAI",
            "evidence": "Microsoft invested $13 billion in OpenAI.",
            "confidence": 0.9,
        }
    ]
    extractor.close()


def _corpus() -> tuple[list[Document], list[dict[str, str]]]:
    labels = json.loads((CORPUS / "labels.json").read_text(encoding="utf-8"))
    assert "not filings" in labels["comment"]
    return load_folder(CORPUS), labels["labels"]


def test_corpus_is_well_formed() -> None:
    docs, labels = _corpus()
    assert 20 <= len(docs) <= 30
    known = find_companies(d.company for d in docs)
    assert {d.company for d in docs} <= set(known), "every document is about a real company"
    by_id = {d.doc_id: d for d in docs}
    for label in labels:
        assert is_known(label["relation"]), label
        assert label["evidence_contains"] in by_id[label["doc"]].text, label
        kind, _, key = label["counterparty_id"].partition(":")
        assert kind in {"Company", "External"} and key, label


def test_rules_on_the_corpus_precision_and_recall() -> None:
    """Run the extractor and the resolver over the corpus and compare with labels.json.

    Candidates that resolve to the document's own company are dropped, as the workflow's
    validate node does. Misses are expected: the corpus holds phrasings the rules do not read.
    """
    docs, labels = _corpus()
    resolver = EntityResolver(load_universe())
    extractor = RulesExtractor()
    gold = {(x["doc"], x["relation"], x["counterparty_id"]) for x in labels}
    found: set[tuple[str, str, str]] = set()
    subjects = {}
    for doc in docs:
        subject = resolver.resolve_subject(doc.company)
        assert subject is not None, doc.doc_id
        subjects[doc.doc_id] = subject

    def run(doc: Document) -> tuple[Document, Extraction]:
        return doc, extractor.extract(
            doc, Context(doc.company, subjects[doc.doc_id].canonical_name)
        )

    with ThreadPoolExecutor(4) as pool:  # thread-safe: one extractor shared by threads
        results = list(pool.map(run, docs))
    for doc, extraction in results:
        subject = subjects[doc.doc_id]
        assert extraction.usage == Usage()
        for cand in extraction.candidates:
            assert cand.evidence in doc.text, "evidence is a verbatim sentence of the document"
            assert is_known(cand.relation) and 0 < cand.confidence <= 1
            node = resolver.resolve(cand.counterparty).node_id
            if node != subject.node_id:
                found.add((doc.doc_id, cand.relation, node))
    hits = len(found & gold)
    precision, recall = hits / len(found), hits / len(gold)
    print(f"\nrules on corpus: precision {precision:.3f} recall {recall:.3f} "
          f"({hits} of {len(found)} found, {len(gold)} labelled)")  # fmt: skip
    assert precision >= 0.95
    assert recall >= 0.75


def test_example_documents_extract_something() -> None:
    # README.md is the folder's description, not a document about a company
    docs = [d for d in load_folder(EXAMPLES) if not d.doc_id.startswith("README")]
    assert 5 <= len(docs) <= 8
    names = find_companies(d.company for d in docs)
    assert set(names) == {d.company for d in docs}
    extractor = RulesExtractor()
    for doc in docs:
        context = Context(doc.company, names[doc.company].name)
        assert extractor.extract(doc, context).candidates, doc.doc_id
