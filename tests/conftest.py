"""Shared fixtures: the real embedding model once per session, settings on temp dirs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from indexer.config import Settings
from indexer.embedding import get_embedder, offline_environment

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SAMPLE_KB = DATA / "kb_sample"
offline_environment()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """Tests never see the developer's .env or Telegram settings."""
    for key in list(os.environ):
        if key.startswith(("TELEGRAM_", "LLM_", "CHROMA_", "WEBHOOK_")) or key in (
            "ADMIN_IDS", "CONSULTANTS_CHAT_ID", "DATABASE_URL", "DATA_DIR", "KNOWLEDGE_DIR", "EMBEDDING_MODEL"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(ROOT)


@pytest.fixture(scope="session")
def model_settings() -> Settings:
    """Where the converted model lives: the project's data dir, converted once per machine."""
    return Settings(_env_file=None, data_dir=ROOT / "data")


@pytest.fixture(scope="session")
def embedder(model_settings):
    return get_embedder(model_settings)


class CountingEmbedder:
    """The real model, counting how many passages it was asked to embed."""

    def __init__(self, inner, fail_after_calls: int | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.passages = 0
        self.calls = 0
        self.fail_after_calls = fail_after_calls

    def embed_passages(self, texts, batch_size=32, progress=False):
        if self.fail_after_calls is not None and self.calls >= self.fail_after_calls:
            raise KeyboardInterrupt("simulated crash")
        self.calls += 1
        self.passages += len(texts)
        return self.inner.embed_passages(texts, batch_size=batch_size)

    def embed_queries(self, texts):
        return self.inner.embed_queries(texts)


@pytest.fixture
def kb(tmp_path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(SAMPLE_KB, target)
    return target


@pytest.fixture
def settings(tmp_path, kb) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", knowledge_dir=kb)
