"""Technology needs end to end: the real `python -m bot run` process against the fake Bot API. An owner fills in
the form with a crash and restart of the bot in the middle, gets the matched programmes with citations, sends
the profile to the consultants (the card shows it), a consultant notes it, an admin exports it as XLSX, a
stranger gets no export, and /forget removes it."""

from __future__ import annotations

import io
import re
import time

import pytest
from openpyxl import load_workbook

from tests.support.botapi import FakeBotAPI
from tests.workspace import add_consultant, bot_env, indexed_sample, running_bot

pytestmark = pytest.mark.slow
OWNER, CONS, STRANGER, ADMIN = 1001, 2001, 3001, 9001
GROUP = -1001234567890


@pytest.fixture(scope="module")
def world(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("needs")
    kb, data = indexed_sample(root, embedder)
    api = FakeBotAPI()
    url = api.start()
    for uid, name in ((OWNER, "Lan"), (CONS, "Minh"), (STRANGER, "Tèo"), (ADMIN, "Quản trị")):
        api.add_private_user(uid, first_name=name)
    api.add_group(GROUP, "Chuyên gia Trung tâm")
    env = bot_env(
        api,
        url,
        kb,
        data,
        CONSULTANTS_CHAT_ID=str(GROUP),
        ADMIN_IDS=str(ADMIN),
        WORKING_HOURS="00:00-24:00",
        WORKING_DAYS="1-7",
        EXPORT_SECRET="e2e",
    )
    add_consultant(env, CONS, "Minh", "tech_transfer")
    with running_bot(api, env, root / "bot.log") as bot:
        yield api, bot


def data_of(api, message, suffix: str) -> str:
    return next(d for _, d in api.buttons(message) if d and d.endswith(suffix))


def ask(api, after, contains: str, timeout: float = 20):
    return api.wait_for_message(OWNER, contains=contains, after=after, timeout=timeout)


def test_owner_fills_in_the_form_across_a_restart(world):
    api, bot = world
    upd = api.send_command(OWNER, "/start")
    start = api.wait_for_message(OWNER, contains="Xin chào", after=upd, timeout=30)
    data = next(d for label, d in api.buttons(start) if "nhu cầu" in label)
    api.press_button(OWNER, start, callback_data=data)
    q1 = ask(api, start, "Câu 1/12")
    assert "Đăng ký nhu cầu công nghệ" in q1["text"]

    upd = api.send_text(OWNER, "Công ty TNHH Cơ khí Lúa Vàng")
    q2 = ask(api, upd, "Câu 2/12")
    assert len([b for b in api.buttons(q2) if ":province:" in (b[1] or "")]) == 34
    api.press_button(OWNER, q2, text="Nghệ An")
    q3 = ask(api, q2, "Câu 3/12")
    api.wait_for_edit(OWNER, q2["message_id"], contains="tỉnh/thành", timeout=15)  # its buttons went
    api.press_button(OWNER, q3, callback_data=data_of(api, q3, ":sector:C"))
    q4 = ask(api, q3, "Câu 4/12")
    upd = api.send_text(OWNER, "25 người")
    ask(api, upd, "Câu 5/12")
    upd = api.send_text(OWNER, "12 tỷ")
    q7 = ask(api, upd, "Câu 7/12")  # 12 billion decides the size class: no capital question
    assert q4 and "Hiện trạng công nghệ" in q7["text"]

    time.sleep(0.3)
    bot.stop(kill=True)  # a crash: its last updates may come again after the restart
    bot.start()

    api.press_button(OWNER, q7, callback_data=data_of(api, q7, ":tech:t:eq_old"))
    api.wait_for_edit(OWNER, q7["message_id"], contains="Hiện trạng", timeout=20)
    api.wait_until(lambda: any("☑" in label for label, _ in api.buttons(api.get_message(OWNER, q7["message_id"]))))
    api.press_button(OWNER, q7, callback_data=data_of(api, q7, ":tech:done"))
    q8 = ask(api, q7, "Câu 8/12")
    api.press_button(OWNER, q8, callback_data=data_of(api, q8, ":needs:t:technology"))
    api.wait_until(lambda: any("☑" in label for label, _ in api.buttons(api.get_message(OWNER, q8["message_id"]))))
    api.press_button(OWNER, q8, callback_data=data_of(api, q8, ":needs:done"))
    ask(api, q8, "Câu 9/12")
    upd = api.send_text(OWNER, "Máy đóng gói cũ, muốn tự động hóa khâu đóng gói")
    q10 = ask(api, upd, "Câu 10/12")
    api.press_button(OWNER, q10, callback_data=data_of(api, q10, ":urgency:soon"))
    q11 = ask(api, q10, "Câu 11/12")
    upd = api.send_text(OWNER, "0912 345 678")
    q12 = ask(api, upd, "Câu 12/12")
    api.press_button(OWNER, q12, callback_data=data_of(api, q12, ":consent:all"))
    review = ask(api, q12, "Kiểm tra hồ sơ")
    for part in ("Lúa Vàng", "Nghệ An", "25 người", "12 tỷ đồng", "Thiết bị chính đã dùng trên 10 năm", "0912 345 678"):
        assert part in review["text"], part
    assert q11
    # Every question was sent once, though the crash may have delivered an answer twice.
    for n in range(1, 13):
        if n == 6:
            continue
        assert sum(f"Câu {n}/12" in (m["text"] or "") for m in api.messages(OWNER)) == 1, n

    api.press_button(OWNER, review, callback_data=data_of(api, review, ":submit"))
    matched = ask(api, review, "Đã lưu hồ sơ nhu cầu công nghệ")
    text = matched["text"]
    assert "Quy mô: doanh nghiệp nhỏ [1]" in text
    assert "Hỗ trợ tư vấn chuyển giao công nghệ (Nghị định 80/2021) [2]" in text
    assert "không quá 100 triệu đồng/hợp đồng/năm" in text
    assert "Quỹ Đổi mới công nghệ quốc gia (NATIF)" in text and "cần kiểm tra" in text
    assert "[1] Nghị định 80/2021/NĐ-CP, Điều 5" in text and "[2] Nghị định 80/2021/NĐ-CP, Điều 11" in text
    assert "Nghị định 77/2026/NĐ-CP" in text
    assert any("chuyên gia" in label for label, _ in api.buttons(matched))


def test_the_profile_goes_to_the_consultants(world):
    api, _ = world
    matched = api.wait_for_message(OWNER, contains="Đã lưu hồ sơ nhu cầu công nghệ", timeout=5)
    pid = int(re.search(r"#(\d+)", matched["text"]).group(1))
    api.press_button(OWNER, matched, callback_data=data_of(api, matched, ":send"))
    card = api.wait_for_message(
        GROUP, contains="Yêu cầu #", after=matched, timeout=20, predicate=lambda r: bool(r["reply_markup"])
    )
    for part in (
        f"Hồ sơ nhu cầu công nghệ #{pid}",
        "Chuyển giao công nghệ",  # routed by the need's topic
        "Lúa Vàng",
        "Nghệ An",
        "C · Công nghiệp chế biến, chế tạo",
        "Đổi mới công nghệ, thiết bị",
        "Máy đóng gói cũ",
        "0912 345 678",
        "Hỗ trợ tư vấn chuyển giao công nghệ",
        "hồ sơ nhu cầu công nghệ (/nhucau)",
    ):
        assert part in card["text"], part
    assert any("Nhận" in label for label, _ in api.buttons(card))
    assert any(e["type"] == "text_mention" and e["user"]["id"] == CONS for e in card["entities"])
    api.wait_for_message(OWNER, contains="Đã gửi yêu cầu", after=matched, timeout=15)

    upd = api.send_command(CONS, f"/needs_note {pid} Đã gọi điện, hẹn khảo sát nhà xưởng")
    api.wait_for_message(CONS, contains=f"Đã ghi chú vào hồ sơ #{pid}", after=upd, timeout=15)
    upd = api.send_command(CONS, f"/needs_status {pid} contacted")
    api.wait_for_message(CONS, contains="đã liên hệ", after=upd, timeout=15)
    upd = api.send_command(CONS, f"/needs_show {pid}")
    shown = api.wait_for_message(CONS, contains=f"Hồ sơ nhu cầu #{pid}", after=upd, timeout=15)
    assert "hẹn khảo sát" in shown["text"]
    upd = api.send_command(STRANGER, f"/needs_note {pid} xem trộm")
    api.wait_for_message(STRANGER, contains="dành cho chuyên gia", after=upd, timeout=15)


def test_admin_exports_and_a_stranger_does_not(world):
    api, _ = world
    upd = api.send_command(STRANGER, "/needs_export")
    api.wait_for_message(STRANGER, contains="chỉ dành cho quản trị viên", after=upd, timeout=15)
    upd = api.send_command(STRANGER, "/needs")
    barrier = api.wait_for_message(STRANGER, contains="chỉ dành cho quản trị viên", after=upd, timeout=15)
    assert not [m for m in api.messages(STRANGER) if m["kind"] in ("document", "photo")]
    assert barrier

    upd = api.send_command(ADMIN, "/needs")
    stats = api.wait_for_message(ADMIN, contains="Cơ sở dữ liệu nhu cầu công nghệ", after=upd, timeout=30)
    assert "1 hồ sơ đã gửi" in stats["text"] and "Nghệ An 1" in stats["text"]
    api.wait_for_message(ADMIN, after=upd, timeout=30, predicate=lambda r: r["kind"] == "photo")

    upd = api.send_command(ADMIN, "/needs_export")
    api.wait_for_message(ADMIN, contains="Đã xuất 1 hồ sơ nhu cầu", after=upd, timeout=30)
    files = [
        f for f in api.uploaded_files() if f.get("kind") == "document" and (f.get("file_name") or "").endswith(".xlsx")
    ]
    assert len(files) == 1 and "raw" not in files[0]["file_name"]
    book = load_workbook(io.BytesIO(files[0]["data"]))
    rows = list(book["profiles"].iter_rows(values_only=True))
    row = dict(zip(rows[0], rows[1]))
    assert (row["company"], row["province"], row["sector"], row["size_class"]) == (
        "Công ty TNHH Cơ khí Lúa Vàng",
        "Nghệ An",
        "C",
        "small",
    )
    assert row["workflow_status"] == "contacted" and row["needs"] == "technology" and row["ticket_id"]
    assert row["user"].startswith("u_") and row["contact"] is None
    notes = list(book["notes"].iter_rows(values_only=True))
    assert "hẹn khảo sát" in notes[1][-1]
    assert str(OWNER) not in repr(list(book["profiles"].iter_rows(values_only=True)))

    upd = api.send_command(ADMIN, "/needs_export raw")
    api.wait_for_message(ADMIN, contains="mã Telegram thật", after=upd, timeout=30)
    raw = [
        f
        for f in api.uploaded_files()
        if f.get("kind") == "document" and (f.get("file_name") or "").endswith("-raw.xlsx")
    ]
    rows = list(load_workbook(io.BytesIO(raw[0]["data"]))["profiles"].iter_rows(values_only=True))
    assert dict(zip(rows[0], rows[1]))["user"] == OWNER


def test_forget_removes_the_profile(world):
    api, _ = world
    upd = api.send_command(OWNER, "/forget")
    confirm = api.wait_for_message(OWNER, contains="xoá", after=upd, timeout=15)
    api.press_button(OWNER, confirm, callback_data="forget:yes")
    api.wait_for_edit(OWNER, confirm["message_id"], contains="Đã xoá", timeout=15)
    upd = api.send_command(ADMIN, "/needs_export")
    api.wait_for_message(ADMIN, contains="Chưa có hồ sơ nhu cầu", after=upd, timeout=30)
    upd = api.send_command(OWNER, "/nhucau")
    api.wait_for_message(OWNER, contains="Câu 1/12", after=upd, timeout=15)  # a fresh form
