"""Chroma access shared by the indexer (writes) and the bot (reads)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from indexer.config import IndexerSettings

COLLECTION = "knowledge_chunks"
VERSION_KEY = "index_version"


def _client(settings: IndexerSettings, create: bool = True):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
    path = settings.index_dir / "chroma"
    if not create and not path.is_dir():
        raise FileNotFoundError(f"no embedded Chroma index at {path}")
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


class ChunkStore:
    """One Chroma collection of chunks; embeddings are computed by us, never by Chroma."""

    def __init__(
        self, settings: IndexerSettings, name: str = COLLECTION, client: Any = None, create: bool = True
    ) -> None:
        """`create=False` opens only an existing collection (raises otherwise): readers such as the health
        check must not leave an empty index behind where there was none."""
        self.settings = settings
        self.client = client or _client(settings, create)
        self.name = name
        if create:
            self.collection = self.client.get_or_create_collection(
                name, embedding_function=None, metadata={"hnsw:space": "cosine"}
            )
        else:
            self.collection = self.client.get_collection(name, embedding_function=None)

    # -- writing ---------------------------------------------------------------
    def _batch(self) -> int:
        try:
            return max(1, min(int(self.client.get_max_batch_size()), 2000))
        except Exception:  # noqa: BLE001 - HttpClient of older servers
            return 1000

    def upsert(
        self, ids: Sequence[str], embeddings: np.ndarray, documents: Sequence[str], metadatas: Sequence[dict[str, Any]]
    ) -> None:
        size = self._batch()
        for start in range(0, len(ids), size):
            end = start + size
            self.collection.upsert(
                ids=list(ids[start:end]),
                embeddings=np.asarray(embeddings[start:end], dtype=np.float32),
                documents=list(documents[start:end]),
                metadatas=[{k: ("" if v is None else v) for k, v in m.items()} for m in metadatas[start:end]],
            )

    def delete_ids(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        size = self._batch()
        for start in range(0, len(ids), size):
            self.collection.delete(ids=ids[start : start + size])

    def delete_path(self, path: str, keep_hash: str | None = None) -> None:
        """Delete the chunks of a file, except those of the version `keep_hash`."""
        where: dict[str, Any] = {"path": path}
        if keep_hash:
            where = {"$and": [{"path": path}, {"doc_hash": {"$ne": keep_hash}}]}
        self.collection.delete(where=where)

    # -- reading ---------------------------------------------------------------
    def count(self) -> int:
        return self.collection.count()

    def all_entries(self, include_documents: bool = False) -> list[tuple[str, dict[str, Any], str]]:
        """(id, metadata, document) of every chunk, paged so large indexes stay cheap."""
        include = ["metadatas", "documents"] if include_documents else ["metadatas"]
        out: list[tuple[str, dict[str, Any], str]] = []
        page = 5000
        offset = 0
        while True:
            got = self.collection.get(include=include, limit=page, offset=offset)
            ids = got["ids"]
            docs = got.get("documents") or [""] * len(ids)
            out.extend(zip(ids, got["metadatas"], docs))
            if len(ids) < page:
                return out
            offset += page

    def embeddings_for(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        got = self.collection.get(ids=list(ids), include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(got["ids"], got["embeddings"])}

    def nearest_ids(
        self, embedding: np.ndarray, k: int, count: int, where: dict | None = None
    ) -> list[tuple[str, float]]:
        """(id, cosine) of the k nearest chunks, for a caller that already holds texts and metadata.

        `count` is the collection's size as the caller loaded it: asking Chroma for it, and for texts
        the caller has, costs more than the search itself (and holds the GIL while it runs).
        """
        if count <= 0:
            return []
        res = self.collection.query(
            query_embeddings=[np.asarray(embedding, dtype=np.float32)],
            n_results=max(1, min(k, count)),
            where=where,
            include=["distances"],
        )
        return [(i, 1.0 - float(dist)) for i, dist in zip(res["ids"][0], res["distances"][0])]

    # -- the index version -----------------------------------------------------
    # Every replica sees the collection, not each other's files: a writer stamps a new version on the
    # collection's metadata after each change and readers reload when (collection id, version) differs.
    # Chroma keeps the distance function in the collection's configuration, so replacing the metadata is safe.
    def mark_changed(self) -> str:
        version = uuid.uuid4().hex
        stamp = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        self.collection.modify(metadata={VERSION_KEY: version, "index_updated": stamp})
        return version

    def current_version(self) -> tuple[str, str]:
        """(collection id, version) as stored now, read afresh: a build replaces the collection (new id)."""
        collection = self.client.get_collection(self.name, embedding_function=None)
        return str(collection.id), str((collection.metadata or {}).get(VERSION_KEY, ""))

    # -- lifecycle -------------------------------------------------------------
    def drop(self) -> None:
        self.client.delete_collection(self.name)

    def rename(self, new_name: str) -> None:
        self.collection.modify(name=new_name)
        self.name = new_name


def replace_collection(settings: IndexerSettings, fresh: ChunkStore, name: str = COLLECTION) -> ChunkStore:
    """Swap a fully built collection in place of the live one."""
    client = fresh.client
    if any(c.name == name for c in client.list_collections()):
        client.delete_collection(name)
    fresh.rename(name)
    return ChunkStore(settings, name=name, client=client)
