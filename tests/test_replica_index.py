"""Replicas on several machines index as one: they see each other's indexing through the version stamped on the
shared collection (not their files), and one refresh runs at a time through a lock in PostgreSQL.

A second searcher whose own manifest never changes stands for a replica on another machine: it must load a
document the first replica indexed, and drop one it removed, once the collection's version moves.
"""

import signal
import subprocess
import sys

import pytest

from bot.config import Settings
from indexer import search
from indexer.locks import LockTimeout, RefreshLock
from indexer.pipeline import Indexer
from indexer.search import HybridSearcher
from indexer.store import ChunkStore
from tests.conftest import ROOT, postgres_database

NEW_DOC = """---
id: hoi-cho-my-nghe
title: Hỗ trợ gian hàng hội chợ mỹ nghệ
topic: support
last_reviewed: 2026-11-01
---
# Hỗ trợ gian hàng hội chợ mỹ nghệ

Trung tâm hỗ trợ doanh nghiệp mỹ nghệ thuê gian hàng tại hội chợ thủ công của tỉnh.
"""
QUERY = "hỗ trợ thuê gian hàng hội chợ mỹ nghệ"
HOLDER = """
import sys, time
from bot.config import Settings
from indexer.locks import RefreshLock
lock = RefreshLock(Settings(_env_file=None, data_dir=sys.argv[1], database_url=sys.argv[2]))
lock.acquire(timeout=30)
print("held", flush=True)
time.sleep(120)
"""


def _docs(searcher: HybridSearcher) -> set[str]:
    return {c.meta["doc_id"] for c in searcher.search(QUERY, k=5)}


@pytest.fixture
def replica(settings, embedder, tmp_path, monkeypatch):
    """(the writer, the other replica's searcher): the searcher reads a manifest the writer never touches."""
    writer = Indexer(settings, embedder_factory=lambda: embedder)
    writer.refresh()
    elsewhere = tmp_path / "elsewhere" / "manifest.json"
    monkeypatch.setattr(search, "manifest_path", lambda _settings: elsewhere)
    other = HybridSearcher(settings, embedder)
    assert "hoi-cho-my-nghe" not in _docs(other)
    return writer, other


def test_another_replicas_upload_and_removal_are_seen(replica, settings, monkeypatch):
    writer, other = replica
    monkeypatch.setattr(search, "SHARED_CHECK_SECONDS", 0.0)
    before = ChunkStore(settings).current_version()
    (settings.knowledge_dir / "hoi-cho.md").write_text(NEW_DOC, encoding="utf-8")
    writer.refresh()
    assert ChunkStore(settings).current_version() != before
    assert "hoi-cho-my-nghe" in _docs(other)

    (settings.knowledge_dir / "hoi-cho.md").unlink()
    writer.refresh()
    assert "hoi-cho-my-nghe" not in _docs(other)  # never cited once removed elsewhere


def test_a_refresh_that_changes_nothing_keeps_the_version(replica, settings):
    writer, _ = replica
    before = ChunkStore(settings).current_version()
    writer.refresh()
    assert ChunkStore(settings).current_version() == before  # replicas do not reload for nothing


def test_the_version_is_read_only_so_often(replica, settings, monkeypatch):
    """Between checks the loaded index serves (a Chroma server is a round trip away); the check then sees it."""
    writer, other = replica
    monkeypatch.setattr(search, "SHARED_CHECK_SECONDS", 3600.0)
    other.search(QUERY)
    (settings.knowledge_dir / "hoi-cho.md").write_text(NEW_DOC, encoding="utf-8")
    writer.refresh()
    assert "hoi-cho-my-nghe" not in _docs(other)
    monkeypatch.setattr(search, "SHARED_CHECK_SECONDS", 0.0)
    assert "hoi-cho-my-nghe" in _docs(other)


def test_a_build_replaces_the_collection_and_replicas_follow(replica, settings, monkeypatch):
    writer, other = replica
    monkeypatch.setattr(search, "SHARED_CHECK_SECONDS", 0.0)
    (settings.knowledge_dir / "hoi-cho.md").write_text(NEW_DOC, encoding="utf-8")
    writer.build()
    assert "hoi-cho-my-nghe" in _docs(other)


# -- the re-index lock across machines ---------------------------------------------------------------------
def _machine(tmp_path, name: str, url: str) -> Settings:
    """Settings of a replica on its own machine: its own DATA_DIR (file lock), the shared database."""
    return Settings(_env_file=None, data_dir=tmp_path / name, knowledge_dir=tmp_path / "kb", database_url=url)


def test_a_refresh_on_one_machine_holds_off_another(tmp_path, request):
    url = postgres_database(request)
    first, second = RefreshLock(_machine(tmp_path, "a", url)), RefreshLock(_machine(tmp_path, "b", url))
    first.acquire(timeout=5)
    try:
        with pytest.raises(LockTimeout):
            second.acquire(timeout=1)
        assert not second.is_locked  # a failed wait leaves nothing held, not even its own file lock
    finally:
        first.release()
    second.acquire(timeout=5)
    second.release()


def test_a_replica_killed_mid_refresh_does_not_keep_the_lock(tmp_path, request):
    url = postgres_database(request)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HOLDER,
            str(tmp_path / "a"),
            url,
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        other = RefreshLock(_machine(tmp_path, "b", url))
        with pytest.raises(LockTimeout):
            other.acquire(timeout=1)
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
        other.acquire(timeout=20)  # the server ends the dead session, and its lock with it
        other.release()
    finally:
        holder.kill()
        holder.wait(timeout=30)
        holder.stdout.close()


def test_without_postgresql_the_file_lock_alone_serves(settings):
    lock = RefreshLock(settings)
    assert lock.url is None
    with lock:
        assert lock.is_locked
        with pytest.raises(LockTimeout):
            RefreshLock(settings).acquire(timeout=0.2)
    assert not lock.is_locked
