"""Offline text embeddings by feature hashing (no model, no download).

:class:`HashingEmbedding` is the embedding function of every Axiom vector collection, on
the embedded Chroma and on a Chroma server alike, so the same text always maps to the same
vector on every machine. Features are lower-cased word unigrams, word bigrams and
character 3-grams of the words (padded with one space each side, as in scikit-learn's
``char_wb``). Each feature is hashed with a stable 64-bit hash (blake2b for words, a
splitmix64 mix of the code points for character grams), which picks a bucket and a sign;
bucket values get a sublinear transform ``sign(v) * log1p(|v|)`` and every vector is
L2-normalised, so cosine distance is ``1 - dot``.

The class implements chromadb's ``EmbeddingFunction`` protocol, including ``name``,
``get_config`` and ``build_from_config``, and is registered with chromadb on import, so a
persisted collection reopens with its embedding function and no warning.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from chromadb.api.types import Documents, EmbeddingFunction, Embeddings, Space
from chromadb.utils.embedding_functions import register_embedding_function

DEFAULT_DIM = 384
EMBEDDING_NAME = "axiom-hashing"

#: Relative weight of each feature family in a vector.
_W_WORD = 1.0
_W_BIGRAM = 0.7
_W_CHAR = 0.3

# Salts keep the three feature families from colliding systematically.
_SALT_WORD = np.uint64(0x9E3779B97F4A7C15)
_SALT_BIGRAM = np.uint64(0xC2B2AE3D27D4EB4F)
_SALT_CHAR = np.uint64(0x165667B19E3779F9)

_WORD_RE = re.compile(r"\w+")
_STOPWORDS = frozenset(
    {
        *("a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have"),
        *("in", "is", "it", "its", "of", "on", "or", "that", "the", "this", "to", "was"),
        *("were", "will", "with"),
    }
)
_MEMO_LIMIT = 500_000
_BLOCK = 1024  # texts per block: keeps the dense block near the CPU caches

_U64 = npt.NDArray[np.uint64]
_F32 = npt.NDArray[np.float32]


def _mix64(x: _U64) -> _U64:
    """splitmix64 finaliser: a stable bijective scramble of 64-bit integers."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


_word_memo: dict[str, int] = {}


def _hash_word(word: str) -> int:
    """Stable 64-bit hash of a word, memoised (dict operations are atomic under the GIL)."""
    h = _word_memo.get(word)
    if h is None:
        h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
        if len(_word_memo) >= _MEMO_LIMIT:
            _word_memo.clear()
        _word_memo[word] = h
    return h


def tokenize(text: str) -> list[str]:
    """Lower-cased words of ``text`` without the most common English stopwords."""
    return [w for w in _WORD_RE.findall(text.lower()) if w not in _STOPWORDS]


def _char_features(docs: list[list[str]]) -> tuple[_U64, npt.NDArray[np.intp]]:
    """Hashes of the padded character 3-grams of every document's words, with doc indices."""
    padded = [" " + " ".join(words) + " " if words else "" for words in docs]
    lengths = np.fromiter((len(p) for p in padded), dtype=np.intp, count=len(padded))
    codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype="<u4").astype(np.uint64)
    if codes.size < 3:
        return np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.intp)
    doc_of = np.repeat(np.arange(len(padded), dtype=np.intp), lengths)
    # A 3-gram whose middle character is a space spans two words (or two documents).
    valid = codes[1:-1] != ord(" ")
    # Code points are below 2**21, so three of them pack injectively into 63 bits.
    grams = (codes[:-2] << np.uint64(42)) | (codes[1:-1] << np.uint64(21)) | codes[2:]
    return _mix64(grams[valid] ^ _SALT_CHAR), doc_of[:-2][valid]


def _word_features(
    docs: list[list[str]],
) -> tuple[_U64, npt.NDArray[np.intp], _U64, npt.NDArray[np.intp]]:
    """Hashes of word unigrams and bigrams with their document indices."""
    counts = np.fromiter((len(d) for d in docs), dtype=np.intp, count=len(docs))
    raw = np.fromiter(
        (_hash_word(w) for d in docs for w in d), dtype=np.uint64, count=int(counts.sum())
    )
    doc_of = np.repeat(np.arange(len(docs), dtype=np.intp), counts)
    unigrams = _mix64(raw ^ _SALT_WORD)
    same_doc = doc_of[1:] == doc_of[:-1]
    with np.errstate(over="ignore"):
        pairs = raw[:-1] * np.uint64(0x100000001B3) + _mix64(raw[1:])
    bigrams = _mix64(pairs[same_doc] ^ _SALT_BIGRAM)
    return unigrams, doc_of, bigrams, doc_of[:-1][same_doc]


def hash_embed(texts: Sequence[str], dim: int = DEFAULT_DIM) -> _F32:
    """Embed ``texts`` into an ``(n, dim)`` float32 array of unit rows.

    Called by :class:`HashingEmbedding` and by the vector index for whole batches. The
    result depends on nothing but the texts and ``dim``. A text without any word maps to
    the first basis vector, so every row has unit norm and a defined cosine distance.
    Texts are processed in blocks so the intermediate arrays stay small.
    """
    out = np.empty((len(texts), dim), dtype=np.float32)
    for start in range(0, len(texts), _BLOCK):
        block = list(texts[start : start + _BLOCK])
        out[start : start + len(block)] = _embed_block(block, dim)
    return out


def _embed_block(texts: list[str], dim: int) -> npt.NDArray[np.float64]:
    """Unit rows of one block of texts (float64; the caller narrows to float32)."""
    n = len(texts)
    docs = [tokenize(t) for t in texts]
    uni, uni_doc, bi, bi_doc = _word_features(docs)
    ch, ch_doc = _char_features(docs)
    hashes = np.concatenate([uni, bi, ch])
    doc_of = np.concatenate([uni_doc, bi_doc, ch_doc])
    weights = np.concatenate(
        [
            np.full(uni.size, _W_WORD),
            np.full(bi.size, _W_BIGRAM),
            np.full(ch.size, _W_CHAR),
        ]
    )
    bucket = (hashes >> np.uint64(1)) % np.uint64(dim)
    signs = np.where((hashes & np.uint64(1)) == 0, 1.0, -1.0)
    flat = doc_of.astype(np.int64) * dim + bucket.astype(np.int64)
    values = np.bincount(flat, weights=weights * signs, minlength=n * dim).reshape(n, dim)
    values = np.sign(values) * np.log1p(np.abs(values))
    norms = np.linalg.norm(values, axis=1)
    empty = norms == 0.0
    values[empty, 0] = 1.0
    norms[empty] = 1.0
    unit: npt.NDArray[np.float64] = values / norms[:, None]
    return unit


@register_embedding_function
class HashingEmbedding(EmbeddingFunction[Documents]):
    """chromadb embedding function backed by :func:`hash_embed`.

    Chroma calls it for documents and queries given as text; the vector index calls
    :func:`hash_embed` directly for its batches, which yields the same vectors.
    """

    def __init__(self, dim: int = DEFAULT_DIM) -> None:
        if dim < 8:
            raise ValueError(f"embedding dimension must be at least 8, got {dim}")
        self.dim = dim

    def __call__(self, input: Documents) -> Embeddings:
        """Embed ``input`` (chromadb requires this exact parameter name)."""
        return list(hash_embed(list(input), self.dim))

    @staticmethod
    def name() -> str:
        """The name chromadb stores in a collection's configuration."""
        return EMBEDDING_NAME

    def default_space(self) -> Space:
        """Vectors are unit length, so cosine is the natural distance."""
        return "cosine"

    def supported_spaces(self) -> list[Space]:
        """All of chromadb's spaces work on unit vectors; cosine is the one Axiom uses."""
        return ["cosine", "l2", "ip"]

    def get_config(self) -> dict[str, Any]:
        """Persisted with a collection so it reopens with the same dimension."""
        return {"dim": self.dim}

    @staticmethod
    def build_from_config(config: dict[str, Any]) -> HashingEmbedding:
        """Rebuild from :meth:`get_config` when chromadb reopens a collection."""
        return HashingEmbedding(dim=int(config.get("dim", DEFAULT_DIM)))

    def validate_config_update(
        self, old_config: dict[str, Any], new_config: dict[str, Any]
    ) -> None:
        """A collection's dimension is fixed once it holds vectors."""
        if int(new_config.get("dim", DEFAULT_DIM)) != int(old_config.get("dim", DEFAULT_DIM)):
            raise ValueError("the embedding dimension of a collection cannot change")
