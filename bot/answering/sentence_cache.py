"""Passage vectors of answer sentences, kept between questions (cross-lingual sentence selection)."""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np


class SentenceVectors:
    """A bounded LRU of sentence -> passage embedding; the same document sentences recur across questions."""

    def __init__(self, embedder, capacity: int = 20000) -> None:
        self.embedder = embedder
        self.capacity = capacity
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def vectors(self, texts: list[str]) -> np.ndarray:
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            fresh = self.embedder.embed_passages(missing)
            with self._lock:
                for text, vector in zip(missing, fresh):
                    self._cache[text] = vector
                while len(self._cache) > self.capacity:
                    self._cache.popitem(last=False)
        with self._lock:
            for t in texts:
                if t in self._cache:
                    self._cache.move_to_end(t)
            return np.stack([self._cache[t] if t in self._cache else self.embedder.embed_passages([t])[0]
                             for t in texts])
