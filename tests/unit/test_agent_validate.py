"""Evidence checks, confidence threshold and provenance of the agent's relations."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from axiom.agents import mutations
from axiom.agents.documents import Document, load_folder, parse
from axiom.agents.extractors.base import Candidate
from axiom.agents.resolve import Resolution
from axiom.agents.validate import Accepted, Claim, Rejected, evidence_span, validate
from axiom.errors import InputError

TEXT = (
    "Apple Inc. designs phones.\n"
    "Apple buys most of its processors from Taiwan Semiconductor  Manufacturing\n"
    "under long-term contracts. It competes with Samsung.\n"
)
DOC = Document("aapl.md", "AAPL", TEXT, "t", date(2024, 5, 1))


def _res(node_id: str, kind: str = "company") -> Resolution:
    symbol = node_id.split(":", 1)[1] if kind == "company" else None
    method = "exact" if kind == "company" else "unresolved"
    return Resolution(
        kind=kind, node_id=node_id, symbol=symbol, canonical_name=node_id, method=method, score=1.0
    )


def _claim(
    evidence: str, relation: str = "customer_of", conf: float = 0.9, dst: str = "X"
) -> Claim:
    return Claim(
        DOC,
        Candidate(relation, dst, evidence, conf),
        "Company:AAPL",
        _res(f"External:{dst}", "external"),
    )


def test_exact_evidence_has_its_span() -> None:
    ev = "It competes with Samsung."
    start, end = evidence_span(TEXT, ev) or (0, 0)
    assert TEXT[start:end] == ev


def test_reflowed_evidence_is_found_and_mapped_back_to_the_original() -> None:
    ev = (
        "Apple buys most of its processors from Taiwan Semiconductor Manufacturing "
        "under long-term contracts."
    )
    span = evidence_span(TEXT, ev)
    assert span is not None
    assert TEXT[span[0] : span[1]].startswith("Apple buys")
    assert TEXT[span[0] : span[1]].endswith("contracts.")


def test_curly_quotes_and_dashes_do_not_hide_evidence() -> None:
    text = "Acme signed a \u201cmulti-year\u201d deal \u2013 its largest."
    assert evidence_span(text, 'Acme signed a "multi-year" deal - its largest.') is not None


@pytest.mark.parametrize(
    ("quote", "sentence"),
    [
        ("competes with Samsung", "It competes with Samsung."),
        ("designs phones", "Apple Inc. designs phones."),  # "Inc." does not end it
        ("It competes with Samsung.", "It competes with Samsung."),  # already whole
        (  # crosses a line end: the two sentences it touches, the original white space kept
            "Manufacturing under long-term",
            "Apple buys most of its processors from Taiwan Semiconductor  Manufacturing\n"
            "under long-term contracts.",
        ),
    ],
)
def test_accepted_evidence_is_the_whole_sentence_of_the_quote(quote: str, sentence: str) -> None:
    verdict = validate(_claim(quote), 0.5)
    assert isinstance(verdict, Accepted)
    assert verdict.evidence == sentence
    start, end = verdict.span
    assert TEXT[start:end] == sentence == verdict.evidence
    assert TEXT.index(sentence) == start
    p = mutations.provenance(verdict, "m", "2026-01-01T00:00:00+00:00")
    assert p["evidence"] == sentence and TEXT[p["span"][0] : p["span"][1]] == p["evidence"]


def test_cited_sentences_are_those_of_the_document_splitter() -> None:
    for sentence in DOC.sentences():
        verdict = validate(_claim(sentence.text[2:-2]), 0.5)
        assert isinstance(verdict, Accepted)
        assert verdict.span == (sentence.start, sentence.end)


@pytest.mark.parametrize(
    "fabricated",
    [
        "Apple buys all of its modems from Qualcomm.",  # never said
        "Apple buys most of its processors from Intel under long-term contracts.",  # altered
        "It competes with Samsung and Huawei.",  # a true sentence, extended
        "Apple",  # too short to be evidence
        "Samsung",  # in the text, but a word is not evidence (under 8 characters)
    ],
)
def test_fabricated_evidence_is_rejected(fabricated: str) -> None:
    verdict = validate(_claim(fabricated), 0.5)
    assert isinstance(verdict, Rejected) and verdict.reason == "evidence_not_found"


def test_low_confidence_unknown_relation_and_self_reference_are_rejected() -> None:
    ev = "It competes with Samsung."
    assert validate(_claim(ev, conf=0.3), 0.6).reason == "low_confidence"  # type: ignore[union-attr]
    assert validate(_claim(ev, relation="likes"), 0.6).reason == "unknown_relation"  # type: ignore[union-attr]
    selfish = Claim(
        DOC, Candidate("competes_with", "Apple", ev, 0.9), "Company:AAPL", _res("Company:AAPL")
    )
    assert validate(selfish, 0.6).reason == "self_reference"  # type: ignore[union-attr]


def test_symmetric_relation_starts_at_the_asserting_subject() -> None:
    ev = "It competes with Samsung."
    claim = Claim(
        DOC, Candidate("competes_with", "Samsung", ev, 0.9), "Company:AAPL", _res("Company:005930")
    )
    verdict = validate(claim, 0.6)
    assert isinstance(verdict, Accepted)
    assert verdict.key == ("Company:AAPL", "competes_with", "Company:005930")


def test_edges_carry_provenance_and_externals_are_explicit_nodes() -> None:
    ev = (
        "Apple buys most of its processors from Taiwan Semiconductor  Manufacturing\n"
        "under long-term contracts."
    )
    a = validate(_claim(ev, dst="taiwan-semiconductor-manufacturing"), 0.6)
    assert isinstance(a, Accepted)
    muts = mutations.build(
        [a], {"aapl.md": "anthropic:claude-x"}, {"aapl.md": "2026-01-01T00:00:00+00:00"}
    )
    assert [m.op for m in muts] == ["merge_node", "merge_edge"]
    assert muts[0].node is not None and muts[0].node.label == "External"
    edge = muts[1].edge
    assert edge is not None and edge.type == "CUSTOMER_OF" and edge.src == "Company:AAPL"
    p = edge.props
    assert TEXT[p["span"][0] : p["span"][1]] == p["evidence"]
    assert p["doc_id"] == "aapl.md" and p["model"] == "anthropic:claude-x"
    assert p["valid_from"] == "2024-05-01" and p["extracted_at"].startswith("2026-01-01")
    assert p["valid_from_source"] == "document"
    assert p["doc_hash"] == DOC.content_hash[:16]


def test_without_a_date_valid_from_is_the_extraction_date(tmp_path: Path) -> None:
    path = tmp_path / "aapl.md"
    path.write_text(f"---\ncompany: AAPL\n---\n{TEXT}")
    doc = parse(path)
    assert doc.valid_from is None
    ev = "It competes with Samsung."
    claim = Claim(doc, Candidate("competes_with", "S", ev, 0.9), "Company:AAPL", _res("Company:S"))
    a = validate(claim, 0.6)
    assert isinstance(a, Accepted)
    # late evening in New York is already the next day in UTC
    p = mutations.provenance(a, "offline", "2026-03-01T22:30:00-05:00")
    assert p["valid_from"] == "2026-03-02" and p["valid_from_source"] == "extracted_at"


def test_duplicate_claims_keep_the_most_confident() -> None:
    ev = "It competes with Samsung."
    weak, strong = (validate(_claim(ev, "competes_with", c, "S"), 0.1) for c in (0.7, 0.95))
    assert isinstance(weak, Accepted) and isinstance(strong, Accepted)
    (best,) = mutations.best_per_key([weak, strong])
    assert best.claim.candidate.confidence == 0.95


def test_front_matter_and_file_name_give_the_company(tmp_path: Path) -> None:
    (tmp_path / "msft.md").write_text(
        "---\ncompany: msft\ndate: 2024-02-03\ntitle: Q\n---\nBody.\n"
    )
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "AAPL-2024-q1.txt").write_text("Apple text.")
    (tmp_path / "notes.csv").write_text("ignored")
    docs = load_folder(tmp_path)
    assert [(d.doc_id, d.company) for d in docs] == [
        ("msft.md", "MSFT"),
        ("sub/AAPL-2024-q1.txt", "AAPL"),
    ]
    assert docs[0].valid_from == date(2024, 2, 3) and docs[0].text == "Body.\n"


def test_bad_documents_give_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_folder(tmp_path / "nope")
    with pytest.raises(InputError, match=r"no \.txt or \.md"):
        load_folder(tmp_path)
    bad = tmp_path / "x.md"
    bad.write_text("---\ncompany: X\ndate: yesterday\n---\nt")
    with pytest.raises(InputError, match="not YYYY-MM-DD"):
        parse(bad)


def test_content_hash_ignores_front_matter_changes_only_when_text_same(tmp_path: Path) -> None:
    a, b = tmp_path / "a.md", tmp_path / "b.md"
    a.write_text("---\ncompany: A\ntitle: one\n---\nSame body.")
    b.write_text("---\ncompany: A\ntitle: two\n---\nSame body.")
    assert parse(a).content_hash == parse(b).content_hash
    b.write_text("---\ncompany: A\n---\nOther body.")
    assert parse(a).content_hash != parse(b).content_hash
