"""Passage vectors of answer sentences, kept between questions and restarts (cross-lingual sentence selection).

An English question is answered from Vietnamese sentences chosen by embedding similarity. Embedding those
sentences when the question arrives costs ~30 ms each on one core, so the cache is filled for every sentence
of the index (`python -m bot warmup`, or in the background when the bot starts) and kept on disk under
DATA_DIR/cache, keyed by the model's name; sentences are keyed by their text, so edits simply miss.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)
FILL_BATCH = 64
_SEP = "\x00"  # between texts in the saved file; document text never contains it


class SentenceVectors:
    """A bounded LRU of sentence -> passage embedding; the same document sentences recur across questions."""

    def __init__(self, embedder, capacity: int = 20000, path: Path | None = None) -> None:
        self.embedder = embedder
        self.capacity = capacity
        self.path = path
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def path_for(cache_dir: Path, model_name: str) -> Path:
        return cache_dir / f"sentence-vectors-{re.sub(r'[^A-Za-z0-9._-]+', '_', model_name)}.npz"

    def __len__(self) -> int:
        return len(self._cache)

    def vectors(self, texts: list[str]) -> np.ndarray:
        missing = self.missing(texts)
        if missing:
            self._add(missing, self.embedder.embed_passages(missing))
        with self._lock:
            for t in texts:
                if t in self._cache:
                    self._cache.move_to_end(t)
            return np.stack(
                [self._cache[t] if t in self._cache else self.embedder.embed_passages([t])[0] for t in texts]
            )

    def cached(self, texts: list[str], embed_up_to: int = 0) -> np.ndarray | None:
        """The vectors of `texts` when every one is cached, else None.

        `embed_up_to`: embed the missing ones first when there are at most that many (the few sentences
        of a document uploaded since the cache was filled); 0 never embeds, so a user never waits for it.
        """
        if embed_up_to > 0 and 0 < len(self.missing(texts)) <= embed_up_to:
            self.fill(texts)
        with self._lock:
            if not texts or any(t not in self._cache for t in texts):
                return None
            for t in texts:
                self._cache.move_to_end(t)
            return np.stack([self._cache[t] for t in texts])

    def missing(self, texts: list[str]) -> list[str]:
        with self._lock:
            return [t for t in dict.fromkeys(texts) if t not in self._cache]

    def fill(self, texts: list[str], batch: int = FILL_BATCH) -> int:
        """Embed every text not cached yet, `batch` at a time, while there is room; returns how many."""
        missing = self.missing(texts)[: max(0, self.capacity - len(self._cache))]
        for start in range(0, len(missing), batch):
            part = missing[start : start + batch]
            self._add(part, self.embedder.embed_passages(part))
        return len(missing)

    def _add(self, texts: list[str], vectors: np.ndarray) -> None:
        with self._lock:
            for text, vector in zip(texts, vectors):
                if _SEP in text:
                    continue
                self._cache[text] = vector
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)

    # -- persistence -----------------------------------------------------------
    def load(self) -> int:
        """Read the saved vectors; a missing, corrupt or differently sized file is ignored (and rebuilt)."""
        if self.path is None or not self.path.exists():
            return 0
        try:
            with np.load(self.path, allow_pickle=False) as data:
                joined = data["texts_utf8"].tobytes().decode("utf-8")
                texts, vectors = (joined.split(_SEP) if joined else []), data["vectors"].astype(np.float32)
        except Exception as exc:  # noqa: BLE001 - a damaged cache only costs time
            log.warning("ignoring the sentence-vector cache %s: %s", self.path, exc)
            return 0
        if vectors.ndim != 2 or len(texts) != len(vectors) or vectors.shape[1] != getattr(self.embedder, "dim", 0):
            log.warning("ignoring the sentence-vector cache %s: it does not match the model", self.path)
            return 0
        self._add(texts, vectors)
        return len(texts)

    def save(self) -> None:
        """Write atomically: a crash mid-write leaves the previous file."""
        if self.path is None:
            return
        with self._lock:
            texts = list(self._cache)
            vectors = np.stack(list(self._cache.values())) if texts else np.zeros((0, 0), np.float32)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + f".{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            # Texts as one UTF-8 buffer: a fixed-width string array would take the longest sentence's size each.
            np.savez(fh, texts_utf8=np.frombuffer(_SEP.join(texts).encode("utf-8"), dtype=np.uint8), vectors=vectors)
        os.replace(tmp, self.path)
