"""Model answers end to end: the real `python -m bot run` process against the fake Bot API.

An owner asks what the documents do not cover, a consultant answers and saves the conversation, an admin
approves, and another owner asking the same thing in other words gets the approved answer with no consultant.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.support.botapi import FakeBotAPI
from tests.workspace import add_consultant, bot_env, indexed_sample, running_bot

pytestmark = pytest.mark.slow
OWNER, OWNER2, CONS, STRANGER, ADMIN = 1001, 1002, 2001, 3001, 9001
GROUP = -1001234567890
QUESTION = "Xưởng dệt nhuộm của tôi xả nước thải ra sông thì cần xin giấy phép gì?"
ANSWER = "Cần giấy phép môi trường; hồ sơ nộp ở Sở Nông nghiệp và Môi trường, kèm báo cáo đề xuất cấp giấy phép."
PARAPHRASE = "xuong nhuom vai xa nuoc thai ra song phai xin giay phep gi vay"


@pytest.fixture(scope="module")
def world(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("answers")
    kb, data = indexed_sample(root, embedder)
    api = FakeBotAPI()
    url = api.start()
    for uid, name in ((OWNER, "Lan"), (OWNER2, "Hùng"), (CONS, "Minh"), (STRANGER, "Tèo"), (ADMIN, "Quản trị")):
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
    )
    add_consultant(env, CONS, "Minh", "ip,process")
    with running_bot(api, env, root / "bot.log"):
        yield api, env


def _button(api, message, label_part: str) -> str:
    return next(data for label, data in api.buttons(message) if label_part in label)


def _consultant_answers_and_saves(api, owner: int, question: str, answer: str) -> dict:
    """Owner asks, is told the documents do not cover it, asks for a person; the consultant answers, closes,
    saves; returns the draft message the consultant got."""
    upd = api.send_text(owner, question)
    reply = api.wait_for_message(owner, after=upd, timeout=60, predicate=lambda r: bool(r["reply_markup"]))
    human = _button(api, reply, "chuyên gia")
    api.press_button(owner, reply, callback_data=human)
    intake = api.wait_for_message(owner, contains="tên doanh nghiệp", after=upd, timeout=20)
    api.press_button(owner, intake, callback_data=_button(api, intake, "Bỏ qua"))
    card = api.wait_for_message(
        GROUP, contains="Yêu cầu #", after=intake, timeout=20, predicate=lambda r: bool(r["reply_markup"])
    )
    tid = int(re.search(r"#(\d+)", card["text"]).group(1))
    api.press_button(CONS, card, callback_data=_button(api, card, "Nhận"))
    api.wait_for_message(CONS, contains=f"Yêu cầu #{tid}", after=card, timeout=20)
    sent = api.send_text(CONS, answer)
    api.wait_for_message(owner, contains=answer[:30], after=sent, timeout=20)
    closed = api.send_command(CONS, "/close")
    ack = api.wait_for_message(CONS, contains=f"Đã đóng yêu cầu #{tid}", after=closed, timeout=20)
    api.press_button(CONS, ack, callback_data=_button(api, ack, "Lưu"))
    return api.wait_for_message(CONS, contains="Bản nháp câu trả lời mẫu", after=closed, timeout=20)


def test_a_consultants_answer_becomes_the_bots_answer(world):
    api, _ = world
    upd = api.send_text(STRANGER, QUESTION)  # before: the documents do not cover it
    before = api.wait_for_message(STRANGER, after=upd, timeout=60, predicate=lambda r: bool(r["reply_markup"]))
    assert "Chuyên gia trung tâm" not in before["text"]

    draft = _consultant_answers_and_saves(api, OWNER, QUESTION, ANSWER)
    assert "Lan" not in draft["text"] and "giấy phép" in draft["text"]
    api.press_button(CONS, draft, callback_data=_button(api, draft, "Gửi duyệt"))
    proposal = api.wait_for_message(ADMIN, contains="Đề xuất câu trả lời mẫu", after=draft, timeout=20)
    approve = _button(api, proposal, "Duyệt")

    forged = api.press_button(STRANGER, proposal, callback_data=approve)  # a stranger's press changes nothing
    assert "quyền" in api.wait_for_callback_answer(forged, timeout=15)["text"]
    forged = api.press_button(CONS, proposal, callback_data=approve)  # nor does the consultant's own
    assert "quyền" in api.wait_for_callback_answer(forged, timeout=15)["text"]

    api.press_button(ADMIN, proposal, callback_data=approve)
    api.wait_for_edit(ADMIN, proposal["message_id"], contains="Đã duyệt", timeout=20)
    api.wait_for_message(CONS, contains="đã được duyệt", after=proposal, timeout=20)

    upd = api.send_text(OWNER2, PARAPHRASE)  # another owner, other words, no diacritics
    answer = api.wait_for_message(OWNER2, after=upd, timeout=60, predicate=lambda r: bool(r["reply_markup"]))
    assert "Sở Nông nghiệp và Môi trường" in answer["text"]
    assert re.search(r"Chuyên gia trung tâm \(duyệt \d{2}/\d{4}\)", answer["text"])
    assert not [m for m in api.messages(GROUP) if m["received_at"] > api.injected_at(upd)]  # no consultant involved


def test_a_discarded_proposal_never_answers_and_a_retired_answer_stops(world):
    api, env = world
    question = "Doanh nghiệp chế biến gỗ muốn xin chứng chỉ FSC thì bắt đầu từ đâu?"
    draft = _consultant_answers_and_saves(api, OWNER, question, "Liên hệ tổ chức chứng nhận FSC được công nhận.")
    api.press_button(CONS, draft, callback_data=_button(api, draft, "Gửi duyệt"))
    proposal = api.wait_for_message(ADMIN, contains="Đề xuất câu trả lời mẫu", after=draft, timeout=20)
    api.press_button(ADMIN, proposal, callback_data=_button(api, proposal, "Bỏ"))
    api.wait_for_edit(ADMIN, proposal["message_id"], contains="Đã bỏ", timeout=20)
    upd = api.send_text(OWNER2, "che bien go muon xin chung chi FSC bat dau tu dau")
    reply = api.wait_for_message(OWNER2, after=upd, timeout=60, predicate=lambda r: bool(r["reply_markup"]))
    assert "tổ chức chứng nhận FSC" not in reply["text"]

    listed = subprocess.run(
        [sys.executable, "-m", "bot", "answers", "list", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    approved = [a for a in json.loads(listed.stdout) if a["status"] == "approved"]
    assert approved
    upd = api.send_command(ADMIN, "/answers")
    listing = api.wait_for_message(ADMIN, contains="Câu trả lời mẫu", after=upd, timeout=20)
    api.press_button(ADMIN, listing, callback_data=_button(api, listing, "Ngừng dùng"))
    api.wait_for_edit(ADMIN, listing["message_id"], contains="không còn được dùng", timeout=20)
    upd = api.send_text(OWNER2, PARAPHRASE)
    reply = api.wait_for_message(OWNER2, after=upd, timeout=60, predicate=lambda r: bool(r["reply_markup"]))
    assert "Chuyên gia trung tâm" not in reply["text"]  # retired: it stops at once
