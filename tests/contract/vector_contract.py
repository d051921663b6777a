"""The VectorIndex contract: every adapter of :class:`axiom.stores.base.VectorIndex` passes it.

A subclass provides a ``vectors`` fixture yielding an index without collections and closes
it afterwards. Only the public port API is used, so a server adapter (a Chroma server)
subclasses this unchanged.
"""

from __future__ import annotations

from axiom.stores.base import VectorIndex

PROFILES = {
    "TSM": (
        "Taiwan Semiconductor Manufacturing is the largest contract chip maker. It fabricates "
        "semiconductor chips, wafers and integrated circuits for Apple, NVIDIA and AMD."
    ),
    "JPM": (
        "JPMorgan Chase is a universal bank offering consumer banking, commercial lending, "
        "mortgages, credit cards, investment banking and asset management."
    ),
    "PFE": (
        "Pfizer develops and manufactures medicines and vaccines, running clinical trials in "
        "oncology, immunology and infectious disease."
    ),
    "XOM": (
        "ExxonMobil explores for and produces crude oil and natural gas, and runs refineries "
        "and chemical plants that make fuels and petrochemicals."
    ),
}
Scalar = str | int | float | bool
META: dict[str, dict[str, Scalar]] = {
    "TSM": {"sector": "Technology", "country": "TW", "employees": 76_000, "sp500": False},
    "JPM": {"sector": "Financials", "country": "US", "employees": 310_000, "sp500": True},
    "PFE": {"sector": "Health Care", "country": "US", "employees": 83_000, "sp500": True},
    "XOM": {"sector": "Energy", "country": "US", "employees": 62_000, "sp500": True},
}
COLLECTION = "companies"


def _load(vectors: VectorIndex) -> int:
    ids = list(PROFILES)
    return vectors.upsert(COLLECTION, ids, [PROFILES[i] for i in ids], [META[i] for i in ids])


class VectorIndexContract:
    __test__ = False

    # -- writes --------------------------------------------------------------------------
    def test_upsert_returns_written_and_counts(self, vectors: VectorIndex) -> None:
        assert _load(vectors) == 4
        assert vectors.count(COLLECTION) == 4

    def test_upsert_is_idempotent(self, vectors: VectorIndex) -> None:
        _load(vectors)
        assert _load(vectors) == 4
        assert vectors.count(COLLECTION) == 4
        assert [h.document for h in vectors.get(COLLECTION, ["JPM"])] == [PROFILES["JPM"]]

    def test_upsert_replaces_document_and_metadata(self, vectors: VectorIndex) -> None:
        _load(vectors)
        vectors.upsert(COLLECTION, ["JPM"], ["JPMorgan Chase, a bank."], [{"sector": "Banks"}])
        [hit] = vectors.get(COLLECTION, ["JPM"])
        assert hit.document == "JPMorgan Chase, a bank."
        assert hit.metadata == {"sector": "Banks"}
        assert vectors.count(COLLECTION) == 4
        vectors.upsert(COLLECTION, ["JPM"], ["JPMorgan Chase."])
        assert vectors.get(COLLECTION, ["JPM"])[0].metadata == {}

    def test_replaced_document_is_found_by_its_new_text(self, vectors: VectorIndex) -> None:
        _load(vectors)
        new_text = "Quarterly dividend raised after record trading revenue."
        vectors.upsert(COLLECTION, ["XOM"], [new_text], [META["XOM"]])
        assert vectors.query(COLLECTION, new_text, k=1)[0].id == "XOM"

    def test_repeated_id_in_one_batch_keeps_the_last(self, vectors: VectorIndex) -> None:
        written = vectors.upsert(
            COLLECTION, ["A", "A"], ["first text", "second text"], [{"v": 1}, {"v": 2}]
        )
        assert written == 1
        [hit] = vectors.get(COLLECTION, ["A"])
        assert (hit.document, hit.metadata) == ("second text", {"v": 2})

    def test_metadata_types_round_trip(self, vectors: VectorIndex) -> None:
        _load(vectors)
        [hit] = vectors.get(COLLECTION, ["TSM"])
        assert hit.metadata == META["TSM"]
        assert isinstance(hit.metadata["employees"], int)
        assert hit.metadata["sp500"] is False

    def test_empty_upsert_writes_nothing(self, vectors: VectorIndex) -> None:
        assert vectors.upsert(COLLECTION, [], []) == 0
        assert vectors.count(COLLECTION) == 0

    # -- search --------------------------------------------------------------------------
    def test_exact_text_is_its_own_nearest_neighbour(self, vectors: VectorIndex) -> None:
        _load(vectors)
        for doc_id, text in PROFILES.items():
            hits = vectors.query(COLLECTION, text, k=2)
            assert hits[0].id == doc_id
            assert hits[0].document == text
            assert hits[0].distance < 1e-3
            assert hits[0].distance < hits[1].distance

    def test_chip_query_ranks_chip_maker_above_bank(self, vectors: VectorIndex) -> None:
        _load(vectors)
        ranked = [h.id for h in vectors.query(COLLECTION, "semiconductor chips", k=4)]
        assert ranked[0] == "TSM"
        assert ranked.index("TSM") < ranked.index("JPM")
        bank = [h.id for h in vectors.query(COLLECTION, "bank lending and mortgages", k=4)]
        assert bank[0] == "JPM"

    def test_hits_are_sorted_and_limited_by_k(self, vectors: VectorIndex) -> None:
        _load(vectors)
        hits = vectors.query(COLLECTION, "oil and gas refineries", k=3)
        assert len(hits) == 3
        assert [h.distance for h in hits] == sorted(h.distance for h in hits)
        assert hits[0].metadata == META["XOM"]
        assert len(vectors.query(COLLECTION, "anything", k=50)) == 4
        assert vectors.query(COLLECTION, "anything", k=0) == []

    def test_where_filters_on_metadata(self, vectors: VectorIndex) -> None:
        _load(vectors)
        hits = vectors.query(COLLECTION, "semiconductor chips", k=4, where={"country": "US"})
        assert sorted(h.id for h in hits) == ["JPM", "PFE", "XOM"]
        both = vectors.query(COLLECTION, "chips", k=4, where={"country": "US", "sector": "Energy"})
        assert [h.id for h in both] == ["XOM"]
        assert [h.id for h in vectors.query(COLLECTION, "x", k=4, where={"sp500": False})] == [
            "TSM"
        ]
        assert vectors.query(COLLECTION, "x", k=4, where={"employees": 1}) == []

    def test_query_of_missing_collection_is_empty(self, vectors: VectorIndex) -> None:
        assert vectors.query("no-such-collection", "anything") == []

    # -- reads and deletes ---------------------------------------------------------------
    def test_get_returns_documents_in_the_order_asked(self, vectors: VectorIndex) -> None:
        _load(vectors)
        hits = vectors.get(COLLECTION, ["XOM", "NOPE", "TSM"])
        assert [h.id for h in hits] == ["XOM", "TSM"]
        assert [h.document for h in hits] == [PROFILES["XOM"], PROFILES["TSM"]]
        assert [h.distance for h in hits] == [0.0, 0.0]
        assert hits[1].metadata == META["TSM"]
        assert vectors.get(COLLECTION, []) == []
        assert vectors.get("no-such-collection", ["TSM"]) == []

    def test_delete_removes_and_ignores_unknown(self, vectors: VectorIndex) -> None:
        _load(vectors)
        vectors.delete(COLLECTION, ["JPM", "NOPE"])
        assert vectors.count(COLLECTION) == 3
        assert vectors.get(COLLECTION, ["JPM"]) == []
        assert "JPM" not in [h.id for h in vectors.query(COLLECTION, PROFILES["JPM"], k=4)]
        vectors.delete(COLLECTION, [])
        vectors.delete("no-such-collection", ["JPM"])
        assert vectors.count(COLLECTION) == 3

    def test_count_of_missing_collection_is_zero(self, vectors: VectorIndex) -> None:
        assert vectors.count("no-such-collection") == 0

    def test_collections_are_separate(self, vectors: VectorIndex) -> None:
        _load(vectors)
        vectors.upsert("events", ["e1"], ["TSM jumps 8% on record chip demand"], [{"kind": "jump"}])
        assert vectors.count("events") == 1
        assert vectors.count(COLLECTION) == 4
        assert [h.id for h in vectors.query("events", "semiconductor chips")] == ["e1"]

    def test_reset_drops_every_collection(self, vectors: VectorIndex) -> None:
        _load(vectors)
        vectors.upsert("events", ["e1"], ["an event"])
        vectors.reset()
        assert vectors.count(COLLECTION) == 0
        assert vectors.count("events") == 0
        assert vectors.query(COLLECTION, "semiconductor chips") == []
        assert _load(vectors) == 4
        assert vectors.count(COLLECTION) == 4
