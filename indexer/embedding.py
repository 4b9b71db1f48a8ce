"""The embedding model: resolve the configured name, convert the bundled default once, encode."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from indexer import onnx_encoder
from indexer.config import DEFAULT_EMBEDDING_MODEL, IndexerSettings
from indexer.textnorm import nfc

log = logging.getLogger(__name__)
_DEFAULT_FOLDER = "multilingual-e5-small"
_convert_lock = threading.Lock()


class Embedder(Protocol):
    """What the index and the answer engine need from an embedding model."""

    name: str
    dim: int

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...


def offline_environment() -> None:
    """Make a stray hub name fail fast instead of trying the network."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def resolve_model_path(settings: IndexerSettings) -> str:
    """The folder (or sentence-transformers name) to load; converts the bundled default if needed."""
    name = settings.embedding_model.strip() or DEFAULT_EMBEDDING_MODEL
    if name != DEFAULT_EMBEDDING_MODEL:
        return name
    from indexer import e5convert

    target = settings.models_dir / _DEFAULT_FOLDER
    with _convert_lock:
        if not e5convert.is_complete(target):
            log.info("converting the bundled multilingual-e5-small into %s (one time)", target)
            e5convert.convert(target)
        onnx_encoder.ensure_exported(target)
    return str(target)


class _QueryRequest:
    __slots__ = ("done", "error", "result", "texts")

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.result: np.ndarray | None = None
        self.error: BaseException | None = None
        self.done = False


def _length_groups(texts: list[str], most: int = 16) -> list[list[int]]:
    """Indexes of `texts` in groups of similar length: a pass pads every text to its group's longest."""
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    groups: list[list[int]] = []
    for i in order:
        if groups and len(groups[-1]) < most and len(texts[i]) <= 2 * len(texts[groups[-1][0]]) + 40:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


class SentenceTransformerEmbedder:
    """A sentence-transformers model with E5 query/passage prompts when the model defines them.

    The bundled default runs on ONNX Runtime when its graph has been written (indexer.onnx_encoder); any other
    model, or a machine without onnxruntime, runs on PyTorch through sentence-transformers.
    """

    def __init__(self, settings: IndexerSettings, threads: int | None = None, runtime: str = "auto") -> None:
        offline_environment()
        path = resolve_model_path(settings)
        self.name = settings.embedding_model or DEFAULT_EMBEDDING_MODEL
        self.model = None  # the sentence-transformers model, when that is what runs
        self._onnx: onnx_encoder.OnnxEncoder | None = None
        # Only the bundled model: another folder's onnx/ graph may pool or name its tensors differently.
        bundled = self.name.strip() == DEFAULT_EMBEDDING_MODEL
        if runtime != "torch" and bundled and onnx_encoder.OnnxEncoder.available(Path(path)):
            self._onnx = onnx_encoder.OnnxEncoder(Path(path))
            self._onnx.set_threads(threads)
            self.runtime = "onnx"
            prompts = self._onnx.prompts
            self.dim = self._onnx.dim
        else:
            self.runtime = "torch"
            prompts = self._load_torch(path, threads)
        self._query_prompt = "query" if "query" in prompts else None
        self._passage_prompt = "passage" if "passage" in prompts else None
        # At most `_passes` forward passes run at once (`_running`, under `_cond`). By default one at a time,
        # spread over every core.
        # A server calls serve_concurrently(): one thread per pass and one pass per core, which for short
        # queries costs ~40% less CPU than two-thread passes one after another (measured on 2 cores).
        self._passes = 1
        self._running = 0
        self._cond = threading.Condition()
        self._pending: list[_QueryRequest] = []

    def _load_torch(self, path: str, threads: int | None) -> dict[str, str]:
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self.model = SentenceTransformer(path, device="cpu", local_files_only=True)
        prompts = self.model.prompts or {}
        if "query" not in prompts and "e5" in self.name.lower():
            prompts = {"query": "query: ", "passage": "passage: "}
            self.model.prompts = prompts
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(get_dim() or 0)
        return prompts

    def serve_concurrently(self, passes: int | None = None, threads_per_pass: int | None = 1) -> None:
        """Answer many users at once: `passes` (default: one per core, at most 4) forward passes at a time,
        each on `threads_per_pass` threads (None: every core). `serve_concurrently(1, None)` restores the
        default."""
        passes = passes or max(1, min(4, _cores()))
        if self._onnx is not None:
            self._onnx.set_threads(threads_per_pass)
        else:
            import torch

            torch.set_num_threads(threads_per_pass or _cores())
        with self._cond:
            self._passes = passes
            self._cond.notify_all()
        log.info("embedding: %d concurrent passes of %s thread(s) on %s", passes, threads_per_pass, self.runtime)

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        with self._cond:
            self._cond.wait_for(lambda: self._running < self._passes)
            self._running += 1
        try:
            return self._encode_passages(texts, batch_size, progress)
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    def _encode_passages(self, texts: Sequence[str], batch_size: int, progress: bool) -> np.ndarray:
        if self._onnx is not None:
            return self._onnx.encode([nfc(t) for t in texts], self._passage_prompt, batch_size)
        return self.model.encode(
            [nfc(t) for t in texts],
            prompt_name=self._passage_prompt,
            batch_size=batch_size,
            normalize_embeddings=True,
            show_progress_bar=progress,
            convert_to_numpy=True,
        ).astype(np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Queries from concurrent threads are encoded together: whoever gets a free pass takes all waiting.

        A thread returns as soon as its own vectors are ready, whoever computed them.
        """
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        request = _QueryRequest(list(texts))
        with self._cond:
            self._pending.append(request)
            while True:
                self._cond.wait_for(lambda: request.done or (self._pending and self._running < self._passes))
                if request.done:
                    break
                batch, self._pending = self._pending, []
                self._running += 1
                self._cond.release()
                try:
                    self._encode_batch(batch)
                finally:
                    self._cond.acquire()
                    self._running -= 1
                    self._cond.notify_all()
        if request.error is not None:
            raise request.error
        assert request.result is not None
        return request.result

    def _encode_batch(self, batch: list[_QueryRequest]) -> None:
        """Encode in groups of similar length (one long question must not slow twenty short ones down)."""
        texts = [t for r in batch for t in r.texts]
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        error: Exception | None = None
        try:
            for group in _length_groups(texts):
                vectors[group] = self._encode_queries([texts[i] for i in group])
        except Exception as exc:  # noqa: BLE001 - every waiter gets the error, not a hang
            error = exc
        offset = 0
        for r in batch:  # waiters read `done` under the condition, which the caller notifies
            if error is not None:
                r.error = error
            else:
                r.result = vectors[offset : offset + len(r.texts)]
            offset += len(r.texts)
            r.done = True

    def _encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        if self._onnx is not None:
            return self._onnx.encode([nfc(t) for t in texts], self._query_prompt)
        return self.model.encode(
            [nfc(t) for t in texts],
            prompt_name=self._query_prompt,
            normalize_embeddings=True,
            show_progress_bar=False,
            convert_to_numpy=True,
        ).astype(np.float32)


def _cores() -> int:
    """CPUs this process may run on (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


_cache: dict[str, SentenceTransformerEmbedder] = {}


def get_embedder(settings: IndexerSettings) -> SentenceTransformerEmbedder:
    """One model per process and model name (loading costs seconds and ~800 MB)."""
    key = f"{settings.embedding_model}|{settings.models_dir.resolve()}"
    if key not in _cache:
        _cache[key] = SentenceTransformerEmbedder(settings)
    return _cache[key]
