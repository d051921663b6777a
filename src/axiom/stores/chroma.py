"""ChromaDB vector index: embedded (``embedded://``) or a Chroma server (``http://``).

``embedded://`` opens a ``chromadb.PersistentClient`` under ``AXIOM_HOME/chroma``
(``embedded:///abs/dir`` picks the folder); ``http://host:port`` talks to ``chroma run``.
Embedded Chroma belongs to one process at a time: the vector indexer writes it, and other
processes should read through a Chroma server when they run alongside it.

Every collection uses cosine distance and :class:`~axiom.stores.embedding.HashingEmbedding`,
so vectors are the same on both backends and no model is ever downloaded. Vectors are
computed here for whole batches and handed to Chroma with the documents.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import chromadb
import httpx
from chromadb.config import Settings as ChromaSettings
from chromadb.errors import NotFoundError

from axiom.errors import BackendUnavailableError, ConfigError, InputError
from axiom.stores.base import VectorHit, VectorIndex
from axiom.stores.embedding import DEFAULT_DIM, HashingEmbedding, hash_embed

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.models.Collection import Collection

    from axiom.settings import Settings

T = TypeVar("T")
Scalar = str | int | float | bool

_CONNECT_TIMEOUT_S = 3.0
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,510}[A-Za-z0-9]")
_INCLUDE_HITS: Any = ["documents", "metadatas", "distances"]
_INCLUDE_DOCS: Any = ["documents", "metadatas"]


def _chroma_settings() -> ChromaSettings:
    return ChromaSettings(anonymized_telemetry=False, allow_reset=False)


def _embedded_path(url: str, settings: Settings) -> Path:
    """Folder of an ``embedded://`` URL: AXIOM_HOME/chroma, an absolute path, or relative."""
    rest = url.split("://", 1)[1] if "://" in url else ""
    if not rest.strip("/"):
        return settings.home_dir / "chroma"
    path = Path(rest)
    return path if path.is_absolute() else settings.home_dir / path


def _probe(url: str, host: str, port: int) -> None:
    """Fail fast with one clear line when nothing listens at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=_CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise BackendUnavailableError(
            f"Chroma server at {url} is unreachable ({exc.strerror or exc}); "
            "start it with `chroma run` or set AXIOM_VECTORS=embedded://"
        ) from exc


def _http_client(url: str) -> ClientAPI:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 8000)
    except ValueError as exc:
        raise ConfigError(f"malformed vector index URL '{url}': {exc}") from exc
    _probe(url, host, port)
    try:
        return chromadb.HttpClient(
            host=host, port=port, ssl=parts.scheme == "https", settings=_chroma_settings()
        )
    except (ValueError, httpx.TransportError) as exc:
        raise BackendUnavailableError(f"Chroma server at {url} does not answer: {exc}") from exc


def _typed(meta: Mapping[str, Any]) -> dict[str, tuple[type, Any]]:
    """Metadata compared with value types, so ``True`` and ``1`` differ as Chroma stores them."""
    return {k: (type(v), v) for k, v in meta.items()}


def _where(where: Mapping[str, Scalar] | None) -> Any:
    """Equality filters in Chroma's syntax (several keys are joined with ``$and``)."""
    if not where:
        return None
    if len(where) == 1:
        return dict(where)
    return {"$and": [{k: v} for k, v in where.items()]}


class ChromaVectorIndex(VectorIndex):
    """The :class:`~axiom.stores.base.VectorIndex` on ChromaDB.

    Built by the registry from ``AXIOM_VECTORS``; the vector indexer consumer writes,
    the agents' retrieval step, the CLI and the API query. Collection names follow
    Chroma's rule: 3-512 characters of ``[A-Za-z0-9._-]``, alphanumeric at both ends.
    """

    def __init__(
        self,
        client: ClientAPI,
        url: str,
        dim: int = DEFAULT_DIM,
        batch_size: int | None = None,
    ) -> None:
        """Wrap ``client``; ``batch_size`` caps records per request below the client's own cap."""
        self.url = url
        self._client = client
        self._dim = dim
        self._embedding = HashingEmbedding(dim)
        self._collections: dict[str, Collection] = {}
        with self._guard():
            limit = int(client.get_max_batch_size())
        self._batch = max(1, min(limit, batch_size or limit))

    @classmethod
    def from_url(
        cls, url: str, settings: Settings, *, batch_size: int | None = None
    ) -> ChromaVectorIndex:
        """Open the index of ``url``; called by the registry.

        ``batch_size`` caps the records per Chroma request (default: the client's maximum).

        Raises:
            BackendUnavailableError: a server URL where no Chroma answers within seconds.
            ConfigError: a URL of another scheme, or a malformed one.
        """
        scheme = url.split("://", 1)[0].lower() if "://" in url else url.lower()
        if scheme == "embedded":
            path = _embedded_path(url, settings)
            path.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(path), settings=_chroma_settings())
            return cls(client, url, batch_size=batch_size)
        if scheme in ("http", "https"):
            return cls(_http_client(url), url, batch_size=batch_size)
        raise ConfigError(f"Chroma vector index needs embedded:// or http://, got '{url}'")

    # -- collections ---------------------------------------------------------------------
    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn a lost server connection into one line naming the URL."""
        try:
            yield
        except httpx.TransportError as exc:
            raise BackendUnavailableError(
                f"Chroma server at {self.url} is unreachable: {exc}"
            ) from exc

    def _open(self, name: str, create: bool) -> Collection | None:
        col = self._collections.get(name)
        if col is not None:
            return col
        if not _NAME_RE.fullmatch(name):
            raise InputError(
                f"collection name {name!r} must be 3-512 characters of [A-Za-z0-9._-], "
                "alphanumeric at both ends"
            )
        if create:
            col = self._client.get_or_create_collection(
                name,
                embedding_function=self._embedding,  # type: ignore[arg-type]
                configuration={"hnsw": {"space": "cosine"}},
            )
        else:
            try:
                col = self._client.get_collection(
                    name,
                    embedding_function=self._embedding,  # type: ignore[arg-type]
                )
            except NotFoundError:
                return None
        self._collections[name] = col
        return col

    def _with(self, name: str, create: bool, fn: Callable[[Collection], T], missing: T) -> T:
        """Run ``fn`` on the collection, reopening once if it was dropped elsewhere."""
        with self._guard():
            for attempt in range(2):
                col = self._open(name, create)
                if col is None:
                    return missing
                try:
                    return fn(col)
                except NotFoundError:
                    self._collections.pop(name, None)
                    if attempt:
                        raise
            return missing  # pragma: no cover - the loop returns or raises

    # -- port ----------------------------------------------------------------------------
    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        documents: Sequence[str],
        metadatas: Sequence[Mapping[str, Scalar]] | None = None,
    ) -> int:
        """Insert or replace by id; called by the vector indexer for each batch.

        A document's metadata is replaced, not merged; when ``ids`` repeats an id the last
        occurrence wins. Returns the number of distinct ids written. If it raises, part of
        the batch may be written, and re-running it converges to the same state.
        """
        if len(documents) != len(ids) or (metadatas is not None and len(metadatas) != len(ids)):
            raise ValueError("ids, documents and metadatas must have the same length")
        last = {doc_id: i for i, doc_id in enumerate(ids)}
        order = list(last.values())
        if not order:
            return 0

        def write(col: Collection) -> int:
            for start in range(0, len(order), self._batch):
                part = order[start : start + self._batch]
                metas = [dict(metadatas[i]) if metadatas is not None else {} for i in part]
                self._write_batch(col, [ids[i] for i in part], [documents[i] for i in part], metas)
            return len(order)

        return self._with(collection, True, write, 0)

    def _write_batch(
        self, col: Collection, ids: list[str], docs: list[str], metas: list[dict[str, Any]]
    ) -> None:
        """Write the records that are new or differ from what is stored.

        A re-delivered batch is compared with the stored documents and metadata and skipped,
        since Chroma rewrites the vector of every upserted id even when nothing changed.
        Chroma merges metadata on upsert, so keys that the new version lacks are sent as
        None, which Chroma treats as a deletion.
        """
        stored = col.get(ids=ids, include=_INCLUDE_DOCS)
        old_docs: Sequence[Any] = stored["documents"] or [None] * len(stored["ids"])
        old_metas: Sequence[Any] = stored["metadatas"] or [None] * len(stored["ids"])
        previous = {
            i: (d, dict(m or {}))
            for i, d, m in zip(stored["ids"], old_docs, old_metas, strict=True)
        }
        keep: list[int] = []
        for n, (doc_id, doc, meta) in enumerate(zip(ids, docs, metas, strict=True)):
            if doc_id in previous:
                old_doc, old_meta = previous[doc_id]
                if old_doc == doc and _typed(old_meta) == _typed(meta):
                    continue
                for key in old_meta:
                    meta.setdefault(key, None)
            keep.append(n)
        if not keep:
            return
        batch_docs = [docs[n] for n in keep]
        payload = [metas[n] or None for n in keep]
        col.upsert(
            ids=[ids[n] for n in keep],
            documents=batch_docs,
            embeddings=hash_embed(batch_docs, self._dim),
            metadatas=payload if any(m is not None for m in payload) else None,  # type: ignore[arg-type]
        )

    def query(
        self,
        collection: str,
        text: str,
        k: int = 5,
        where: Mapping[str, Scalar] | None = None,
    ) -> list[VectorHit]:
        """The ``k`` documents nearest to ``text`` (cosine distance), nearest first.

        Called by the agents' retrieval step and the API; a missing collection or
        ``k <= 0`` gives an empty list. ``where`` keeps documents whose metadata equals
        every given value.
        """
        if k <= 0:
            return []
        vector = hash_embed([text], self._dim)

        def search(col: Collection) -> list[VectorHit]:
            res = col.query(
                query_embeddings=vector,
                n_results=k,
                where=_where(where),
                include=_INCLUDE_HITS,
            )
            ids = res["ids"][0]
            docs = (res["documents"] or [[]])[0]
            metas = (res["metadatas"] or [[]])[0]
            dists = (res["distances"] or [[]])[0]
            return [
                VectorHit(i, max(0.0, float(d)), doc or "", dict(m or {}))
                for i, d, doc, m in zip(ids, dists, docs, metas, strict=True)
            ]

        return self._with(collection, False, search, [])

    def get(self, collection: str, ids: Sequence[str]) -> list[VectorHit]:
        """Stored documents of ``ids`` (distance 0) in the order asked; unknown ids are left out."""
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return []

        def fetch(col: Collection) -> list[VectorHit]:
            found: dict[str, VectorHit] = {}
            for start in range(0, len(wanted), self._batch):
                res = col.get(ids=wanted[start : start + self._batch], include=_INCLUDE_DOCS)
                docs = res["documents"] or [""] * len(res["ids"])
                metas: Sequence[Any] = res["metadatas"] or [None] * len(res["ids"])
                for i, doc, m in zip(res["ids"], docs, metas, strict=True):
                    found[i] = VectorHit(i, 0.0, doc or "", dict(m or {}))
            return [found[i] for i in wanted if i in found]

        return self._with(collection, False, fetch, [])

    def count(self, collection: str) -> int:
        """Documents in ``collection``; 0 when it does not exist."""
        return self._with(collection, False, lambda col: int(col.count()), 0)

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        """Remove ``ids``; unknown ids and a missing collection are ignored."""
        unique = list(dict.fromkeys(ids))
        if not unique:
            return

        def remove(col: Collection) -> None:
            for start in range(0, len(unique), self._batch):
                col.delete(ids=unique[start : start + self._batch])

        self._with(collection, False, remove, None)

    def reset(self) -> None:
        """Drop every collection of this client (``axiom reset`` and replay tests)."""
        with self._guard():
            for col in self._client.list_collections():
                try:
                    self._client.delete_collection(col.name)
                except NotFoundError:
                    continue
        self._collections.clear()

    def close(self) -> None:
        """Forget cached collections; the Chroma client is shared per path and stays open."""
        self._collections.clear()
