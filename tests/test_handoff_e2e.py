"""Handoff end to end: the real `python -m bot run` process against the fake Bot API, with owners, consultants,
a stranger, an admin and the consultants' group. The tests run in order and share one bot (restarted once)."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.support.botapi import FakeBotAPI
from tests.workspace import add_consultant, bot_env, indexed_sample, running_bot

pytestmark = pytest.mark.slow
OWNER, OWNER2, CONS, CONS2, STRANGER, ADMIN = 1001, 1002, 2001, 2002, 3001, 9001
GROUP = -1001234567890
REANNOUNCE_SECONDS = 3.6


@pytest.fixture(scope="module")
def world(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("handoff")
    kb, data = indexed_sample(root, embedder)
    api = FakeBotAPI()
    url = api.start()
    for uid, name in (
        (OWNER, "Lan"),
        (OWNER2, "Hùng"),
        (CONS, "Minh"),
        (CONS2, "Hà"),
        (STRANGER, "Tèo"),
        (ADMIN, "Quản trị"),
    ):
        api.add_private_user(uid, first_name=name)
    api.add_group(GROUP, "Chuyên gia Trung tâm")
    env = bot_env(
        api,
        url,
        kb,
        data,
        CONSULTANTS_CHAT_ID=str(GROUP),
        ADMIN_IDS=str(ADMIN),
        REANNOUNCE_MINUTES=str(REANNOUNCE_SECONDS / 60),
        WORKING_HOURS="00:00-24:00",
        WORKING_DAYS="1-7",
        HANDOFF_RESPONSE_MINUTES="45",
    )
    add_consultant(env, CONS, "Minh", "ip,tech_transfer")
    with running_bot(api, env, root / "bot.log") as bot:
        yield api, bot, env


def card_for(api, after, timeout=20):
    card = api.wait_for_message(
        GROUP, contains="Yêu cầu #", after=after, timeout=timeout, predicate=lambda r: bool(r["reply_markup"])
    )
    return card, int(re.search(r"#(\d+)", card["text"]).group(1))


def outbox_settled(env, chat_id, timeout=15.0) -> None:
    """Barrier: wait until the bot's outbox holds nothing undelivered for the chat (read from its database)."""
    db = Path(env["DATA_DIR"]) / "bot.sqlite3"
    deadline = time.monotonic() + timeout
    while True:
        with closing(sqlite3.connect(db, timeout=5)) as conn:
            pending = conn.execute(
                "SELECT count(*) FROM handoff_outbox WHERE chat_id = ? AND done = 0", (chat_id,)
            ).fetchone()[0]
        if not pending:
            return
        assert time.monotonic() < deadline, f"{pending} outbox rows for {chat_id} still undelivered"
        time.sleep(0.05)


def quiet_since(api, env, chat_id, update):
    """Nothing at all reached the chat (no message, no 'typing') because of the update.

    A barrier instead of a pause: the chat's own /help is answered only after the update was handled (each
    sender's updates are processed in order), and then the outbox must hold nothing undelivered for the chat.
    """
    barrier = api.send_command(chat_id, "/help")
    api.wait_for_message(chat_id, contains="Cách dùng", after=barrier, timeout=15)
    outbox_settled(env, chat_id)
    since, until = api.injected_at(update), api.injected_at(barrier)
    sent = [m for m in api.messages(chat_id) if m["received_at"] > since and "Cách dùng" not in (m["text"] or "")]
    actions = [a for a in api.chat_actions(chat_id) if since < a["at"] < until]
    return not sent and not actions


def relay(api, sender, receiver, text, label):
    upd = api.send_text(sender, text)
    got = api.wait_for_message(receiver, contains=text, after=upd, timeout=20)
    assert label in got["text"]
    return upd, got


def test_consultants_registered_by_cli_and_admin(world):
    api, _, env = world
    upd = api.send_command(ADMIN, "/consultant_add 2002 process,funding Hà")
    api.wait_for_message(ADMIN, contains="Đã thêm chuyên gia Hà", after=upd, timeout=15)
    upd = api.send_command(STRANGER, "/consultant_add 3001 ip Tèo")
    api.wait_for_message(STRANGER, contains="quản trị viên", after=upd, timeout=15)
    upd = api.send_command(CONS, "/consultants")
    listing = api.wait_for_message(CONS, contains="Chuyên gia", after=upd, timeout=15)
    assert "Minh" in listing["text"] and "Hà" in listing["text"]
    out = subprocess.run(
        [sys.executable, "-m", "bot", "consultants", "list", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert {c["telegram_id"] for c in json.loads(out.stdout)} == {CONS, CONS2}


def test_full_flow_question_card_claim_relay_close_rating(world):
    api, _, env = world
    upd = api.send_text(OWNER, "nhan hieu duoc bao ho bao lau")
    answer = api.wait_for_message(OWNER, contains="10 năm", after=upd, timeout=30)
    assert any("chuyên gia" in label for label, _ in api.buttons(answer))
    api.wait_for_callback_answer(api.press_button(OWNER, answer, callback_data="human"), timeout=15)
    intake = api.wait_for_message(OWNER, contains="tên doanh nghiệp", after=answer, timeout=15)
    upd = api.send_text(OWNER, "Công ty TNHH Lúa Vàng, Thái Bình")
    card, tid = card_for(api, upd)
    queued = api.wait_for_message(OWNER, contains=f"#{tid}", after=intake, timeout=15)
    assert "vị trí số 1" in queued["text"] and "45 phút" in queued["text"]
    assert "Sở hữu trí tuệ" in card["text"] and "Lúa Vàng" in card["text"]
    assert "nhan hieu duoc bao ho bao lau" in card["text"]
    assert [label for label, _ in api.buttons(card)] == ["✋ Nhận yêu cầu"]
    assert any(e["type"] == "text_mention" and e["user"]["id"] == CONS for e in card["entities"])

    qid = api.press_button(STRANGER, card, callback_data=f"hc:{tid}")
    refused = api.wait_for_callback_answer(qid, timeout=15)
    assert "đã đăng ký" in refused["text"] and refused["show_alert"]
    assert api.buttons(api.get_message(GROUP, card["message_id"]))  # still claimable
    qid = api.press_button(CONS, card, callback_data=f"hc:{tid}")
    api.wait_for_callback_answer(qid, timeout=15)
    edited = api.wait_for_edit(GROUP, card["message_id"], contains="Minh đã nhận", timeout=15)
    assert not api.buttons(edited)
    transcript = api.wait_for_message(CONS, contains=f"Yêu cầu #{tid}", timeout=15)
    assert "nhan hieu duoc bao ho bao lau" in transcript["text"] and "10 năm" in transcript["text"]
    api.wait_for_message(OWNER, contains="Minh", after=queued, timeout=15)

    upd, _ = relay(api, OWNER, CONS, "Đăng ký ở Mỹ thì chi phí khoảng bao nhiêu?", "Lan")
    assert quiet_since(api, env, OWNER, upd), (
        "the bot must stay silent to the owner while a consultant holds the ticket"
    )
    upd, _got = relay(api, CONS, OWNER, "Khoảng 1.000 USD, tôi gửi bảng phí sau.", "Minh")

    data = b"%PDF-1.4 fake contract"
    upd = api.send_document(OWNER, "hop-dong.pdf", data, caption="Hợp đồng mẫu")
    doc = api.wait_for_message(CONS, after=upd, timeout=15, predicate=lambda r: r["kind"] == "document")
    assert "Lan" in doc["caption"] and "Hợp đồng mẫu" in doc["caption"]
    assert api.file_bytes(doc["message"]["document"]["file_id"]) == data
    assert quiet_since(api, env, OWNER, upd)
    upd = api.send_photo(CONS, caption="Bảng phí")
    photo = api.wait_for_message(OWNER, after=upd, timeout=15, predicate=lambda r: r["kind"] == "photo")
    assert "Minh" in photo["caption"] and "Bảng phí" in photo["caption"]
    fees = b"%PDF-1.4 fee table"
    upd = api.send_document(CONS, "bang-phi.pdf", fees, caption="Bảng phí chi tiết")
    doc = api.wait_for_message(OWNER, after=upd, timeout=15, predicate=lambda r: r["kind"] == "document")
    assert "Minh" in doc["caption"] and "Bảng phí chi tiết" in doc["caption"]
    assert api.file_bytes(doc["message"]["document"]["file_id"]) == fees
    assert doc["message"]["document"]["file_name"] == "bang-phi.pdf"

    upd = api.send_command(CONS, "/close")
    rating = api.wait_for_message(OWNER, contains="đánh giá", after=upd, timeout=15)
    assert [d for _, d in api.buttons(rating)] == [f"hv:{tid}:{n}" for n in range(1, 6)]
    api.wait_for_message(CONS, contains=f"Đã đóng yêu cầu #{tid}", after=upd, timeout=15)
    api.wait_for_edit(GROUP, card["message_id"], contains="Đã đóng", timeout=15)
    api.press_button(OWNER, rating, callback_data=f"hv:{tid}:5")
    api.wait_for_edit(OWNER, rating["message_id"], contains="5/5", timeout=15)
    api.wait_for_message(CONS, contains="5/5", after=upd, timeout=15)
    upd = api.send_text(OWNER, "bằng sáng chế có hiệu lực bao lâu")  # the bot answers again
    api.wait_for_message(OWNER, contains="20 năm", after=upd, timeout=30)


def test_concurrent_claims_then_transfer(world):
    api, _, env = world
    upd = api.send_command(OWNER2, "/human")
    intake = api.wait_for_message(OWNER2, contains="tên doanh nghiệp", after=upd, timeout=15)
    skip = next(d for _, d in api.buttons(intake) if d.startswith("hs:"))
    api.press_button(OWNER2, intake, callback_data=skip)
    card, tid = card_for(api, intake)
    q1 = api.press_button(CONS, card, callback_data=f"hc:{tid}")
    q2 = api.press_button(CONS2, card, callback_data=f"hc:{tid}")
    answers = {CONS: api.wait_for_callback_answer(q1, timeout=15), CONS2: api.wait_for_callback_answer(q2, timeout=15)}
    winners = [c for c, a in answers.items() if not a["show_alert"]]
    assert len(winners) == 1, answers
    winner, loser = winners[0], ({CONS, CONS2} - set(winners)).pop()
    assert "nhận trước" in answers[loser]["text"]
    api.wait_for_message(winner, contains=f"Yêu cầu #{tid}", after=card, timeout=15)
    outbox_settled(env, loser)
    assert not [m for m in api.messages(loser) if f"Yêu cầu #{tid}" in (m["text"] or "")]
    name = {CONS: "Minh", CONS2: "Hà"}
    api.wait_for_edit(GROUP, card["message_id"], contains=f"{name[winner]} đã nhận", timeout=15)

    upd = api.send_command(winner, "/queue")
    listing = api.wait_for_message(winner, contains="Hàng chờ", after=upd, timeout=15)
    assert f"#{tid}" in listing["text"]
    upd = api.send_command(winner, "/transfer")
    options = api.wait_for_message(winner, contains=f"Chuyển yêu cầu #{tid}", after=upd, timeout=15)
    api.press_button(winner, options, callback_data=f"ht:{tid}:{loser}")
    api.wait_for_edit(winner, options["message_id"], contains=f"Đã chuyển yêu cầu #{tid}", timeout=15)
    api.wait_for_message(loser, contains="chuyển cho bạn", after=upd, timeout=15)
    api.wait_for_message(OWNER2, contains=f"chuyên gia <b>{name[loser]}".replace("<b>", ""), after=upd, timeout=15)
    upd, _ = relay(api, OWNER2, loser, "Cảm ơn chuyên gia mới", "Hùng")
    outbox_settled(env, winner)
    assert not [m for m in api.messages(winner) if "Cảm ơn chuyên gia mới" in (m["text"] or "")]
    upd = api.send_command(loser, f"/close {tid}")
    api.wait_for_message(OWNER2, contains="đánh giá", after=upd, timeout=15)


def test_cancel_while_waiting_and_stale_card(world):
    api, _, _ = world
    upd = api.send_command(OWNER, "/human")  # company known from the first request: no intake question
    card, tid = card_for(api, upd)
    queued = api.wait_for_message(OWNER, contains=f"#{tid}", after=upd, timeout=15)
    cancel = next(d for _, d in api.buttons(queued) if d.startswith("hx:"))
    api.press_button(OWNER, queued, callback_data=cancel)
    api.wait_for_message(OWNER, contains=f"Đã huỷ yêu cầu #{tid}", after=queued, timeout=15)
    api.wait_for_edit(GROUP, card["message_id"], contains="huỷ", timeout=15)
    qid = api.press_button(CONS, card, callback_data=f"hc:{tid}", check=False)  # pressed on a stale screen
    assert "huỷ" in api.wait_for_callback_answer(qid, timeout=15)["text"]


def test_reannounce_then_claim_and_several_tickets(world):
    api, _, _ = world
    upd = api.send_command(OWNER, "/human")
    card, tid = card_for(api, upd)
    reminder = api.wait_for_message(
        GROUP, contains=f"Nhắc lại:</b> yêu cầu #{tid}".replace("</b>", ""), after=card, timeout=REANNOUNCE_SECONDS + 15
    )
    assert api.buttons(reminder)
    api.wait_for_message(OWNER, contains="vẫn đang chờ", after=upd, timeout=15)
    api.press_button(CONS, reminder, callback_data=f"hc:{tid}")
    for message in (card, reminder):  # every card shows who took it
        api.wait_for_edit(GROUP, message["message_id"], contains="Minh đã nhận", timeout=15)

    # A second ticket for the same consultant: the stranger, as an owner who writes that they want a person.
    upd = api.send_text(STRANGER, "toi muon gap chuyen gia tu van truc tiep")
    intake = api.wait_for_message(STRANGER, contains="tên doanh nghiệp", after=upd, timeout=30)
    upd = api.send_text(STRANGER, "Hộ kinh doanh Tèo, Nam Định")
    card2, tid2 = card_for(api, upd)
    assert "khách muốn gặp người" in card2["text"]
    api.press_button(CONS, card2, callback_data=f"hc:{tid2}")
    api.wait_for_message(CONS, contains=f"Yêu cầu #{tid2}", after=card2, timeout=15)
    assert intake

    from_owner = relay(api, OWNER, CONS, "Anh xem giúp hồ sơ của tôi", "Lan")[1]
    upd = api.send_text(CONS, "Chào bạn, mình nhận được rồi")
    ask = api.wait_for_message(CONS, contains="Gửi tin nhắn này cho ai", after=upd, timeout=15)
    choice = next(d for label, d in api.buttons(ask) if "Tèo" in label)
    api.press_button(CONS, ask, callback_data=choice)
    api.wait_for_message(STRANGER, contains="Chào bạn, mình nhận được rồi", after=upd, timeout=15)
    upd = api.send_text(CONS, "Hồ sơ của anh đầy đủ", reply_to_message_id=from_owner["message_id"])
    api.wait_for_message(OWNER, contains="Hồ sơ của anh đầy đủ", after=upd, timeout=15)
    assert not [m for m in api.messages(STRANGER) if "Hồ sơ của anh" in (m["text"] or "")]
    upd = api.send_command(CONS, f"/close {tid2}")
    api.wait_for_message(STRANGER, contains="đánh giá", after=upd, timeout=15)


def test_restart_in_the_middle_of_a_relay(world):
    api, bot, env = world
    before = relay(api, OWNER, CONS, "Tin trước khi khởi động lại", "Lan")[0]
    upd = api.send_command(OWNER2, "/human")
    intake = api.wait_for_message(OWNER2, contains="tên doanh nghiệp", after=upd, timeout=15)
    upd = api.send_text(OWNER2, "Cty Hùng Phát, Hà Nam")
    _card, tid = card_for(api, upd)
    api.wait_for_message(OWNER2, contains=f"#{tid}", after=intake, timeout=15)
    for chat in (OWNER2, GROUP):  # the outbox has recorded what was sent; then the process dies without cleaning up
        outbox_settled(env, chat)
    bot.stop(kill=True)
    down_owner = api.send_text(OWNER, "Tin nhắn lúc bot tắt")
    down_cons = api.send_text(CONS, "Chuyên gia trả lời lúc bot tắt")
    restarted = time.monotonic()
    bot.start()
    api.wait_for_message(CONS, contains="Tin nhắn lúc bot tắt", after=down_owner, timeout=30)
    api.wait_for_message(OWNER, contains="Chuyên gia trả lời lúc bot tắt", after=down_cons, timeout=30)
    # The open ticket's re-announcement was rescheduled from the database.
    api.wait_for_message(GROUP, contains=f"yêu cầu #{tid} đã chờ", after=restarted, timeout=REANNOUNCE_SECONDS + 20)
    upd, _got = relay(api, CONS, OWNER, "Sau khởi động lại vẫn nói chuyện được", "Minh")
    for chat in (CONS, OWNER):
        outbox_settled(env, chat)
    for chat, text in (
        (CONS, "Tin trước khi khởi động lại"),
        (CONS, "Tin nhắn lúc bot tắt"),
        (OWNER, "Chuyên gia trả lời lúc bot tắt"),
    ):
        assert sum(text in (m["text"] or "") for m in api.messages(chat)) == 1, f"{text!r} lost or duplicated"
    assert (
        len([m for m in api.messages(GROUP) if f"Yêu cầu #{tid}" in (m["text"] or "") and "Nhắc lại" not in m["text"]])
        == 1
    )
    assert before and intake
    upd = api.send_command(CONS, "/close")
    api.wait_for_message(OWNER, contains="đánh giá", after=upd, timeout=15)


def test_blocked_owner_frees_the_consultant(world):
    api, _, _ = world
    card = api.wait_for(
        lambda r: "Yêu cầu #" in (r["text"] or "") and bool(r["reply_markup"]) and "Hùng Phát" in r["text"],
        chat_id=GROUP,
        timeout=5,
    )
    tid = int(re.search(r"#(\d+)", card["text"]).group(1))
    api.press_button(CONS2, card, callback_data=f"hc:{tid}")
    api.wait_for_message(CONS2, contains=f"Yêu cầu #{tid}", timeout=15)
    api.wait_for_message(OWNER2, contains=f"đã nhận yêu cầu #{tid}", timeout=15)
    api.block(OWNER2)
    upd = api.send_text(CONS2, "Chào anh Hùng")
    api.wait_for_message(CONS2, contains="đã chặn bot", after=upd, timeout=15)
    api.wait_for_edit(GROUP, card["message_id"], contains="chặn bot", timeout=15)
    upd = api.send_command(CONS2, "/close")
    api.wait_for_message(CONS2, contains="không phụ trách", after=upd, timeout=15)
    api.unblock(OWNER2)
    unexpected = [
        e for e in api.errors() if not (e["error_code"] == 403 and e["params"].get("chat_id") in (OWNER2, str(OWNER2)))
    ]
    assert unexpected == [], unexpected
