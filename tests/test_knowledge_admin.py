"""The knowledge-base service staff use from Telegram: real files, real Chroma, the real model."""

from __future__ import annotations

import pytest

from bot.knowledge_admin import KnowledgeAdmin, safe_name
from indexer.pipeline import Indexer, lock_for
from indexer.search import HybridSearcher
from indexer.store import ChunkStore
from tests.pdfmaker import make_pdf

GUIDE = """---
title: "Hỗ trợ đổi mới công nghệ tỉnh Lâm Viên"
topic: funding
---
# Hỗ trợ đổi mới công nghệ tỉnh Lâm Viên

Doanh nghiệp nhỏ ở tỉnh Lâm Viên được hỗ trợ 45 triệu đồng để thuê chuyên gia đánh giá dây chuyền sản xuất.

## Hồ sơ

Hồ sơ gồm đơn đề nghị và báo giá của đơn vị tư vấn, nộp tại Sở Khoa học và Công nghệ.
"""


@pytest.fixture
def admin(settings, embedder):
    Indexer(settings, embedder_factory=lambda: embedder).refresh()
    return KnowledgeAdmin(settings, embedder)


def _paths(settings) -> set[str]:
    return {meta["path"] for _, meta, _ in ChunkStore(settings).all_entries()}


def test_add_replace_remove(admin, settings, embedder):
    searcher = HybridSearcher(settings, embedder)
    searcher.search("nhãn hiệu")  # loaded before the upload, like the running bot
    result = admin.add("Hỗ trợ Lâm Viên.md", GUIDE.encode())
    assert result.ok and not result.replaced and result.chunks == 2
    assert result.path == "funding/Hỗ-trợ-Lâm-Viên.md" and result.topic == "funding"
    assert (settings.knowledge_dir / result.path).exists()
    top = searcher.search("Lâm Viên hỗ trợ thuê chuyên gia bao nhiêu tiền", k=1)[0]
    assert top.meta["path"] == result.path and "45 triệu" in top.text

    again = admin.add("copy.md", GUIDE.encode())
    assert (again.ok, again.reason, again.detail) == (False, "duplicate", result.path)

    newer = admin.add("Hỗ trợ Lâm Viên.md", GUIDE.replace("45 triệu", "60 triệu").encode())
    assert newer.ok and newer.replaced and newer.path == result.path
    texts = [t for _, m, t in ChunkStore(settings).all_entries(include_documents=True) if m["path"] == result.path]
    assert len(texts) == 2 and any("60 triệu" in t for t in texts) and not any("45 triệu" in t for t in texts)

    docs = {d.doc_id: d for d in admin.documents()}
    assert docs[newer.doc_id].chunks == 2 and docs[newer.doc_id].topic == "funding"
    removed = admin.remove(newer.doc_id)
    assert removed.ok and removed.document.path == result.path
    assert not (settings.knowledge_dir / result.path).exists() and result.path not in _paths(settings)
    assert all(h.meta["path"] != result.path for h in searcher.search("Lâm Viên hỗ trợ thuê chuyên gia", k=5))
    assert admin.remove(newer.doc_id).reason == "not_found"


def test_refusals(admin, settings):
    before = _paths(settings)
    assert admin.add("bang-gia.xlsx", b"PK\x03\x04 spreadsheet").reason == "type"
    assert admin.add("noname", b"some text").reason == "type"
    corrupt = admin.add("hong.pdf", b"%PDF-1.4\nthis is not really a pdf")
    assert corrupt.reason == "unreadable" and "PDF" in corrupt.detail
    assert admin.add("trong.txt", b"   \n").reason == "unreadable"
    settings.max_file_mb = 0.001
    assert admin.add("lon.txt", b"x" * 2000).reason == "size"
    assert admin.precheck("lon.pdf", 5000).reason == "size" and admin.precheck("nho.pdf", 10) is None
    settings.max_file_mb = 20
    taken = admin.add("bang-sang-che.md", b"---\nid: ip-patent\n---\n# Sang che\n\nMot tai lieu khac ve sang che.\n")
    assert taken.reason == "id_taken" and "ip/patent.md" in taken.detail
    assert _paths(settings) == before
    assert not any(p.name.startswith(".upload") for p in settings.knowledge_dir.rglob("*"))


def test_topic_from_caption_and_pdf(admin, settings):
    pdf = make_pdf(
        [
            "Huong dan danh gia trinh do cong nghe cho doanh nghiep che bien go.",
            "Doanh nghiep tu danh gia theo bo tieu chi gom 5 nhom.",
        ]
    )
    result = admin.add("danh-gia.pdf", pdf, topic="tech_transfer")
    assert result.ok and result.path == "tech_transfer/danh-gia.pdf" and result.topic == "tech_transfer"
    assert result.chunks >= 1 and result.path in _paths(settings)


def test_busy_index_leaves_nothing_behind(admin, settings, monkeypatch):
    monkeypatch.setattr("bot.knowledge_admin.UPLOAD_WAIT", 0.2)
    lock = lock_for(settings)
    lock.acquire()
    try:
        busy = admin.add("moi.md", GUIDE.encode())
    finally:
        lock.release()
    assert busy.reason == "busy" and not (settings.knowledge_dir / "funding" / "moi.md").exists()


def test_safe_name():
    assert safe_name("../../etc/passwd.md") == "passwd.md"
    assert safe_name("_draft.MD") == "draft.md"
    assert safe_name(".hidden.txt") == "hidden.txt"
    assert safe_name("Báo cáo (bản 2).PDF") == "Báo-cáo-bản-2.pdf"


def test_reindex_does_not_queue_behind_another(admin, settings):
    from indexer.pipeline import IndexBusy

    lock = lock_for(settings)
    lock.acquire()
    try:
        with pytest.raises(IndexBusy):
            admin.refresh(wait=0.1)
    finally:
        lock.release()
    (settings.knowledge_dir / "process" / "moi.md").write_text(GUIDE.replace("funding", "process"), encoding="utf-8")
    seen = []
    summary = admin.refresh(progress=lambda done, total: seen.append((done, total)))
    assert summary.added == ["process/moi.md"] and seen == [(2, 2)]
