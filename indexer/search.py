"""Hybrid search over the chunk collection: dense (E5) + BM25 on diacritic-folded text, fused by RRF."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from indexer.config import IndexerSettings
from indexer.pipeline import manifest_path
from indexer.restore import DiacriticRestorer
from indexer.store import ChunkStore
from indexer.textnorm import has_diacritics, nfc, tokens

log = logging.getLogger(__name__)
RRF_K = 60
SHARED_CHECK_SECONDS = 1.0  # how soon a change indexed by another replica is seen
BIGRAM_TEXTS = 50000  # word pairs of this many chunks tell which phrases the knowledge base uses


@dataclass
class Candidate:
    id: str
    text: str
    meta: dict[str, Any]
    dense: float = 0.0
    dense_rank: int | None = None
    bm25: float = 0.0
    bm25_rank: int | None = None
    score: float = 0.0


class KeywordIndex:
    """BM25 (bm25s) over folded title + section + text of every chunk."""

    def __init__(self, entries: list[tuple[str, dict, str]]) -> None:
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets itself to DEBUG when imported
        self.ids = [e[0] for e in entries]
        self.meta = [e[1] for e in entries]
        self.text = [e[2] for e in entries]
        self.position = {cid: n for n, cid in enumerate(self.ids)}
        corpus = [tokens(f"{m.get('title', '')} {m.get('section', '')} {t}") for _, m, t in entries]
        # The text under each document's title: by the writing rules it states the key numbers.
        self.summaries: dict[str, int] = {}
        for n, (_, meta, _) in enumerate(entries):
            if int(meta.get("chunk_index", -1)) == 0:
                self.summaries[meta.get("doc_id", "")] = n
        self._df: dict[str, int] = {}
        self.bigrams: set[int] = set()
        for n, words in enumerate(corpus):
            for w in set(words):
                self._df[w] = self._df.get(w, 0) + 1
            if n < BIGRAM_TEXTS:
                self.bigrams.update(hash(pair) for pair in itertools.pairwise(words))
        self.retriever = bm25s.BM25(k1=1.2, b=0.75)
        if entries:
            self.retriever.index(corpus, show_progress=False)

    def summary(self, doc_id: str) -> Candidate | None:
        n = self.summaries.get(doc_id)
        return None if n is None else Candidate(self.ids[n], self.text[n], self.meta[n])

    def known_pair(self, first: str, second: str) -> bool:
        return hash((first, second)) in self.bigrams

    def doc_freq(self, word: str) -> int:
        return self._df.get(word, 0)

    def search(self, query_tokens: list[str], k: int) -> list[tuple[int, float]]:
        if not self.ids or not query_tokens:
            return []
        k = min(k, len(self.ids))
        # n_threads=0: in this thread (any other number starts a pool of threads for every search)
        docs, scores = self.retriever.retrieve([query_tokens], k=k, show_progress=False, n_threads=0)
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]


class HybridSearcher:
    """Dense + keyword retrieval over the live index; reloads itself after a refresh."""

    def __init__(self, settings: IndexerSettings, embedder, store: ChunkStore | None = None) -> None:
        self.settings = settings
        self.embedder = embedder
        self._store = store
        self._lock = threading.Lock()
        self._version: tuple | None = None
        self._local_seen: tuple | None = None
        self._shared: tuple[str, str] = ("", "")
        self._shared_at = -1e9
        self.keyword: KeywordIndex | None = None
        self.restorer: DiacriticRestorer | None = None

    def _index_version(self) -> tuple:
        """(this machine's manifest, the version stamped on the shared collection).

        The manifest changes at once when this machine indexes; the collection's version is how a change made
        by another replica is seen. Reading it is a round trip to a Chroma server, so it is read at most once
        per SHARED_CHECK_SECONDS, and at once whenever the manifest changed."""
        path = manifest_path(self.settings)
        try:
            st = path.stat()
            local = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            local = (0, 0)
        now = time.monotonic()
        if local != self._local_seen or now - self._shared_at >= SHARED_CHECK_SECONDS or self._store is None:
            self._local_seen, self._shared_at = local, now
            self._shared = self._shared_version()
        return (local, self._shared)

    def _shared_version(self) -> tuple[str, str]:
        try:
            store = self._store or ChunkStore(self.settings)
            return store.current_version()
        except Exception:  # a server away for a moment: keep serving the loaded index
            log.warning("index version unreadable; keeping the loaded index", exc_info=log.isEnabledFor(10))
            return self._shared

    def ensure_fresh(self) -> None:
        version = self._index_version()
        if version == self._version and self.keyword is not None:
            return
        with self._lock:
            if version == self._version and self.keyword is not None:
                return
            self._store = ChunkStore(self.settings)  # a build swaps collections: reopen by name
            entries = self._store.all_entries(include_documents=True)
            self.keyword = KeywordIndex(entries)
            self.restorer = DiacriticRestorer.from_texts(
                f"{m.get('title', '')}\n{m.get('section', '')}\n{t}" for _, m, t in entries
            )
            self._version = version
            log.info("search index loaded: %d chunks", len(entries))

    @property
    def store(self) -> ChunkStore:
        self.ensure_fresh()
        assert self._store is not None
        return self._store

    def dense_query_text(self, query: str) -> str:
        """The text to embed: queries typed without diacritics get them restored from the corpus."""
        self.ensure_fresh()
        query = nfc(query)
        if self.restorer is not None and not has_diacritics(query):
            return self.restorer.restore(query)
        return query

    def query_vector(self, query: str, restore: bool = True) -> np.ndarray:
        """`restore=False` for questions not in Vietnamese: "an" must not become "ăn"."""
        return self.embedder.embed_queries([self.dense_query_text(query) if restore else nfc(query)])[0]

    def search(
        self,
        query: str,
        k: int = 8,
        pool: int = 30,
        where: dict | None = None,
        keyword_text: str | None = None,
        keyword: bool = True,
        vector: np.ndarray | None = None,
    ) -> list[Candidate]:
        """Top-k chunks by reciprocal-rank fusion of dense and folded-BM25 rankings.

        `keyword=False` for queries in another language than the documents: BM25 only adds noise there.
        """
        self.ensure_fresh()
        assert self.keyword is not None and self._store is not None
        if vector is None:
            vector = self.query_vector(query, restore=keyword)
        found: dict[str, Candidate] = {}
        keyword_index = self.keyword
        for rank, (cid, score) in enumerate(self._store.nearest_ids(vector, pool, len(keyword_index.ids), where)):
            n = keyword_index.position.get(cid)
            if n is None:  # written after this searcher loaded the index; the next question reloads it
                continue
            found[cid] = Candidate(cid, keyword_index.text[n], keyword_index.meta[n], dense=score, dense_rank=rank)
        keyword_hits = self.keyword.search(tokens(keyword_text or query), pool) if keyword else []
        for rank, (idx, score) in enumerate(keyword_hits):
            cid = self.keyword.ids[idx]
            meta = self.keyword.meta[idx]
            if where and any(meta.get(key) != value for key, value in where.items() if not key.startswith("$")):
                continue
            cand = found.get(cid) or Candidate(cid, self.keyword.text[idx], meta)
            cand.bm25, cand.bm25_rank = score, rank
            found[cid] = cand
        for cand in found.values():
            cand.score = sum(1.0 / (RRF_K + r + 1) for r in (cand.dense_rank, cand.bm25_rank) if r is not None)
        return sorted(found.values(), key=lambda c: c.score, reverse=True)[:k]
