"""Embedded Chroma: the vector contract, the server error path and the hashing embedding."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from axiom.errors import BackendUnavailableError, ConfigError, InputError
from axiom.registry import open_backend
from axiom.settings import Settings
from axiom.stores.chroma import ChromaVectorIndex
from axiom.stores.embedding import DEFAULT_DIM, EMBEDDING_NAME, HashingEmbedding, hash_embed

from .vector_contract import COLLECTION, META, PROFILES, VectorIndexContract


def _index(path: Path, batch_size: int | None = None) -> ChromaVectorIndex:
    settings = Settings(home=path / "home")
    return ChromaVectorIndex.from_url(
        f"embedded://{path / 'chroma'}", settings, batch_size=batch_size
    )


class TestChromaVectorIndex(VectorIndexContract):
    __test__ = True

    @pytest.fixture
    def vectors(self, tmp_path: Path) -> Iterator[ChromaVectorIndex]:
        index = _index(tmp_path)
        yield index
        index.close()


# -- adapter ---------------------------------------------------------------------------------
def test_registry_opens_chroma_under_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    with open_backend("vectors", "embedded://", settings) as index:
        assert isinstance(index, ChromaVectorIndex)
        index.upsert("companies", ["TSM"], [PROFILES["TSM"]])
        assert index.count("companies") == 1
    assert (settings.home_dir / "chroma").is_dir()


def test_batches_smaller_than_the_input_write_everything(tmp_path: Path) -> None:
    index = _index(tmp_path, batch_size=7)
    ids = [f"e{i:03d}" for i in range(50)]
    docs = [f"event {i} for symbol S{i % 5}" for i in range(50)]
    metas = [{"symbol": f"S{i % 5}"} for i in range(50)]
    assert index.upsert("events", ids, docs, metas) == 50
    assert index.count("events") == 50
    assert [h.id for h in index.get("events", ids)] == ids
    index.delete("events", ids[:20])
    assert index.count("events") == 30
    hits = index.query("events", "event for symbol S3", k=50, where={"symbol": "S3"})
    assert len(hits) == 6
    assert {h.metadata["symbol"] for h in hits} == {"S3"}


def test_another_process_reopens_the_collection(tmp_path: Path) -> None:
    index = _index(tmp_path)
    ids = list(PROFILES)
    index.upsert(COLLECTION, ids, [PROFILES[i] for i in ids], [META[i] for i in ids])
    index.close()
    script = (
        "import sys, warnings\n"
        "from pathlib import Path\n"
        "from axiom.settings import Settings\n"
        "from axiom.stores.chroma import ChromaVectorIndex\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    url = 'embedded://' + sys.argv[1]\n"
        "    v = ChromaVectorIndex.from_url(url, Settings(home=Path(sys.argv[1]).parent))\n"
        "    print(v.count('companies'), v.query('companies', 'semiconductor chips', k=1)[0].id)\n"
        "for w in caught:\n"
        "    if 'embedding' in str(w.message).lower() or 'legacy' in str(w.message).lower():\n"
        "        print('WARNING', w.message)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "chroma")],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    assert proc.stdout.split() == ["4", "TSM"]


def test_collection_dropped_by_another_instance_is_reopened(tmp_path: Path) -> None:
    first, second = _index(tmp_path), _index(tmp_path)
    first.upsert("events", ["e1", "e2"], ["jump", "drop"])
    assert second.count("events") == 2
    first.reset()
    assert second.count("events") == 0
    assert second.upsert("events", ["e3"], ["gap up"]) == 1
    assert first.count("events") == 1
    assert [h.id for h in first.get("events", ["e1", "e3"])] == ["e3"]


def test_invalid_collection_name_is_an_input_error(tmp_path: Path) -> None:
    index = _index(tmp_path)
    with pytest.raises(InputError, match="collection name"):
        index.upsert("x", ["a"], ["text"])


def test_mismatched_lengths_are_rejected(tmp_path: Path) -> None:
    index = _index(tmp_path)
    with pytest.raises(ValueError, match="same length"):
        index.upsert(COLLECTION, ["a", "b"], ["only one"])


def test_down_server_is_a_clear_error_quickly(tmp_path: Path) -> None:
    url = "http://127.0.0.1:1"
    started = time.monotonic()
    with pytest.raises(BackendUnavailableError) as err:
        ChromaVectorIndex.from_url(url, Settings(home=tmp_path))
    assert time.monotonic() - started < 10
    assert url in str(err.value)
    assert "\n" not in str(err.value)


def test_other_scheme_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="embedded:// or http://"):
        ChromaVectorIndex.from_url("qdrant://127.0.0.1:6333", Settings(home=tmp_path))


# -- embedding -------------------------------------------------------------------------------
def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b))


def test_embedding_is_deterministic_across_processes() -> None:
    texts = ["Semiconductor chips for data centres", "Retail bank", ""]
    here = hash_embed(texts)
    script = (
        "import sys\n"
        "from axiom.stores.embedding import hash_embed\n"
        "sys.stdout.buffer.write(hash_embed(sys.argv[1:]).tobytes())\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", script, *texts],
        capture_output=True,
        timeout=120,
        check=True,
        env=env,
    ).stdout
    there = np.frombuffer(out, dtype=np.float32).reshape(here.shape)
    assert np.array_equal(here, there)
    assert np.array_equal(hash_embed(texts), here)


def test_embedding_rows_have_unit_norm() -> None:
    vectors = hash_embed(["one two three", "", "!!!", "Ünïcödé wörds ok", "a " * 500])
    assert vectors.shape == (5, DEFAULT_DIM)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def test_embedding_of_a_text_does_not_depend_on_its_batch() -> None:
    texts = [f"company {i} makes product {i % 17} in city {i % 5}" for i in range(2500)]
    batch = hash_embed(texts)
    for i in (0, 1023, 1024, 2047, 2499):
        np.testing.assert_array_equal(batch[i], hash_embed([texts[i]])[0])


def test_similar_texts_are_closer_than_unrelated_ones() -> None:
    chip, chips, bank = hash_embed(
        [
            "semiconductor chip maker building wafers",
            "maker of semiconductor chips and wafers",
            "retail bank offering mortgages and deposits",
        ]
    )
    assert _cos(chip, chips) > _cos(chip, bank) + 0.2
    assert _cos(chip, chips) > _cos(chips, bank) + 0.2
    # Character 3-grams make inflections similar even without a shared word.
    plural, singular = hash_embed(["semiconductors", "semiconductor"])
    assert _cos(plural, singular) > 0.5


def test_embedding_function_protocol() -> None:
    ef = HashingEmbedding(dim=64)
    out = ef(["hello world", "goodbye"])
    assert len(out) == 2
    assert all(np.asarray(v).shape == (64,) for v in out)
    assert HashingEmbedding.name() == EMBEDDING_NAME
    rebuilt = HashingEmbedding.build_from_config(ef.get_config())
    assert rebuilt.dim == 64
    np.testing.assert_array_equal(np.asarray(rebuilt(["hello world"])[0]), np.asarray(out[0]))
    assert ef.default_space() == "cosine"
    with pytest.raises(ValueError, match="dimension"):
        ef.validate_config_update({"dim": 64}, {"dim": 128})
    with pytest.raises(ValueError, match="at least"):
        HashingEmbedding(dim=2)
