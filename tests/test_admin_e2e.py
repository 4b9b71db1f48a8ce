"""Staff tools through the real `python -m bot run` process and the fake Bot API.

One bot process for the module; the tests run in file order and build on each other: an owner's
question the bot cannot answer, staff upload documents in every supported format (and refused ones),
the owner's question is then answered from the upload without a restart, reindex, removal, reports.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from tests.pdfmaker import make_pdf
from tests.support.botapi import FakeBotAPI
from tests.workspace import add_consultant, bot_env, indexed_sample, running_bot

pytestmark = pytest.mark.slow
OWNER, ADMIN, OWNER2 = 3001, 3002, 3003
GROUP = -1009876543210
MAX_MB = 0.06
QUESTION = "Tỉnh Lâm Viên hỗ trợ thuê chuyên gia bao nhiêu tiền?"
GUIDE = """---
title: "Hỗ trợ đổi mới công nghệ tỉnh Lâm Viên"
topic: funding
---
# Hỗ trợ đổi mới công nghệ tỉnh Lâm Viên

Doanh nghiệp nhỏ ở tỉnh Lâm Viên được hỗ trợ 45 triệu đồng để thuê chuyên gia đánh giá dây chuyền sản xuất.

## Hồ sơ đề nghị hỗ trợ

Hồ sơ gồm đơn đề nghị và báo giá của đơn vị tư vấn, nộp tại Sở Khoa học và Công nghệ tỉnh Lâm Viên.
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory, embedder):
    kb, data = indexed_sample(tmp_path_factory.mktemp("admin"), embedder)
    api = FakeBotAPI()
    url = api.start()
    api.add_private_user(OWNER, first_name="Lan")
    api.add_private_user(ADMIN, first_name="Hoa")
    api.add_private_user(OWNER2, first_name="Hùng")
    api.add_group(GROUP, "Chuyên gia Trung tâm")
    proc_env = bot_env(
        api,
        url,
        kb,
        data,
        CONSULTANTS_CHAT_ID=str(GROUP),
        ADMIN_IDS=str(ADMIN),
        MAX_FILE_MB=str(MAX_MB),
        WORKING_HOURS="00:00-24:00",
        WORKING_DAYS="1-7",
    )
    # The admin is also a consultant: during a consultation their files are relayed, not indexed.
    add_consultant(proc_env, ADMIN, "Hoa", "process")
    # The log goes to a file: a pipe nobody reads would stall the bot once full.
    with running_bot(api, proc_env, data / "bot.log"):
        yield api, kb


def upload(api, name: str, data: bytes, caption: str | None = None) -> dict:
    """Send a file as the admin; return the bot's reply once it holds the outcome (✅ or ❌)."""
    upd = api.send_document(ADMIN, name, data, caption=caption)
    return api.wait_for_message(
        ADMIN, after=upd, timeout=90, predicate=lambda r: (r["text"] or "").startswith(("✅", "❌", "⏳"))
    )


def docx_bytes() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Quy trình Kaizen tại xưởng mộc", 0)
    document.add_paragraph("Kaizen là cải tiến nhỏ và liên tục do chính công nhân đề xuất mỗi tuần tại xưởng mộc.")
    document.add_heading("Bảng đề xuất", 1)
    document.add_paragraph("Mỗi đề xuất ghi vấn đề, giải pháp và người phụ trách trên bảng Kaizen.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_owner_is_not_an_admin(env):
    api, kb = env
    before = sorted(p.name for p in kb.rglob("*"))
    for command in ("/kb", "/reindex", "/stats", "/kb_remove ip-patent"):
        upd = api.send_command(OWNER, command)
        api.wait_for_message(OWNER, contains="chỉ dành cho quản trị viên", after=upd, timeout=30)
    upd = api.send_document(OWNER, "tai-lieu.md", GUIDE.encode())
    api.wait_for_message(OWNER, contains="chỉ đọc được tin nhắn chữ", after=upd, timeout=30)
    assert sorted(p.name for p in kb.rglob("*")) == before
    assert not api.calls_to("sendPhoto") and not api.calls_to("sendDocument")
    # The gap staff will fill: the bot cannot answer this yet.
    upd = api.send_text(OWNER, QUESTION)
    reply = api.wait_for_message(OWNER, after=upd, timeout=60, predicate=lambda r: "45 triệu" not in r["text"])
    assert "chưa có thông tin" in reply["text"]


def test_upload_every_format(env):
    api, kb = env
    done = upload(api, "Hỗ trợ Lâm Viên.md", GUIDE.encode())
    assert "✅ Đã thêm «Hỗ trợ đổi mới công nghệ tỉnh Lâm Viên»" in done["text"] and "2 đoạn" in done["text"]
    assert next(e["text"] for e in done["edits"]).startswith("🔄")  # progress, then the result
    assert (kb / "funding" / "Hỗ-trợ-Lâm-Viên.md").exists()

    txt = "Bảo trì phòng ngừa\n\nMáy ép cần được kiểm tra dầu thủy lực mỗi 250 giờ chạy máy.\n"
    assert "✅" in upload(api, "bao-tri.txt", txt.encode(), caption="process")["text"]
    assert (kb / "process" / "bao-tri.txt").exists()
    html_doc = (
        "<html><head><title>Mã số mã vạch</title></head><body><h1>Mã số mã vạch</h1>"
        "<p>Doanh nghiệp đăng ký mã số mã vạch GS1 tại Tổng cục Tiêu chuẩn Đo lường Chất lượng.</p>"
        "<script>alert(1)</script></body></html>"
    )
    assert "✅" in upload(api, "ma-vach.html", html_doc.encode())["text"]
    reply = upload(api, "kaizen.docx", docx_bytes(), caption="process")
    assert "«Quy trình Kaizen tại xưởng mộc»" in reply["text"]
    pdf = make_pdf(
        [
            "Huong dan danh gia trinh do cong nghe cho doanh nghiep che bien go.",
            "Doanh nghiep tu danh gia theo bo tieu chi gom 5 nhom.",
        ]
    )
    assert "✅" in upload(api, "danh-gia.pdf", pdf, caption="tech_transfer")["text"]
    assert (kb / "tech_transfer" / "danh-gia.pdf").exists()

    refused = upload(api, "hong.pdf", b"%PDF-1.4\nnot really a pdf")
    assert "Không đọc được «hong.pdf»" in refused["text"]
    downloads = len(api.calls_to("getFile"))
    big = upload(api, "lon.txt", b"x" * int(MAX_MB * 1024 * 1024 * 2))
    assert "lớn hơn giới hạn 0.06 MB" in big["text"]
    assert len(api.calls_to("getFile")) == downloads  # refused before downloading
    sheet = upload(api, "bang-gia.xlsx", b"PK\x03\x04 not indexed")
    assert "định dạng .xlsx chưa được hỗ trợ" in sheet["text"]
    dup = upload(api, "ban-sao.md", GUIDE.encode())
    assert "trùng với tài liệu đã có" in dup["text"]
    names = {p.name for p in kb.rglob("*") if p.is_file()}
    assert not names & {"hong.pdf", "lon.txt", "bang-gia.xlsx", "ban-sao.md"}
    assert api.errors() == []


def test_answered_from_the_upload_without_restart(env):
    api, _ = env
    upd = api.send_text(OWNER, QUESTION)
    answer = api.wait_for_message(OWNER, contains="45 triệu", after=upd, timeout=60)
    assert "Hỗ trợ đổi mới công nghệ tỉnh Lâm Viên" in answer["text"]


def test_replace_and_reindex_with_progress(env):
    api, kb = env
    newer = upload(api, "Hỗ trợ Lâm Viên.md", GUIDE.replace("45 triệu", "60 triệu").encode())
    assert "Đã thay" in newer["text"] and "bản cũ đã bị xoá" in newer["text"]
    upd = api.send_text(OWNER, QUESTION)
    answer = api.wait_for_message(OWNER, contains="60 triệu", after=upd, timeout=60)
    assert "45 triệu" not in answer["text"]

    # Staff also edit the folder directly; /reindex picks the changes up. The indexer embeds whole
    # documents in groups of at least 256 chunks: 260 + 40 chunks make two progress steps.
    (kb / "startup").mkdir(exist_ok=True)
    for part, steps in ((1, range(1, 261)), (2, range(261, 301))):
        sections = "\n\n".join(
            f"## Bước {n}\n\nVườn ươm khởi nghiệp hướng dẫn bước {n} của kế hoạch kinh doanh." for n in steps
        )
        (kb / "startup" / f"vuon-uom-{part}.md").write_text(f"# Vườn ươm {part}\n\n{sections}\n", encoding="utf-8")
    (kb / "funding" / "old-opposition.md").unlink()
    upd = api.send_command(ADMIN, "/reindex")
    start = api.wait_for_message(ADMIN, contains="Đang cập nhật chỉ mục", after=upd, timeout=30)
    final = api.wait_for_edit(ADMIN, start["message_id"], contains="xong", timeout=180)
    steps = [e["text"] for e in final["edits"]]
    assert "đã nhúng 260/300 đoạn" in steps[0] and "đã nhúng 300/300 đoạn" in steps[1] and len(steps) == 3
    assert "thêm 2" in final["text"] and "xoá 1" in final["text"] and "300 đoạn được nhúng" in final["text"]
    assert "startup/vuon-uom-1.md" in final["text"] and "funding/old-opposition.md" in final["text"]


def test_status_list_and_remove(env):
    api, kb = env
    upd = api.send_command(ADMIN, "/kb")
    status = api.wait_for_message(ADMIN, contains="Kho tài liệu", after=upd, timeout=30)
    assert "Cần rà soát" in status["text"] and "ip/patent.md" in status["text"]  # last reviewed in 2024
    assert "Tệp lỗi: không có" in status["text"]

    upd = api.send_command(ADMIN, "/kb_list")
    listing = api.wait_for_message(ADMIN, contains="Tài liệu", after=upd, timeout=30)
    doc_id = "funding-ho-tro-lam-vien"
    assert doc_id in listing["text"] and "Quy trình Kaizen tại xưởng mộc" in listing["text"]

    upd = api.send_command(ADMIN, "/kb_remove khong-co")
    api.wait_for_message(ADMIN, contains="Không tìm thấy", after=upd, timeout=30)
    upd = api.send_command(ADMIN, f"/kb_remove {doc_id}")
    confirm = api.wait_for_message(ADMIN, contains="khỏi kho?", after=upd, timeout=30)
    labels = dict(api.buttons(confirm))
    assert set(labels) == {"🗑 Xoá", "Huỷ"} and all(len(d.encode()) <= 64 for d in labels.values())
    qid = api.press_button(ADMIN, confirm, text="🗑 Xoá")
    api.wait_for_callback_answer(qid, timeout=30)
    api.wait_for_edit(ADMIN, confirm["message_id"], contains="Đã xoá", timeout=60)
    assert not (kb / "funding" / "Hỗ-trợ-Lâm-Viên.md").exists()
    upd = api.send_text(OWNER, QUESTION)
    reply = api.wait_for_message(OWNER, after=upd, timeout=60)
    # Never cited again: the bot says its documents have nothing on the province (naming it, as asked).
    assert "triệu" not in reply["text"] and "Hỗ trợ đổi mới công nghệ tỉnh Lâm Viên" not in reply["text"]
    assert "chưa có thông tin" in reply["text"]


def test_admin_consultant_relays_files_during_a_consultation(env):
    api, kb = env
    upd = api.send_text(OWNER2, "5S gồm những gì?")
    answer = api.wait_for_message(OWNER2, contains="[1]", after=upd, timeout=60)
    api.wait_for_callback_answer(api.press_button(OWNER2, answer, callback_data="human"), timeout=30)
    intake = api.wait_for_message(OWNER2, contains="tên doanh nghiệp", after=answer, timeout=30)
    upd = api.send_text(OWNER2, "Xưởng gỗ Hùng Anh, Nam Định")
    card = api.wait_for_message(
        GROUP, contains="Yêu cầu #", after=upd, timeout=30, predicate=lambda r: bool(r["reply_markup"])
    )
    (claim,) = [data for label, data in api.buttons(card) if "Nhận" in label]
    api.wait_for_callback_answer(api.press_button(ADMIN, card, callback_data=claim), timeout=30)
    api.wait_for_message(ADMIN, contains="5S gồm những gì?", after=intake, timeout=30)

    before = sorted(p.as_posix() for p in kb.rglob("*"))
    pdf = make_pdf(["Bang phi tu van 5S cho xuong go nam 2026."])
    upd = api.send_document(ADMIN, "bang-phi.pdf", pdf, caption="Bảng phí")
    relayed = api.wait_for_message(OWNER2, after=upd, timeout=30, predicate=lambda r: r["kind"] == "document")
    assert api.file_bytes(relayed["message"]["document"]["file_id"]) == pdf
    assert sorted(p.as_posix() for p in kb.rglob("*")) == before
    assert not [m for m in api.messages(ADMIN) if m["received_at"] > api.injected_at(upd) and "📥" in m["text"]]

    upd = api.send_command(ADMIN, "/close")
    rating = api.wait_for_message(OWNER2, contains="đánh giá", after=upd, timeout=30)
    five = [data for _, data in api.buttons(rating)][-1]
    api.press_button(OWNER2, rating, callback_data=five)
    api.wait_for_edit(OWNER2, rating["message_id"], contains="5/5", timeout=30)
    # The consultation is over: the admin's next file goes to the knowledge base again.
    assert "✅" in upload(api, "bang-phi.pdf", pdf, caption="process")["text"]


def test_reports(env):
    api, _ = env
    upd = api.send_command(ADMIN, "/gaps")
    gaps = api.wait_for_message(ADMIN, contains="chưa đáp ứng", after=upd, timeout=90)
    assert QUESTION in gaps["text"] and "chưa có tài liệu 2" in gaps["text"]
    assert gaps["text"].index("5S gồm những gì?") < gaps["text"].index(QUESTION)  # newest first
    assert "chuyển chuyên gia 1" in gaps["text"]

    upd = api.send_command(ADMIN, "/stats")
    text = api.wait_for_message(ADMIN, contains="Thống kê 30 ngày", after=upd, timeout=60)
    assert "Câu hỏi: 5 từ 2 người dùng" in text["text"] and "👍 0 / 👎 0" in text["text"]
    assert "Chuyển chuyên gia: 1 · chờ nhận (trung vị): 0 phút" in text["text"]
    assert "Đánh giá trung bình: 5,0/5 (1 lượt)" in text["text"]
    photo = api.wait_for_message(ADMIN, after=upd, timeout=60, predicate=lambda r: r["kind"] == "photo")
    assert "30 ngày" in photo["caption"]
    png = [f for f in api.uploaded_files() if f["kind"] == "photo"][-1]["data"]
    assert png[:8] == b"\x89PNG\r\n\x1a\n"

    today = dt.date.today()
    upd = api.send_command(ADMIN, f"/export {today - dt.timedelta(days=1)} {today + dt.timedelta(days=1)}")
    api.wait_for_message(ADMIN, contains="Đã xuất dữ liệu", after=upd, timeout=60)
    files = {f["file_name"]: f["data"] for f in api.uploaded_files() if f["kind"] == "document"}
    name = next(n for n in files if n.startswith("conversations-") and "raw" not in n)
    rows = list(csv.DictReader(io.StringIO(files[name].decode("utf-8-sig"))))
    assert QUESTION in {r["text"] for r in rows}
    assert str(OWNER) not in files[name].decode("utf-8-sig") and {r["user"][:2] for r in rows} == {"u_"}
    upd = api.send_command(ADMIN, "/export 2026-13-01 2026-01-01")
    api.wait_for_message(ADMIN, contains="Cách dùng: /export", after=upd, timeout=30)
    assert api.errors() == []
