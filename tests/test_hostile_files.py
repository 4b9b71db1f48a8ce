"""Hostile and broken files: refused before they cost minutes or gigabytes, quarantined, reported, never retried.

Real files built here (a zip-bomb DOCX, "billion laughs" front matter, a corrupt PDF, documents over the
limits), the real loaders, the real indexer on real Chroma with the real model, the upload service.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import random
import signal
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import docx
import pytest

from bot.knowledge_admin import KnowledgeAdmin
from bot.telegram.admin_handlers import _refusal
from indexer import cli, loaders, worker
from indexer.cli import status_data
from indexer.manifest import Manifest
from indexer.pipeline import Indexer, manifest_path
from indexer.quarantine import Quarantine, quarantine_dir
from indexer.search import HybridSearcher
from indexer.store import ChunkStore
from tests.conftest import changed
from tests.support import hungry

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
LAUGHS = (
    "---\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
    "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
    "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "title: [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
    "---\n# Tài liệu\n\nNội dung đủ dài để lập chỉ mục.\n"
)
GOOD = """---
title: "Hỗ trợ đổi mới công nghệ tỉnh Lâm Viên"
topic: funding
---
# Hỗ trợ đổi mới công nghệ tỉnh Lâm Viên

Doanh nghiệp nhỏ ở tỉnh Lâm Viên được hỗ trợ 45 triệu đồng để thuê chuyên gia đánh giá dây chuyền sản xuất.
"""


def docx_with_body(body_xml: str) -> bytes:
    """A valid Word file (python-docx's own parts) whose document body is `body_xml`, deflated."""
    template = io.BytesIO()
    docx.Document().save(template)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(template.getvalue())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "word/document.xml":
                xml = data.decode("utf-8")
                cut = xml.index("<w:body>") + len("<w:body>")
                data = (xml[:cut] + body_xml + xml[cut:]).encode("utf-8")
            z.writestr(info.filename, data)
    return out.getvalue()


def paragraphs(text: str, count: int) -> str:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>" * count


def zip_bomb_docx(megabytes: int = 40) -> bytes:
    """Tens of MB of repeated paragraphs that deflate to well under a megabyte."""
    unit = paragraphs("Doanh nghiệp nhỏ và vừa đổi mới công nghệ. ", 1)
    return docx_with_body(unit * (megabytes * 1024 * 1024 // len(unit.encode())))


def make_pages_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one page per text (tests/pdfmaker makes one page only)."""
    n = len(pages)
    font = 3 + 2 * n
    objects = ["<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n} >>")
    for i, text in enumerate(pages):
        stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET"
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>"
        )
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
    objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return out


def corrupt_pdf() -> bytes:
    return b"%PDF-1.7\n" + random.Random(16).randbytes(4000)


def _load(tmp_path, name: str, data: bytes, **limits):
    path = tmp_path / "ip" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return loaders.load(path, tmp_path, limits=dataclasses.replace(loaders.DEFAULT_LIMITS, **limits))


# -- the loaders: refused before parsing, with a reason ------------------------------------------------------


def test_zip_bomb_docx_is_refused_from_its_directory_without_inflating(tmp_path):
    bomb = zip_bomb_docx(40)
    assert len(bomb) < 1024 * 1024  # small on the wire, 40 MB inside
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(loaders.LoadError) as refused:
            _load(tmp_path, "bomb.docx", bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - started < 2
    assert peak < 8 * 1024 * 1024  # nothing was inflated: the 40 MB never existed in memory
    assert refused.value.code == "bomb" and refused.value.quarantine
    assert "unpacks to more than 20 MB" in str(refused.value) and "DOCX" in str(refused.value)


def test_highly_compressed_docx_under_the_size_limit_is_refused_by_its_ratio(tmp_path):
    bomb = zip_bomb_docx(5)  # under MAX_UNPACKED_MB, but compressed several hundred to one
    with pytest.raises(loaders.LoadError, match="compressed .*:1") as refused:
        _load(tmp_path, "ratio.docx", bomb)
    assert refused.value.code == "zip_ratio"
    doc = _load(tmp_path, "ratio.docx", bomb, max_zip_ratio=100_000, max_text_chars=10_000_000)
    assert "Doanh nghiệp nhỏ" in doc.text  # allowed by the settings, it reads


def test_docx_text_limit_stops_the_reading(tmp_path):
    many = docx_with_body(paragraphs("Quy trình cải tiến năng suất chất lượng.", 5000))
    with pytest.raises(loaders.LoadError, match="longer than 10000 characters") as refused:
        _load(tmp_path, "long.docx", many, max_text_chars=10_000)
    assert refused.value.code == "text_too_long"
    empty_paragraphs = docx_with_body("<w:p/>" * 20_000)  # no text, but each costs: counted too
    with pytest.raises(loaders.LoadError, match="longer than"):
        _load(tmp_path, "empty-paras.docx", empty_paragraphs, max_text_chars=10_000)


def test_streamed_docx_reads_like_python_docx(tmp_path):
    document = docx.Document()
    document.core_properties.title = "Hướng dẫn chuyển giao"
    document.add_heading("Quy trình", level=1)
    para = document.add_paragraph("Hợp đồng phải ")
    para.add_run("đăng ký").bold = True
    para.add_run(" trong 90 ngày.")
    table = document.add_table(rows=1, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Hồ sơ", "Đơn đề nghị"
    buf = io.BytesIO()
    document.save(buf)
    doc = _load(tmp_path, "hd.docx", buf.getvalue())
    assert doc.meta["title"] == "Hướng dẫn chuyển giao"
    assert doc.text == "## Quy trình\n\nHợp đồng phải đăng ký trong 90 ngày.\n\nHồ sơ | Đơn đề nghị"
    xlsx_like = docx_with_body("")
    with zipfile.ZipFile(io.BytesIO(xlsx_like)) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    parts["word/document.xml"] = b'<?xml version="1.0"?><workbook xmlns="urn:x"><sheet>Doanh thu</sheet></workbook>'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    with pytest.raises(loaders.LoadError, match="not a Word document"):
        _load(tmp_path, "sheet.docx", out.getvalue())


def test_billion_laughs_front_matter_is_refused_at_once(tmp_path):
    assert len(LAUGHS.encode()) < 400
    started = time.perf_counter()
    with pytest.raises(loaders.LoadError, match="aliases or anchors") as refused:
        _load(tmp_path, "laughs.md", LAUGHS.encode())
    assert time.perf_counter() - started < 1 and refused.value.code == "front_matter_alias"
    anchor_only = "---\ntitle: &t Nhãn hiệu\n---\n# Nhãn hiệu\n\nNội dung đủ dài để lập chỉ mục.\n"
    with pytest.raises(loaders.LoadError, match="aliases or anchors"):
        _load(tmp_path, "anchor.md", anchor_only.encode())
    with pytest.raises(loaders.LoadError, match="aliases or anchors"):  # blank lines first change nothing
        _load(tmp_path, "blank.md", ("\n \n" + LAUGHS).encode())


@pytest.mark.parametrize(
    ("front", "match"),
    [
        ("title: " + "Nhãn hiệu " * 40, "title is 399 characters long \\(limit 300\\)"),
        ("title: x\nlegal_basis: " + "Luật SHTT; " * 300, "legal_basis is .* \\(limit 2000\\)"),
        ("title: " + "[" * 40 + "]" * 40, "nested deeper"),
        ("title: " + "9" * 5000, "front matter cannot be read"),
        ("title: !!python/object/apply:os.system ['echo hi']", "not valid YAML"),
        ("title: x\nnote: '" + "a" * 30_000 + "'", "front matter is longer than"),
    ],
)
def test_front_matter_values_are_bounded(tmp_path, front, match):
    data = f"---\n{front}\n---\n# Tài liệu\n\nNội dung đủ dài để lập chỉ mục.\n".encode()
    with pytest.raises(loaders.LoadError, match=match):
        _load(tmp_path, "fm.md", data)


def test_ordinary_front_matter_still_reads_and_derived_titles_are_cut(tmp_path):
    ok = "---\ntitle: Bảo hộ nhãn hiệu\nsource_urls:\n  - https://a.example\n  - https://b.example\n---\n# T\n\nNội dung đủ dài.\n"
    doc = _load(tmp_path, "ok.md", ok.encode())
    assert doc.meta["title"] == "Bảo hộ nhãn hiệu" and doc.meta["source_urls"] == "https://a.example; https://b.example"
    heading = _load(tmp_path, "h.md", ("# " + "Tiêu đề " * 200 + "\n\nNội dung đủ dài để lập chỉ mục.\n").encode())
    assert len(heading.meta["title"]) == 300 and heading.meta["title"].endswith("…")


def test_corrupt_and_oversized_pdfs(tmp_path):
    with pytest.raises(loaders.LoadError, match="unreadable PDF") as corrupt:
        _load(tmp_path, "hong.pdf", corrupt_pdf())
    assert corrupt.value.code == "corrupt" and corrupt.value.quarantine
    three = make_pages_pdf(["Trang mot ve nhan hieu.", "Trang hai ve sang che.", "Trang ba ve ban quyen."])
    assert "Trang ba" in _load(tmp_path, "ba.pdf", three).text
    with pytest.raises(loaders.LoadError, match="3 pages \\(limit 2\\)") as pages:
        _load(tmp_path, "ba.pdf", three, max_pdf_pages=2)
    assert pages.value.code == "too_many_pages"
    long = make_pages_pdf(["Doanh nghiep nho va vua doi moi cong nghe. " * 10] * 5)
    with pytest.raises(loaders.LoadError, match="longer than 1000 characters"):
        _load(tmp_path, "dai.pdf", long, max_text_chars=1000)
    with pytest.raises(loaders.LoadError, match="longer than 1000 characters"):
        _load(tmp_path, "dai.txt", ("Văn bản dài. " * 200).encode(), max_text_chars=1000)


# -- the indexer: quarantine, status, the rest still indexes ---------------------------------------------------


def _hostile_kb(kb) -> dict[str, bytes]:
    files = {
        "ip/bomb.docx": zip_bomb_docx(40),
        "ip/laughs.md": LAUGHS.encode(),
        "ip/hong.pdf": corrupt_pdf(),
        "ip/nhieu-trang.pdf": make_pages_pdf(["Trang ve so huu tri tue."] * 4),
        "ip/dai.txt": ("Văn bản rất dài về sở hữu trí tuệ. " * 200).encode(),
        "ip/empty.txt": b"",
        "funding/lam-vien.md": GOOD.encode(),
    }
    for rel, data in files.items():
        (kb / rel).parent.mkdir(parents=True, exist_ok=True)
        (kb / rel).write_bytes(data)
    return files


HOSTILE = {"ip/bomb.docx", "ip/laughs.md", "ip/hong.pdf", "ip/nhieu-trang.pdf", "ip/dai.txt"}


def test_refresh_quarantines_hostile_files_and_indexes_the_rest(settings, embedder, kb, monkeypatch, capsys):
    settings = changed(settings, {"max_pdf_pages": 3, "max_text_chars": 5000})
    files = _hostile_kb(kb)
    summary = Indexer(settings, embedder_factory=lambda: embedder).refresh()

    reasons = {f["path"]: f["reason"] for f in summary.failed}
    assert set(reasons) == HOSTILE | {"ip/empty.txt"}
    assert "unpacks to more than 20 MB" in reasons["ip/bomb.docx"]
    assert "aliases or anchors" in reasons["ip/laughs.md"]
    assert "unreadable PDF" in reasons["ip/hong.pdf"]
    assert "4 pages (limit 3)" in reasons["ip/nhieu-trang.pdf"]
    assert "longer than 5000 characters" in reasons["ip/dai.txt"]
    assert all(reasons[rel].endswith("moved to quarantine") for rel in HOSTILE)
    assert "quarantine" not in reasons["ip/empty.txt"]  # may still be being written: left in place

    qdir = quarantine_dir(settings)
    for rel in HOSTILE:
        assert not (kb / rel).exists(), rel
        assert (qdir / rel).read_bytes() == files[rel], rel
    assert (kb / "ip" / "empty.txt").exists()
    assert set(Quarantine(settings).entries()) == HOSTILE

    # The good document beside them is indexed and answers.
    assert "funding/lam-vien.md" in summary.added and len(summary.added) == 5  # with the four samples
    top = HybridSearcher(settings, embedder).search("Lâm Viên hỗ trợ thuê chuyên gia bao nhiêu", k=1)[0]
    assert top.meta["path"] == "funding/lam-vien.md"

    # The manifest holds no expanded title; status lists every refused file as {path, reason}.
    assert manifest_path(settings).stat().st_size < 50_000
    failed = status_data(settings)["failed"]
    assert all(set(item) == {"path", "reason"} for item in failed)
    assert {item["path"] for item in failed} == HOSTILE | {"ip/empty.txt"}

    # Not retried: the next refresh does not read them again, and status still reports them.
    read = []
    original = worker.load
    monkeypatch.setattr(worker, "load", lambda path, *a, **kw: read.append(path.name) or original(path, *a, **kw))
    again = Indexer(settings, embedder_factory=lambda: embedder).refresh()
    assert read == ["empty.txt"] and [f["path"] for f in again.failed] == ["ip/empty.txt"]
    assert {item["path"] for item in status_data(settings)["failed"]} == HOSTILE | {"ip/empty.txt"}

    # `python -m indexer status --json` as other tools read it.
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("KNOWLEDGE_DIR", str(settings.knowledge_dir))
    monkeypatch.chdir(settings.data_dir)  # no developer's .env is read
    capsys.readouterr()
    assert cli.main(["status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    by_path = {item["path"]: item["reason"] for item in status["failed"]}
    assert set(by_path) == HOSTILE | {"ip/empty.txt"} and all(set(i) == {"path", "reason"} for i in status["failed"])
    assert "aliases or anchors" in by_path["ip/laughs.md"] and status["documents"] == 5


def test_a_good_file_at_a_quarantined_path_clears_it(settings, embedder, kb):
    (kb / "ip" / "laughs.md").write_bytes(LAUGHS.encode())
    indexer = Indexer(settings, embedder_factory=lambda: embedder)
    indexer.refresh()
    assert "ip/laughs.md" in Quarantine(settings).entries()
    (kb / "ip" / "laughs.md").write_text(GOOD.replace("funding", "ip"), encoding="utf-8")
    summary = indexer.refresh()
    assert summary.added == ["ip/laughs.md"] and not summary.failed
    assert Quarantine(settings).entries() == {} and not (quarantine_dir(settings) / "ip" / "laughs.md").exists()
    assert status_data(settings)["failed"] == []


def test_a_bad_update_takes_the_old_version_out_of_the_index(settings, embedder, kb):
    indexer = Indexer(settings, embedder_factory=lambda: embedder)
    indexer.refresh()
    (kb / "process" / "5s.md").write_bytes(LAUGHS.encode())
    summary = indexer.refresh()
    assert (
        summary.removed == ["process/5s.md"] and "process/5s.md" not in Manifest.load(manifest_path(settings)).documents
    )
    assert (quarantine_dir(settings) / "process" / "5s.md").exists()


# -- the upload path: refused before it lands, with a short Vietnamese reply ---------------------------------


@pytest.fixture
def admin(settings, embedder):
    Indexer(settings, embedder_factory=lambda: embedder).refresh()
    return KnowledgeAdmin(settings, embedder)


def _landed(settings) -> list[str]:
    return sorted(
        p.relative_to(settings.knowledge_dir).as_posix() for p in settings.knowledge_dir.rglob("*") if p.is_file()
    )


@pytest.mark.parametrize(
    ("name", "make", "words"),
    [
        ("bao-cao.docx", zip_bomb_docx, "bom nén"),
        ("laughs.md", LAUGHS.encode, "alias"),
        ("hong.pdf", corrupt_pdf, "PDF bị hỏng"),
        (
            "dai.md",
            ("---\ntitle: " + "Tiêu đề rất dài " * 100 + "\n---\n# T\n\nNội dung đủ dài để lập chỉ mục.\n").encode,
            "title",
        ),
    ],
)
def test_upload_refuses_hostile_files_before_they_land(admin, settings, name, make, words):
    before = _landed(settings)
    result = admin.add(name, make())
    assert not result.ok and result.reason == "unreadable" and words in result.detail
    assert _landed(settings) == before  # nothing written, not even a temporary file
    assert not quarantine_dir(settings).exists()  # refused at the door: nothing to quarantine
    reply = _refusal("x" * 255 + ".md", result)  # the reply the bot sends, with a very long file name
    assert reply.startswith("❌ Không đọc được") and len(reply) < 1000


def test_upload_reply_is_short_whatever_the_file_holds(admin, settings):
    long_heading = (
        "# " + "Hỗ trợ đổi mới <b>công nghệ</b> & " * 3000 + "\n\nDoanh nghiệp được hỗ trợ thuê chuyên gia.\n"
    ).encode()
    result = admin.add("tieu-de-dai.md", long_heading)
    assert result.ok and len(result.title) <= 300
    sections = [m["section"] for _, m, _ in ChunkStore(settings).all_entries() if m["path"] == result.path]
    assert sections and all(len(s) <= 300 for s in sections)
    settings.max_pdf_pages = 2
    refused = admin.add("nhieu-trang-2.pdf", make_pages_pdf(["Trang hai."] * 3), topic="ip")
    assert (
        refused.reason == "unreadable"
        and refused.detail == "tệp PDF có 3 trang (giới hạn 2 trang); hãy chia thành nhiều tệp"
    )
    settings.max_file_mb = 0.001
    assert admin.add("lon.txt", b"x" * 2000).reason == "size"


def test_removing_a_quarantined_file_forgets_it(admin, settings, kb):
    (kb / "ip" / "hong.pdf").write_bytes(corrupt_pdf())
    admin.refresh()
    assert [d.path for d in admin.documents() if d.failed] == ["ip/hong.pdf"]
    assert "quarantine" in admin.find("ip/hong.pdf")[0].failed
    removed = admin.remove("ip/hong.pdf")
    assert removed.ok
    assert not (quarantine_dir(settings) / "ip" / "hong.pdf").exists() and status_data(settings)["failed"] == []


# -- the reading worker -----------------------------------------------------------------------------------
def test_a_file_that_exhausts_the_workers_memory_is_refused_and_the_worker_recovers(tmp_path):
    """A parser that allocates without end (here a stand-in run in the worker) hits the memory limit: a refusal
    naming it, and the next file is read by a fresh worker."""
    limits = dataclasses.replace(loaders.DEFAULT_LIMITS, max_memory_bytes=512 * loaders.MB)
    with pytest.raises(worker.Overrun):
        worker.run(hungry.allocate, 2048, timeout=60, memory_bytes=limits.max_memory_bytes)
    path = tmp_path / "ok.txt"
    path.write_text("Nhãn hiệu được bảo hộ 10 năm.", encoding="utf-8")
    assert "10 năm" in worker.load(path, tmp_path, None, limits).text


def test_a_reader_that_hangs_is_killed_after_the_hard_limit(tmp_path):
    started = time.monotonic()
    with pytest.raises(worker.Overrun, match="time"):
        worker.run(hungry.hang, 120, timeout=2, memory_bytes=loaders.DEFAULT_LIMITS.max_memory_bytes)
    assert time.monotonic() - started < 30  # not the two minutes it asked for
    path = tmp_path / "ok.txt"
    path.write_text("Sáng chế được bảo hộ 20 năm.", encoding="utf-8")
    assert "20 năm" in worker.load(path, tmp_path, None, loaders.DEFAULT_LIMITS).text


def test_refusals_keep_their_code_and_parameters_across_the_worker(tmp_path):
    path = tmp_path / "dai.txt"
    path.write_text("chữ " * 3000, encoding="utf-8")
    limits = dataclasses.replace(loaders.DEFAULT_LIMITS, max_text_chars=5000)
    with pytest.raises(loaders.LoadError) as refused:
        worker.load(path, tmp_path, None, limits)
    assert refused.value.code == "text_too_long" and refused.value.quarantine and refused.value.params


_ORPHAN_PARENT = """
import os, sys
from indexer import loaders, worker
print(worker.run(os.getpid, timeout=60, memory_bytes=loaders.DEFAULT_LIMITS.max_memory_bytes), flush=True)
sys.stdin.read()  # wait to be killed
"""


def test_the_reader_worker_ends_when_its_parent_is_killed():
    """A bot process killed outright (SIGKILL) leaves no idle document-reader worker behind."""
    root = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-c", _ORPHAN_PARENT]
    with subprocess.Popen(command, cwd=root, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as parent:
        try:
            child = int(parent.stdout.readline())
            os.kill(child, 0)  # the worker runs
            parent.send_signal(signal.SIGKILL)
            parent.wait(timeout=10)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and _alive(child):
                time.sleep(0.2)
            assert not _alive(child), "the worker outlived its parent"
        finally:
            parent.kill()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status waits to be read
