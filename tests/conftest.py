"""Shared fixtures: the real embedding model once per session, settings on temp dirs."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bot.config import Settings
from indexer.embedding import get_embedder, offline_environment

# Fixtures shared by several test modules (the handoff service on a fresh database).
pytest_plugins = ["tests.support.handoff_env"]

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
SAMPLE_KB = DATA / "kb_sample"
offline_environment()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    """Tests never see the developer's .env or Telegram settings."""
    for key in list(os.environ):
        if key.startswith(("TELEGRAM_", "LLM_", "CHROMA_", "WEBHOOK_", "WEB_")) or key in (
            "ADMIN_IDS",
            "CONSULTANTS_CHAT_ID",
            "DATABASE_URL",
            "DATA_DIR",
            "KNOWLEDGE_DIR",
            "EMBEDDING_MODEL",
        ):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(ROOT)


@pytest.fixture(autouse=True)
def _close_stores(monkeypatch):
    """Every database a test opened is closed when it ends (unclosed connections are warnings, hence errors)."""
    from bot.storage import Store

    opened: list[Store] = []
    original = Store.__init__

    def recording_init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(Store, "__init__", recording_init)
    yield
    for store in opened:
        store.close()


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


@pytest.fixture(scope="session")
def _postgres():
    """One PostgreSQL server for the session, when the machine has PostgreSQL; None otherwise."""
    from tests.postgres import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A fresh, empty database: a SQLite file, and a new database on a real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    return postgres_database(request)


def postgres_database(request) -> str:
    """A new, empty database on the session's PostgreSQL server (the test is skipped without one)."""
    server = request.getfixturevalue("_postgres")
    if server is None:
        if os.environ.get("REQUIRE_POSTGRES"):  # set by .ci/run: there a missing server is a failure
            pytest.fail("PostgreSQL is required (REQUIRE_POSTGRES) but could not be started")
        pytest.skip("PostgreSQL is not installed on this machine")
    from tests.postgres import create_database

    return create_database(server, f"t{os.getpid()}_{abs(hash(request.node.nodeid)) % 10**9}")


def changed(settings: Settings, updates: dict) -> Settings:
    """A copy of `settings` with `updates`, validated like settings read at start (model_copy skips that)."""
    return type(settings)(_env_file=None, **{**settings.model_dump(), **updates})
