"""Refresh/build against real Chroma on tmp_path with the real model."""

import threading

import numpy as np
import pytest

from indexer import pipeline
from indexer.cli import status_data
from indexer.manifest import Manifest
from indexer.pipeline import IndexBusy, Indexer, lock_for
from indexer.search import HybridSearcher
from indexer.store import ChunkStore
from tests.conftest import CountingEmbedder, changed
from tests.pdfmaker import make_pdf


def _indexer(settings, embedder, **kw):
    counting = CountingEmbedder(embedder, **kw)
    return Indexer(settings, embedder_factory=lambda: counting), counting


def _chunks_by_path(settings):
    out = {}
    for _, meta, _ in ChunkStore(settings).all_entries():
        out.setdefault(meta["path"], set()).add(meta["doc_hash"])
    return out


def _consistent(settings):
    manifest = Manifest.load(pipeline.manifest_path(settings))
    store = ChunkStore(settings)
    assert store.count() == sum(e["chunks"] for e in manifest.documents.values())
    assert {p: {e["sha256"]} for p, e in manifest.documents.items()} == _chunks_by_path(settings)


def test_refresh_is_incremental(settings, embedder, kb):
    idx, counting = _indexer(settings, embedder)
    first = idx.refresh()
    assert len(first.added) == 4 and not first.failed
    total = counting.passages
    assert total == ChunkStore(settings).count() > 4

    second = idx.refresh()
    assert second.unchanged == 4 and counting.passages == total and second.chunks_embedded == 0

    path = kb / "process" / "5s.md"
    path.write_text(path.read_text().replace("30 ngày", "45 ngày"))
    third = idx.refresh()
    assert third.updated == ["process/5s.md"] and third.unchanged == 3
    assert (
        counting.passages - total
        == third.chunks_embedded
        == len([1 for _, m, _ in ChunkStore(settings).all_entries() if m["path"] == "process/5s.md"])
    )
    texts = [d for _, m, d in ChunkStore(settings).all_entries(True) if m["doc_id"] == "process-5s"]
    assert any("45 ngày" in t for t in texts) and not any("30 ngày" in t for t in texts)
    _consistent(settings)


def test_delete_and_rename(settings, embedder, kb):
    idx, counting = _indexer(settings, embedder)
    idx.refresh()
    (kb / "ip" / "patent.md").unlink()
    (kb / "process" / "5s.md").rename(kb / "process" / "nam-s.md")
    before = counting.passages
    summary = idx.refresh()
    assert summary.removed == ["ip/patent.md"]
    assert summary.renamed == ["process/5s.md -> process/nam-s.md"]
    assert counting.passages == before  # a rename re-embeds nothing
    paths = _chunks_by_path(settings)
    assert "ip/patent.md" not in paths and "process/5s.md" not in paths and "process/nam-s.md" in paths
    _consistent(settings)


def test_bad_files_are_reported_and_skipped(settings, embedder, kb):
    (kb / "ip" / "broken.pdf").write_bytes(b"%PDF-1.4 garbage")
    (kb / "ip" / "empty.txt").write_bytes(b"")
    (kb / "ip" / "huge.txt").write_bytes(b"a " * int(0.6 * 1024 * 1024))
    (kb / "ip" / "scan.pdf").write_bytes(make_pdf([]))
    (kb / "process" / "good.pdf").write_bytes(make_pdf(["Kaizen means continuous improvement in small steps"]))
    settings = changed(settings, {"max_file_mb": 0.5})
    idx, _ = _indexer(settings, embedder)
    summary = idx.refresh()
    reasons = {f["path"]: f["reason"] for f in summary.failed}
    assert set(reasons) == {"ip/broken.pdf", "ip/empty.txt", "ip/huge.txt", "ip/scan.pdf"}
    assert "larger than" in reasons["ip/huge.txt"] and "empty" in reasons["ip/empty.txt"]
    assert len(summary.added) == 5  # the four samples and the good PDF
    status = status_data(settings)
    assert {f["path"] for f in status["failed"]} == set(reasons)
    assert status["documents"] == 5


def test_duplicate_id_is_refused(settings, embedder, kb):
    (kb / "ip" / "copy.md").write_text((kb / "ip" / "patent.md").read_text())
    idx, _ = _indexer(settings, embedder)
    summary = idx.refresh()
    assert any("duplicate id" in f["reason"] for f in summary.failed)


def test_lock_blocks_a_second_refresh(settings, embedder):
    idx, _ = _indexer(settings, embedder)
    lock = lock_for(settings)
    with lock, pytest.raises(IndexBusy):
        idx.refresh(wait=0.2)


def test_concurrent_refreshes_do_not_interleave(settings, embedder):
    results, errors = [], []

    def run():
        try:
            results.append(Indexer(settings, embedder_factory=lambda: embedder).refresh())
        except Exception as exc:  # noqa: BLE001 - pragma: no cover - surfaced by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(len(r.added) for r in results) == [0, 4]
    _consistent(settings)


def test_crash_mid_refresh_keeps_old_index_and_next_refresh_repairs(settings, embedder, kb, monkeypatch):
    idx, _ = _indexer(settings, embedder)
    idx.refresh()
    for name in ("ip/trademark-term.md", "process/5s.md"):
        path = kb / name
        path.write_text(path.read_text() + "\n\n## Ghi chú mới\n\nNội dung bổ sung về thủ tục.\n")
    monkeypatch.setattr(pipeline, "ENCODE_GROUP", 1)  # commit document by document
    crashing, _ = _indexer(settings, embedder, fail_after_calls=1)
    with pytest.raises(KeyboardInterrupt):
        crashing.refresh()
    searcher = HybridSearcher(settings, embedder)
    top = searcher.search("thời hạn bảo hộ nhãn hiệu", k=3)
    assert top[0].meta["doc_id"] == "ip-trademark-term"
    summary, _ = _indexer(settings, embedder)
    result = summary.refresh()
    assert len(result.updated) == 1  # the document committed before the crash is not redone
    _consistent(settings)


def test_build_replaces_the_collection(settings, embedder):
    idx, _ = _indexer(settings, embedder)
    idx.refresh()
    count = ChunkStore(settings).count()
    summary = idx.build()
    assert len(summary.added) == 4
    assert ChunkStore(settings).count() == count
    names = [c.name for c in ChunkStore(settings).client.list_collections()]
    assert names == ["knowledge_chunks"]
    _consistent(settings)


def test_vietnamese_search_with_and_without_diacritics(settings, embedder):
    Indexer(settings, embedder_factory=lambda: embedder).refresh()
    searcher = HybridSearcher(settings, embedder)
    for query in ("thời hạn bảo hộ nhãn hiệu", "thoi han bao ho nhan hieu", "logo được bảo hộ mấy năm"):
        hits = searcher.search(query, k=3)
        assert hits[0].meta["doc_id"] == "ip-trademark-term", query
        assert "10 năm" in hits[0].text
    hits = searcher.search("bat dau 5s o dau", k=2)
    assert hits[0].meta["doc_id"] == "process-5s"


def test_status_reports_stale_documents(settings, embedder):
    Indexer(settings, embedder_factory=lambda: embedder).refresh()
    data = status_data(settings)
    assert data["documents"] == 4 and data["chunks"] > 4 and data["last_refresh"]
    stale = {s["path"]: s["reason"] for s in data["stale"]}
    assert "last_reviewed" in stale["ip/patent.md"]  # reviewed 2024-01-10
    assert "effective_to" in stale["funding/old-opposition.md"]
    assert "ip/trademark-term.md" not in stale


def test_embeddings_are_normalised(embedder):
    vectors = embedder.embed_passages(["Nhãn hiệu", "Sáng chế"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_refresh_killed_with_sigkill_is_repaired(settings, embedder, kb, tmp_path):
    """A real process killed mid-refresh: the old index still answers, the next refresh repairs it."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    Indexer(settings, embedder_factory=lambda: embedder).refresh()
    for name in ("ip/trademark-term.md", "process/5s.md", "ip/patent.md"):
        path = kb / name
        path.write_text(path.read_text() + "\n\n## Ghi chú mới\n\nNội dung bổ sung về thủ tục.\n")
    script = (
        "import time, sys\n"
        "from indexer import pipeline\n"
        "from indexer.config import IndexerSettings as Settings\n"
        "from indexer.embedding import get_embedder\n"
        "pipeline.ENCODE_GROUP = 1\n"
        f"s = Settings(_env_file=None, data_dir={str(settings.data_dir)!r}, knowledge_dir={str(kb)!r})\n"
        f"m = get_embedder(Settings(_env_file=None, data_dir={str(ROOT / 'data')!r}))\n"
        "class Slow:\n"
        "    name, dim = m.name, m.dim\n"
        "    def embed_passages(self, texts, batch_size=32, progress=False):\n"
        "        time.sleep(3)\n"
        "        return m.embed_passages(texts)\n"
        "print('ready', flush=True)\n"
        "pipeline.Indexer(s, embedder_factory=Slow).refresh()\n"
    )
    manifest = pipeline.manifest_path(settings)
    before = json.loads(manifest.read_text())["documents"]
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        docs = json.loads(manifest.read_text())["documents"]
        if sum(docs[p]["sha256"] != before[p]["sha256"] for p in docs if p in before) >= 1:
            break
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    hits = HybridSearcher(settings, embedder).search("thời hạn bảo hộ nhãn hiệu", k=3)
    assert hits[0].meta["doc_id"] == "ip-trademark-term"
    result = Indexer(settings, embedder_factory=lambda: embedder).refresh()
    assert len(result.updated) == 2  # one document was committed before the kill
    _consistent(settings)


def test_a_refresh_refills_a_vector_store_that_lost_documents(settings, embedder):
    """A new or emptied Chroma (CHROMA_HOST changed, a server restored from nothing) with the old manifest: the
    refresh indexes again what the collection lacks instead of calling it unchanged."""
    idx, _ = _indexer(settings, embedder)
    idx.refresh()
    store = ChunkStore(settings)
    victim = next(iter(Manifest.load(pipeline.manifest_path(settings)).documents))
    store.delete_path(victim)
    again = idx.refresh()
    assert again.added == [victim] and not again.removed
    _consistent(settings)
