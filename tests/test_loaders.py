"""Loaders for each supported format, and the chunk metadata they lead to."""

import unicodedata
from pathlib import Path

import docx
import pytest

from indexer import chunking, loaders
from indexer.textnorm import fold, has_diacritics, nfc
from tests.pdfmaker import make_pdf


def _write(root: Path, rel: str, data: bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_markdown_front_matter_and_nfc(tmp_path):
    decomposed = unicodedata.normalize("NFD", "Nhãn hiệu")  # NFD input must come out NFC
    body = f'---\nid: ip-x\ntitle: "{decomposed}"\ntopic: ip\nlast_reviewed: 2026-01-02\n---\n# T\n\n{decomposed} được bảo hộ 10 năm.'
    path = _write(tmp_path, "ip/x.md", body.encode())
    doc = loaders.load(path, tmp_path)
    assert doc.meta["id"] == "ip-x"
    assert doc.meta["title"] == nfc("Nhãn hiệu") and doc.meta["title"] != decomposed
    assert doc.meta["last_reviewed"] == "2026-01-02"
    assert doc.meta["path"] == "ip/x.md"
    assert "Nhãn hiệu được bảo hộ 10 năm" in doc.text


def test_txt_defaults_from_path(tmp_path):
    path = _write(tmp_path, "process/Huong dan 5S.txt", "Hướng dẫn 5S cho xưởng may: sàng lọc trước.".encode())
    doc = loaders.load(path, tmp_path)
    assert doc.meta["id"] == "process-huong-dan-5s"
    assert doc.meta["topic"] == "process"
    assert "sàng lọc" in doc.text


def test_pdf_text(tmp_path):
    path = _write(tmp_path, "funding/guide.pdf", make_pdf(["Support for SMEs", "up to 50 percent of the contract"]))
    doc = loaders.load(path, tmp_path)
    assert "50 percent" in doc.text
    assert doc.meta["topic"] == "funding"


def test_docx_headings_become_sections(tmp_path):
    document = docx.Document()
    document.add_heading("Quy trình chuyển giao", level=1)
    document.add_paragraph("Hợp đồng chuyển giao công nghệ phải đăng ký trong 90 ngày.")
    path = tmp_path / "tech_transfer" / "quy-trinh.docx"
    path.parent.mkdir()
    document.save(path)
    doc = loaders.load(path, tmp_path)
    chunks = chunking.split(doc.text, doc.meta["title"])
    assert any(c.section == "Quy trình chuyển giao" and "90 ngày" in c.text for c in chunks)


def test_html_strips_scripts_and_keeps_headings(tmp_path):
    html = (
        "<html><head><title>Quỹ NATIF</title><script>alert(1)</script></head><body>"
        "<h2>Cho vay ưu đãi</h2><p>NATIF cho vay ưu đãi để đổi mới công nghệ.</p></body></html>"
    )
    path = _write(tmp_path, "funding/natif.html", html.encode())
    doc = loaders.load(path, tmp_path)
    assert doc.meta["title"] == "Quỹ NATIF"
    assert "alert" not in doc.text
    chunks = chunking.split(doc.text, doc.meta["title"])
    assert chunks[0].section == "Cho vay ưu đãi"


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf", "PDF"),
        ("empty.md", b"", "empty"),
        ("image.png", b"\x89PNG\r\n", "unsupported"),
        ("bad.docx", b"PK not a zip", "DOCX"),
        ("bad.md", b"---\ntitle: [unclosed\n---\nbody text long enough to index", "YAML"),
        ("date.md", b"---\ntitle: x\nlast_reviewed: tomorrow\n---\nbody text long enough to index", "date"),
    ],
)
def test_bad_files_raise_a_reason(tmp_path, name, data, reason):
    path = _write(tmp_path, f"ip/{name}", data)
    with pytest.raises(loaders.LoadError, match=reason):
        loaders.load(path, tmp_path)


def test_chunks_keep_section_path():
    text = "# Tiêu đề\n\nTóm tắt ngắn.\n\n## Phần A\n\nNội dung A.\n\n### Chi tiết\n\nNội dung chi tiết."
    chunks = chunking.split(text, "Tiêu đề")
    assert [c.section for c in chunks] == ["", "Phần A", "Phần A > Chi tiết"]
    assert chunks[2].embedding_text("Tiêu đề").startswith("Tiêu đề — Phần A > Chi tiết")


def test_long_section_is_split_below_limit():
    text = "## Dài\n\n" + " ".join(f"Câu số {i} nói về thủ tục đăng ký nhãn hiệu." for i in range(200))
    chunks = chunking.split(text, "Doc")
    assert len(chunks) > 3
    assert all(len(c.text) <= chunking.CHUNK_CHARS for c in chunks)
    assert all(c.section == "Dài" for c in chunks)


def test_fold():
    assert fold("Đăng ký NHÃN HIỆU") == "dang ky nhan hieu"
    assert has_diacritics("bảo hộ") and not has_diacritics("bao ho")
