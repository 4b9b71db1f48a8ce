"""The handoff outbox: unreachable people and groups, leases, crashes, /forget, and Telegram's size limits."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from bot.handoff.core import Incoming
from bot.handoff.models import AuditLog, Outbox, Ticket
from tests.support.handoff_env import (
    ADMIN,
    GROUP,
    HA,
    MINH,
    OWNER,
    OWNER2,
    claim,
    converse,
    open_ticket,
    to,
)


def test_blocked_owner_and_unreachable_consultant(env):
    svc, store, tg = env
    t1, _ = open_ticket(svc, store, tg, OWNER)
    claim(svc, tg, t1)
    svc.unreachable(OWNER, "owner", t1)
    rows = tg.flush()
    assert "chặn bot" in to(rows, MINH)[0].text and any("chặn bot" in r.text for r in to(rows, GROUP))
    with svc.session() as s:
        assert s.get(Ticket, t1).status == "closed"
    assert not svc.on_consultant_message(Incoming(MINH, 70, MINH, "Minh", "alo")).handled

    t2, _ = open_ticket(svc, store, tg, OWNER2, "Hùng")
    claim(svc, tg, t2, HA)
    outcomes = svc.unreachable(HA, "consultant")
    assert [o.ticket_id for o in outcomes] == [t2] and outcomes[0].announce_at
    rows = tg.flush()
    assert "hàng chờ" in to(rows, OWNER2)[0].text
    new_card = next(r for r in to(rows, GROUP) if r.method == "send")
    assert "Hà" in new_card.text and new_card.buttons[0][0][1] == f"hc:{t2}"
    # An owner who blocks the bot while waiting: cancelled, not stuck in the queue.
    svc.unreachable(OWNER2, "owner")
    with svc.session() as s:
        assert s.get(Ticket, t2).status == "cancelled" and svc.active_ticket(s, OWNER2) is None


async def test_unreachable_group_alerts_admins_hourly_and_tells_waiting_owners(env, caplog):
    from types import SimpleNamespace

    from telegram.error import BadRequest

    from bot.telegram import handoff_delivery
    from bot.telegram.context import BotData

    svc, store, tg = env
    converse(store, OWNER, "Nhãn hiệu được bảo hộ bao lâu?")
    ticket_id = svc.request(OWNER, "Lan", "button", "q:group").ticket_id
    svc.skip_intake(OWNER, ticket_id)
    bot_data = BotData()
    bot_data.services = SimpleNamespace(handoff=svc)
    app = SimpleNamespace(bot_data=bot_data)
    card = svc.outbox.lease(GROUP)[0]
    with caplog.at_level("ERROR", logger="bot.telegram.handoff_delivery"):
        await handoff_delivery._failed(app, card, BadRequest("Chat not found"))
    assert any(r.levelname == "ERROR" and "consultants' group" in r.getMessage() for r in caplog.records)
    rows = tg.flush()
    alert = to(rows, ADMIN)
    assert len(alert) == 1 and "CONSULTANTS_CHAT_ID" in alert[0].text and "Chat not found" in alert[0].text
    told = [r for r in to(rows, OWNER) if "không liên lạc được" in r.text]
    assert len(told) == 1 and "Trung tâm" in told[0].text and told[0].buttons[0][0][1] == f"hx:{ticket_id}"

    # The re-announced card fails again: nobody is told twice within the hour.
    assert not svc.group_unreachable("Chat not found")
    assert not [r for r in tg.flush() if r.chat_id in (ADMIN, OWNER)]
    with svc.session.begin() as s:
        for a in s.scalars(select(AuditLog).where(AuditLog.action == "group_down_admins")):
            a.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=61)
    assert svc.group_unreachable("Chat not found")
    assert [r.chat_id for r in tg.flush()] == [ADMIN]


def test_outbox_lease_order_and_stale_rows(env):
    svc, store, tg = env
    ticket_id, _ = open_ticket(svc, store, tg, OWNER)
    svc.reannounce(ticket_id, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))  # a card waits in the outbox
    claim(svc, tg, ticket_id)  # ... and goes stale when the ticket is claimed first
    assert any(r.stale and r.purpose == "card" for r in tg.sent)
    svc.on_owner_message(Incoming(OWNER, 80, OWNER, "Lan", "một"))
    svc.on_owner_message(Incoming(OWNER, 81, OWNER, "Lan", "hai"))
    rows = svc.outbox.lease(MINH)
    assert [r.text.split("\n")[-1] for r in rows] == ["một", "hai"]
    assert svc.outbox.lease(MINH) == [] and MINH not in svc.outbox.pending_chats()  # leased: nobody else sends
    assert svc.outbox.retry_later(rows[0].id, "timed out")
    svc.outbox.release([rows[1].id])
    assert svc.outbox.lease(MINH) == []  # "hai" must not overtake "một"


def test_card_in_flight_is_still_edited(env):
    svc, store, tg = env
    svc.request(OWNER, "Lan", "command", "m:1")
    with svc.session() as s:
        ticket_id = svc.active_ticket(s, OWNER).id
    svc.skip_intake(OWNER, ticket_id)
    card = svc.outbox.lease(GROUP)[0]  # being sent while the owner cancels
    svc.cancel(OWNER, ticket_id)
    svc.outbox.mark_sent(card.id, 42)
    edits = [r for r in tg.flush() if r.purpose == "cards"]
    assert edits[0].targets == [(GROUP, 42)] and "huỷ" in edits[0].text
    # A card not sent before the ticket moved on is dropped, and nothing edits it.
    ticket_id, _ = open_ticket(svc, store, tg, OWNER2, "Hùng")
    svc.reannounce(ticket_id, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    svc.cancel(OWNER2, ticket_id)
    rows = tg.flush()
    assert [r.stale for r in rows if r.purpose == "card"] == [True]
    assert len(next(r for r in rows if r.purpose == "cards").targets) == 1  # the first card only


def test_a_card_claimed_the_moment_it_arrives_is_edited_once(env):
    """Pressed before its delivery was recorded: the "cards" edit covers it; a second identical edit
    would be refused by Telegram ("message is not modified")."""
    svc, _store, tg = env
    svc.request(OWNER, "Lan", "command", "m:7")
    with svc.session() as s:
        ticket_id = svc.active_ticket(s, OWNER).id
    svc.skip_intake(OWNER, ticket_id)
    tg.flush()
    svc.reannounce(ticket_id, dt.datetime.now(dt.UTC) + dt.timedelta(hours=1))
    reminder = next(r for r in svc.outbox.lease(GROUP) if r.purpose == "card")  # on its way
    svc.claim(ticket_id, MINH, card=(GROUP, 77))  # the consultant already sees it as message 77
    svc.outbox.mark_sent(reminder.id, 77)
    edits = []
    for row in tg.flush():
        if row.purpose == "cards":
            edits += row.targets
        elif row.method == "edit" and row.chat_id == GROUP:
            edits.append((row.chat_id, row.edit_message_id))
    assert edits.count((GROUP, 77)) == 1 and len(edits) == len(set(edits))


def test_rows_of_a_crashed_sender_are_sent_again(env):
    svc, store, tg = env
    ticket_id, _ = open_ticket(svc, store, tg, OWNER)
    claim(svc, tg, ticket_id)
    svc.on_owner_message(Incoming(OWNER, 90, OWNER, "Lan", "ba"))
    leased = svc.outbox.lease(MINH)  # the process dies here, before sending or marking
    assert leased and svc.outbox.lease(MINH) == []
    assert svc.outbox.release_all() == 1  # the next start (SQLite: the only process)
    again = [r for r in tg.flush() if r.chat_id == MINH]
    assert [r.id for r in again] == [leased[0].id] and svc.outbox.count_pending() == 0


def test_a_reply_queued_again_under_its_origin_is_queued_once(env):
    """An update handled a second time (the replica that took it died after queuing its answer) queues the same
    replies under the same origins: they are found, not added."""
    svc, _store, tg = env
    first = svc.outbox.reply(OWNER, "Trả lời 1", [], origin="100200:1")
    second = svc.outbox.reply(OWNER, "Trả lời 2", [], origin="100200:2")
    assert svc.outbox.reply(OWNER, "Trả lời 1", [], origin="100200:1") == first
    assert svc.outbox.reply(OWNER, "Trả lời 2", [], origin="100200:2") == second
    other = svc.outbox.reply(OWNER, "Không nguồn gốc", [])  # no origin (a job's message): always its own row
    assert other != svc.outbox.reply(OWNER, "Không nguồn gốc", [])
    assert [r.text for r in tg.flush() if r.chat_id == OWNER] == ["Trả lời 1", "Trả lời 2", *["Không nguồn gốc"] * 2]


def test_a_reply_stored_and_leased_at_once_keeps_the_chats_order(env):
    """reply_and_lease stores the reply and leases the chat's oldest pending row, which is an earlier row when one
    waits, and nothing while an earlier row is leased elsewhere; mark_sent_and_lease records a send and leases the
    next row. Stored under an origin already queued, the reply is not stored twice."""
    svc, _store, tg = env
    earlier = svc.outbox.reply(OWNER, "Trước", [])
    taken = svc.outbox.reply_and_lease(OWNER, "Trả lời", [["Nút", "f:1"]], 7, origin="300:1")
    assert [r.id for r in taken] == [earlier] and svc.outbox.lease(OWNER) == []  # the earlier row first, leased
    (answer,) = svc.outbox.mark_sent_and_lease(earlier, 501, OWNER)
    assert (answer.text, answer.buttons, answer.reply_to) == ("Trả lời", [["Nút", "f:1"]], 7)
    assert svc.outbox.reply_and_lease(OWNER, "Trả lời", [], origin="300:1") == []  # queued once; in flight
    assert svc.outbox.mark_sent_and_lease(answer.id, 502, OWNER) == [] and svc.outbox.count_pending() == 0
    with svc.session() as s:
        assert s.get(Outbox, earlier).sent_message_id == 501 and s.get(Outbox, answer.id).done
    first = svc.outbox.reply_and_lease(OWNER, "Một", [], origin="301:1")
    assert [r.text for r in first] == ["Một"]
    assert svc.outbox.reply_and_lease(OWNER, "Hai", [], origin="301:2") == []  # "Một" is in flight: "Hai" waits
    assert [r.text for r in svc.outbox.reply_and_lease(OWNER, "Một", [], origin="301:1")] == []
    svc.outbox.release([first[0].id])  # (given back, e.g. a crash at start of SQLite's only process)
    (again,) = svc.outbox.reply_and_lease(OWNER, "Một", [], origin="301:1")  # not stored twice: leased again
    assert again.text == "Một" and [r.text for r in svc.outbox.mark_sent_and_lease(again.id, 503, OWNER)] == ["Hai"]
    assert svc.outbox.count_pending() == 1 and not tg.flush()  # "Hai" is leased: no other drain sends it


def test_forget_blanks_the_outbox_and_old_rows_are_purged(env):
    svc, store, tg = env
    t1, _ = open_ticket(svc, store, tg, OWNER, "Nguyễn Thị Lan", "Bí mật công thức nước mắm?")
    t2, _ = open_ticket(svc, store, tg, OWNER2, "Hùng")
    claim(svc, tg, t1)
    claim(svc, tg, t2)
    svc.on_owner_message(Incoming(OWNER, 30, OWNER, "Lan", "Tin nhắn riêng tư đã gửi"))
    svc.on_consultant_message(Incoming(MINH, 31, MINH, "Minh", "Chào"))  # "which ticket?" names both owners
    tg.flush()
    svc.on_owner_message(Incoming(OWNER, 32, OWNER, "Lan", "Tin nhắn riêng tư chưa gửi"))  # still pending
    svc.forget_owner(OWNER)
    sent = tg.flush()
    assert not any("riêng tư" in r.text for r in sent)
    with svc.session() as s:
        rows = s.scalars(select(Outbox)).all()
        dumped = json.dumps([[r.text, r.buttons] for r in rows], ensure_ascii=False)
    assert "riêng tư" not in dumped and "nước mắm" not in dumped and "Lan" not in dumped
    assert "Hùng" in dumped  # the other owner's rows are kept

    # Sent rows older than KEEP_DAYS go, except those of tickets still active (t2's cards).
    with svc.session.begin() as s:
        for row in s.scalars(select(Outbox)):
            row.created_at = dt.datetime.now(dt.UTC) - dt.timedelta(days=31)
    assert svc.outbox.purge() > 0
    with svc.session() as s:
        left = s.scalars(select(Outbox)).all()
    assert left and all(r.ticket_id == t2 for r in left)


def test_outbox_rows_stay_within_telegram_limits(env):
    svc, store, tg = env
    for n in range(15):
        converse(store, OWNER, f"Câu hỏi dài số {n} " + "nhãn hiệu " * 140)
    ticket_id, _ = open_ticket(svc, store, tg, OWNER)
    claim(svc, tg, ticket_id)
    with svc.session() as s:
        rows = s.scalars(select(Outbox)).all()
    for row in rows:
        assert all(len(data.encode()) <= 64 for line in row.buttons for _, data in line)
        assert row.purpose == "transcript" or len(row.text) <= 4096


def test_lengths_are_utf16_units_of_emoji_heavy_text(env):
    from bot.telegram import render
    from bot.textlen import utf16_len, visible_len

    text = ("Chào 😀🎉 " * 700).strip()  # 4,900 characters, 7,700 UTF-16 units
    parts = render.split(text)
    assert len(parts) == 2 and all(render.utf16_len(p) <= 4096 for p in parts)
    assert "".join(parts).replace(" ", "") == text.replace(" ", "")
    assert render.split("😀" * 2048) == ["😀" * 2048] and len(render.split("😀" * 2049)) == 2
    assert utf16_len("a😀") == 3

    svc, store, tg = env
    ticket_id, _ = open_ticket(svc, store, tg, OWNER, "Lan & Co")
    claim(svc, tg, ticket_id)
    svc.on_owner_message(Incoming(OWNER, 60, OWNER, "Lan", "😀" * 500, "document", "a.pdf"))  # 1,000 units
    copy = next(r for r in tg.flush() if r.purpose == "relay")
    assert 1000 <= visible_len(copy.text) <= 1024 and "😀" * 500 in copy.text and "Lan &amp; Co" in copy.text
    svc.on_owner_message(Incoming(OWNER, 61, OWNER, "Lan", "😀" * 600, "document", "b.pdf"))  # 1,200: too long
    rows = [r for r in tg.flush() if r.purpose == "relay"]
    assert "😀" not in rows[0].text and rows[0].method == "copy"  # the file with its label
    assert "😀" * 600 in rows[1].text and visible_len(rows[1].text) <= 4096  # then the whole text


async def test_message_too_long_is_split_and_sent_not_dropped():
    from types import SimpleNamespace

    from telegram.error import BadRequest

    from bot.handoff.outbox import OutMessage
    from bot.telegram import handoff_delivery, render

    sent = []

    async def send_message(chat_id, text, **kw):  # a server counting more strictly than we do
        if render.utf16_len(text) > 3000:
            raise BadRequest("Message is too long")
        sent.append(text)
        return SimpleNamespace(message_id=len(sent))

    app = SimpleNamespace(bot=SimpleNamespace(send_message=send_message))
    text = "\n".join(f"Dòng {n} 😀 nhãn hiệu" for n in range(300))
    row = OutMessage(1, OWNER, "owner", "relay", "send", text, [[["x", "y"]]])
    assert await handoff_delivery._send(app, row) == len(sent) and len(sent) >= 3
    assert "\n".join(sent) == text


def test_a_caption_telegram_would_cut_follows_in_full_as_a_message(env):
    svc, store, tg = env
    ticket_id, _ = open_ticket(svc, store, tg, OWNER)
    claim(svc, tg, ticket_id)
    short, long = "Ảnh hợp đồng", "Điều khoản " * 92 + "cuối cùng"  # ~1,020 units: fits alone, not with the label
    svc.on_owner_message(Incoming(OWNER, 301, OWNER, "Lan", short, media="photo"))
    svc.on_owner_message(Incoming(OWNER, 302, OWNER, "Lan", long, media="photo"))
    rows = to(tg.flush(), MINH)
    copies = [r for r in rows if r.method == "copy"]
    assert [r.copy_message_id for r in copies] == [301, 302]
    assert short in copies[0].text and long not in copies[1].text
    follow = [r for r in rows if r.method == "send" and "cuối cùng" in r.text]
    assert len(follow) == 1 and long in follow[0].text  # nothing of the owner's text is lost
