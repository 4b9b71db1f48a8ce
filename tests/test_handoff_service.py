"""The handoff service on a real SQLite file and a real PostgreSQL server: state machine, atomic claims, relay, outbox, SLA, CLI."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pytest
from sqlalchemy import select

from bot.cli import main as cli_main
from bot.config import Settings
from bot.handoff.core import Incoming
from bot.handoff.hours import WorkingHours
from bot.handoff.models import AuditLog, Ticket
from bot.handoff.routing import detect_topic, parse_topics
from bot.handoff.service import HandoffService
from bot.storage import Store
from tests.support.handoff_env import (
    GROUP,
    HA,
    MINH,
    OWNER,
    OWNER2,
    STRANGER,
    Telegram,
    claim,
    converse,
    open_ticket,
    to,
)


def test_request_intake_then_card_with_topic_and_mentions(env):
    svc, store, tg = env
    converse(store, OWNER, "Nhãn hiệu được bảo hộ bao lâu?")
    converse(store, OWNER, "Tôi muốn đăng ký ở Mỹ thì sao?", kind="abstain", topic="other", titles=())
    out = svc.request(OWNER, "Lan <Cty>", "button", "q:1")
    rows = tg.flush()
    assert [r.purpose for r in rows] == ["notice"] and "tên doanh nghiệp" in rows[0].text
    assert [b[1] for b in rows[0].buttons[0]] == [f"hs:{out.ticket_id}", f"hx:{out.ticket_id}"]
    assert not to(rows, GROUP)  # nothing posted before the intake step

    done = svc.on_owner_message(Incoming(OWNER, 77, OWNER, "Lan", "Cty Lúa Vàng, Thái Bình"))
    assert done.handled and done.announce_at is not None
    rows = tg.flush()
    card = to(rows, GROUP)[0]
    assert card.buttons == [[["✋ Nhận yêu cầu", f"hc:{out.ticket_id}"]]] and "Nhận" in card.buttons[0][0][0]
    assert "Sở hữu trí tuệ" in card.text and "Lúa Vàng" in card.text and "Lan &lt;Cty&gt;" in card.text
    assert "tg://user?id=2001" in card.text and "tg://user?id=2002" not in card.text  # only the ip expert
    assert "Tôi muốn đăng ký ở Mỹ" in card.text and "Nhãn hiệu" in card.text
    notice = to(rows, OWNER)[0]
    assert "vị trí số <b>1</b>" in notice.text and "phút" in notice.text

    # A second owner queues behind; the first asking again is reminded, no second ticket.
    second, _ = open_ticket(svc, store, tg, OWNER2, "Hùng", "5S gồm những gì?")
    assert second != out.ticket_id
    again = svc.request(OWNER, "Lan", "command", "m:2")
    assert again.ticket_id == out.ticket_id
    assert "vị trí số 1" in to(tg.flush(), OWNER)[0].text
    with svc.session() as s:
        t2 = s.get(Ticket, second)
        assert svc.position(s, t2) == 2 and t2.topic == "ip"


def test_expired_intake_does_not_swallow_the_next_message(env):
    svc, store, tg = env
    converse(store, OWNER, "Nhãn hiệu được bảo hộ bao lâu?")
    out = svc.request(OWNER, "Lan", "button", "q:expired")
    tg.flush()
    with svc.session.begin() as s:
        s.get(Ticket, out.ticket_id).created_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11)
    later = svc.on_owner_message(Incoming(OWNER, 78, OWNER, "Lan", "Phí đăng ký nhãn hiệu là bao nhiêu?"))
    assert not later.handled and later.announce_at is not None  # the bot answers it; the ticket is queued
    with svc.session() as s:
        t = s.get(Ticket, out.ticket_id)
        assert t.status == "open" and t.intake == ""
    assert to(tg.flush(), GROUP)


def test_redelivered_updates_create_and_relay_nothing_twice(env):
    svc, _store, tg = env
    first = svc.request(OWNER, "Lan", "command", "m:1001:5")
    again = svc.request(OWNER, "Lan", "command", "m:1001:5")
    assert first.ticket_id == again.ticket_id
    tg.flush()
    svc.on_owner_message(Incoming(OWNER, 6, OWNER, "Lan", "Cty A"))
    assert svc.on_owner_message(Incoming(OWNER, 6, OWNER, "Lan", "Cty A")).handled  # swallowed, not re-answered
    rows = tg.flush()
    assert len(to(rows, GROUP)) == 1
    claim(svc, tg, first.ticket_id)
    for _ in range(2):
        svc.on_owner_message(Incoming(OWNER, 9, OWNER, "Lan", "Xin chào chuyên gia"))
    relays = [r for r in tg.flush() if r.purpose == "relay"]
    assert len(relays) == 1 and relays[0].chat_id == MINH and "Xin chào chuyên gia" in relays[0].text


def test_a_private_message_is_routed_as_by_the_owner_then_the_consultant_side(env):
    """on_private_message: (first, last) as on_owner_message and then, unless it took the message,
    on_consultant_message give them, for an owner without a ticket, in intake, expired intake and relay, and for
    the consultant who holds the ticket."""
    svc, store, tg = env
    assert [o.handled for o in svc.on_private_message(Incoming(OWNER, 30, OWNER, "Lan", "Câu hỏi"))] == [False] * 2
    converse(store, OWNER, "Nhãn hiệu được bảo hộ bao lâu?")
    out = svc.request(OWNER, "Lan", "button", "q:route")
    tg.flush()
    first, last = svc.on_private_message(Incoming(OWNER, 31, OWNER, "Lan", "Cty Lúa Vàng"))  # the intake answer
    assert first is last and first.handled and first.announce_at is not None
    assert svc.on_private_message(Incoming(OWNER, 31, OWNER, "Lan", "Cty Lúa Vàng"))[1].handled  # seen: swallowed
    assert to(tg.flush(), GROUP)
    open_ = svc.on_private_message(Incoming(OWNER, 32, OWNER, "Lan", "Còn câu nữa"))  # open, text: for the bot
    assert [o.handled for o in open_] == [False, False]
    claim(svc, tg, out.ticket_id)
    first, last = svc.on_private_message(Incoming(MINH, 40, MINH, "Minh", "Chào chị Lan"))  # the consultant
    assert not first.handled and last.handled
    assert any(r.chat_id == OWNER and "Chào chị Lan" in r.text for r in tg.flush())
    assert svc.on_private_message(Incoming(OWNER, 33, OWNER, "Lan", "Cảm ơn anh"))[1].handled  # relayed
    assert any(r.chat_id == MINH and "Cảm ơn anh" in r.text for r in tg.flush())
    assert [o.handled for o in svc.on_private_message(Incoming(HA, 41, HA, "Hà", "Xin chào"))] == [False] * 2
    second = svc.request(OWNER2, "Hùng", "button", "q:expired-route")
    tg.flush()
    with svc.session.begin() as s:
        s.get(Ticket, second.ticket_id).created_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=11)
    first, last = svc.on_private_message(Incoming(OWNER2, 50, OWNER2, "Hùng", "5S là gì?"))
    assert not last.handled and first.announce_at is not None  # queued; the bot answers the message


def test_concurrent_claims_exactly_one_wins(env):
    svc, store, tg = env
    ids = [MINH, HA] + list(range(2100, 2106))
    for cid in ids[2:]:
        svc.consultants.add(cid, f"C{cid}", "other")
    ticket_id, _ = open_ticket(svc, store, tg, OWNER)
    barrier = threading.Barrier(len(ids))
    results = {}

    def press(cid):
        barrier.wait()
        results[cid] = svc.claim(ticket_id, cid)

    threads = [threading.Thread(target=press, args=(cid,)) for cid in ids]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    winners = [cid for cid, out in results.items() if not out.alert]
    assert len(winners) == 1
    losers = [out.toast for cid, out in results.items() if cid not in winners]
    assert all("đã được" in toast and "nhận trước" in toast for toast in losers)
    rows = tg.flush()
    transcripts = [r for r in rows if r.purpose == "transcript"]
    assert {r.chat_id for r in transcripts} == {winners[0]}
    with svc.session() as s:
        assert s.get(Ticket, ticket_id).consultant_id == winners[0]
        actions = [a.action for a in s.scalars(select(AuditLog).where(AuditLog.ticket_id == ticket_id))]
    assert actions.count("claim") == 1 and actions.count("claim_lost") == len(ids) - 1


def test_claim_rules_stranger_stale_and_card_edits(env):
    svc, store, tg = env
    ticket_id, rows = open_ticket(svc, store, tg, OWNER)
    card = to(rows, GROUP)[0]
    out = svc.claim(ticket_id, STRANGER)
    assert out.alert and "đã đăng ký" in out.toast
    out, rows = claim(svc, tg, ticket_id)
    assert not out.alert
    edit = [r for r in rows if r.purpose == "cards"]
    assert edit[0].targets == [(GROUP, card.sent_message_id)] and "Minh" in edit[0].text
    assert edit[0].buttons == []
    assert "Minh" in to(rows, OWNER)[0].text
    transcript = next(r for r in rows if r.purpose == "transcript")
    assert "Nhãn hiệu được bảo hộ bao lâu?" in transcript.text and "/close" in transcript.text
    assert "yours" not in svc.claim(ticket_id, MINH).toast and "rồi" in svc.claim(ticket_id, MINH).toast

    # A cancelled ticket's card pressed later: told, and that card is edited.
    other, rows = open_ticket(svc, store, tg, OWNER2, "Hùng")
    other_card = to(rows, GROUP)[0]
    svc.cancel(OWNER2, other)
    tg.flush()
    out = svc.claim(other, HA, card=(GROUP, 999))
    assert out.alert and "huỷ" in out.toast
    edits = [r for r in tg.flush() if r.method == "edit"]
    assert [r.edit_message_id for r in edits] == [999] and "huỷ" in edits[0].text
    assert svc.claim(other, HA, card=(GROUP, other_card.sent_message_id)).alert
    assert not tg.flush()  # that card was edited when the owner cancelled


def test_relay_both_ways_with_several_tickets(env):
    svc, store, tg = env
    t1, _ = open_ticket(svc, store, tg, OWNER, "Lan")
    t2, _ = open_ticket(svc, store, tg, OWNER2, "Hùng")
    claim(svc, tg, t1)
    claim(svc, tg, t2)
    assert svc.on_owner_message(Incoming(OWNER, 20, OWNER, "Lan", "Hợp đồng của tôi đây", "document", "hd.pdf")).handled
    copy = next(r for r in tg.flush() if r.purpose == "relay")
    assert copy.method == "copy" and (copy.copy_chat_id, copy.copy_message_id) == (OWNER, 20)
    assert "Lan" in copy.text and "#" in copy.text and copy.chat_id == MINH

    # No reply and two tickets: the bot asks which, then relays the chosen one.
    out = svc.on_consultant_message(Incoming(MINH, 40, MINH, "Minh", "Chào anh chị"))
    assert out.handled
    ask = tg.flush()[0]
    assert ask.chat_id == MINH and len(ask.buttons) == 2
    line_id = int(ask.buttons[1][0][1].split(":")[1])
    out = svc.choose_relay(MINH, line_id, t2, (MINH, ask.sent_message_id))
    rows = tg.flush()
    relayed = to(rows, OWNER2)[0]
    assert "Minh" in relayed.text and "Chào anh chị" in relayed.text and not to(rows, OWNER)
    assert svc.choose_relay(MINH, line_id, t1).alert  # the same choice twice: stale

    # Replying to a relayed message picks that ticket.
    reply = Incoming(MINH, 41, MINH, "Minh", "Tôi đã xem hợp đồng", reply_to=copy.sent_message_id)
    out = svc.on_consultant_message(reply)
    rows = tg.flush()
    assert out.ticket_id == t1 and "Tôi đã xem hợp đồng" in to(rows, OWNER)[0].text
    # A photo from the consultant is copied with a label.
    svc.on_consultant_message(Incoming(MINH, 42, MINH, "Minh", "", "photo", reply_to=copy.sent_message_id))
    photo = tg.flush()[0]
    assert photo.method == "copy" and photo.chat_id == OWNER and "Minh" in photo.text
    # Someone without tickets is not intercepted: the bot answers them.
    assert not svc.on_consultant_message(Incoming(HA, 1, HA, "Hà", "hỏi bot")).handled
    assert not svc.on_owner_message(Incoming(STRANGER, 1, STRANGER, "X", "hỏi bot")).handled


def test_close_rate_once_and_back_to_the_bot(env):
    svc, store, tg = env
    ticket_id, _ = open_ticket(svc, store, tg, OWNER)
    claim(svc, tg, ticket_id)
    svc.close(MINH)
    rows = tg.flush()
    rating = next(r for r in rows if r.purpose == "rating")
    assert rating.chat_id == OWNER and [b[1] for b in rating.buttons[0]] == [f"hv:{ticket_id}:{n}" for n in range(1, 6)]
    assert any("Đã đóng" in r.text for r in to(rows, MINH))
    assert not svc.on_owner_message(Incoming(OWNER, 50, OWNER, "Lan", "Câu hỏi mới")).handled
    out = svc.rate(OWNER, ticket_id, 4, (OWNER, rating.sent_message_id))
    assert "4/5" in out.toast
    assert svc.rate(OWNER, ticket_id, 1).toast.startswith("Cảm ơn bạn đã đánh giá 4/5")  # the first rating stands
    assert svc.rate(OWNER2, ticket_id, 5).toast  # someone else's ticket: no effect
    with svc.session() as s:
        t = s.get(Ticket, ticket_id)
        assert (t.status, t.rating, t.active_owner) == ("closed", 4, None)
    assert any("4/5" in r.text for r in to(tg.flush(), MINH))


def test_cancel_while_waiting_and_end_while_talking(env):
    svc, store, tg = env
    ticket_id, _ = open_ticket(svc, store, tg, OWNER)
    svc.cancel(OWNER, ticket_id, message=(OWNER, 7))
    rows = tg.flush()
    assert any(r.method == "markup" and r.edit_message_id == 7 for r in rows)
    assert "Đã huỷ" in next(r for r in to(rows, OWNER) if r.method == "send").text
    assert any("huỷ" in r.text for r in to(rows, GROUP))
    assert svc.claim(ticket_id, MINH).alert
    ticket_id, _ = open_ticket(svc, store, tg, OWNER)
    claim(svc, tg, ticket_id)
    svc.cancel(OWNER)
    rows = tg.flush()
    assert any("kết thúc" in r.text for r in to(rows, MINH)) and any(r.purpose == "rating" for r in rows)
    assert "không có yêu cầu" in svc.cancel(OWNER).toast


def test_transfer_and_back_to_the_queue(env):
    svc, store, tg = env
    ticket_id, _ = open_ticket(svc, store, tg, OWNER)
    claim(svc, tg, ticket_id)
    svc.on_owner_message(Incoming(OWNER, 60, OWNER, "Lan", "Tôi cần hỏi về hợp đồng li-xăng"))
    tg.flush()
    svc.transfer_options(MINH)
    options = tg.flush()[0]
    datas = [row[0][1] for row in options.buttons]
    assert datas == [f"ht:{ticket_id}:{HA}", f"ht:{ticket_id}:0"]
    assert svc.transfer(HA, ticket_id, MINH).alert  # not Hà's ticket to give
    out = svc.transfer(MINH, ticket_id, HA, (MINH, options.sent_message_id))
    assert not out.alert
    rows = tg.flush()
    incoming = [r for r in rows if r.chat_id == HA and r.purpose == "transcript"]
    assert incoming and "Minh chuyển cho bạn" in incoming[0].text and "li-xăng" in incoming[0].text
    assert "Hà" in to(rows, OWNER)[0].text
    svc.on_owner_message(Incoming(OWNER, 61, OWNER, "Lan", "Cảm ơn"))
    assert [r.chat_id for r in tg.flush()] == [HA]
    assert not svc.on_consultant_message(Incoming(MINH, 62, MINH, "Minh", "còn đó không")).handled

    out = svc.transfer(HA, ticket_id, 0)
    assert out.announce_at is not None
    rows = tg.flush()
    card = next(r for r in to(rows, GROUP) if r.method == "send")
    assert card.buttons[0][0][1] == f"hc:{ticket_id}" and "hàng chờ" in card.text
    assert "hàng chờ" in to(rows, OWNER)[0].text
    assert not svc.claim(ticket_id, MINH).alert


def test_reannounce_backoff_owner_told_once(env):
    svc, store, tg = env
    ticket_id, _ = open_ticket(svc, store, tg, OWNER)
    start = dt.datetime.now(dt.UTC)
    assert svc.reannounce(ticket_id, start) is not None and not tg.flush()  # not due yet
    first = svc.reannounce(ticket_id, start + dt.timedelta(minutes=11))
    rows = tg.flush()
    assert "Nhắc lại" in to(rows, GROUP)[0].text and to(rows, GROUP)[0].buttons
    assert "vẫn đang chờ" in to(rows, OWNER)[0].text
    assert first - (start + dt.timedelta(minutes=11)) == dt.timedelta(minutes=20)  # backoff: 2 x 10 min
    second = svc.reannounce(ticket_id, first)
    rows = tg.flush()
    assert to(rows, GROUP) and not to(rows, OWNER)  # the owner is told once
    assert second - first == dt.timedelta(minutes=40)
    assert svc.due() == [(ticket_id, second)]
    claim(svc, tg, ticket_id)
    assert svc.reannounce(ticket_id, second + dt.timedelta(hours=1)) is None and svc.due() == []


def test_reannounce_waits_for_working_hours(tmp_path):
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        consultants_chat_id=GROUP,
        working_hours="08:00-17:00",
        working_days="1-5",
        reannounce_minutes=30,
    )
    svc = HandoffService(settings, Store(f"sqlite:///{tmp_path / 'b.sqlite3'}"))
    tg = Telegram(svc)
    svc.request(OWNER, "Lan", "command")
    with svc.session() as s:
        ticket_id = svc.active_ticket(s, OWNER).id
    svc.skip_intake(OWNER, ticket_id)
    tg.flush()
    day = dt.datetime.now(svc.hours.tz).date() + dt.timedelta(days=1)
    while day.isoweekday() != 6:
        day += dt.timedelta(days=1)
    saturday_night = dt.datetime.combine(day, dt.time(22), svc.hours.tz)
    monday = day + dt.timedelta(days=2)
    nxt = svc.reannounce(ticket_id, saturday_night.astimezone(dt.UTC))
    assert not tg.flush()  # no card in the night
    assert nxt.astimezone(svc.hours.tz) == dt.datetime.combine(monday, dt.time(8), svc.hours.tz)
    assert f"08:00 Thứ Hai {monday.day}/{monday.month}" in svc.eta("vi", saturday_night)
    assert svc.due() == [(ticket_id, nxt)]


def test_offer_after_two_abstentions_or_two_thumbs_down(env):
    svc, store, tg = env
    converse(store, OWNER, "q1", kind="abstain")
    assert not svc.offer_due(OWNER, "abstain")
    converse(store, OWNER, "q2", kind="abstain")
    assert svc.offer_due(OWNER, "abstain")
    converse(store, OWNER, "q3", kind="abstain")
    assert not svc.offer_due(OWNER, "abstain")  # offered once per run
    first = converse(store, OWNER2, "q4")
    second = converse(store, OWNER2, "q5")
    assert store.add_feedback(OWNER2, first, -1) and store.add_feedback(OWNER2, first, -1)
    assert not svc.offer_due(OWNER2, "feedback")  # the same answer twice is one vote
    assert store.add_feedback(OWNER2, second, -1)
    assert svc.offer_due(OWNER2, "feedback")
    svc.offer(OWNER2, "vi")
    offer = tg.flush()[0]
    assert "chuyên gia" in offer.buttons[0][0][0] and offer.buttons[0][0][1] == "human"


def test_forget_ends_ticket_and_deletes_transcript(env):
    svc, store, tg = env
    ticket_id, _ = open_ticket(svc, store, tg, OWNER)
    claim(svc, tg, ticket_id)
    assert svc.forget_owner(OWNER) == 1
    rows = tg.flush()
    assert any("kết thúc" in r.text for r in to(rows, MINH))
    with svc.session() as s:
        assert svc.lines(s, ticket_id) == [] and s.get(Ticket, ticket_id).user_name == ""


def test_queue_lists_open_and_mine(env):
    svc, store, tg = env
    t1, _ = open_ticket(svc, store, tg, OWNER)
    t2, _ = open_ticket(svc, store, tg, OWNER2, "Hùng")
    claim(svc, tg, t1)
    text, buttons = svc.queue(MINH)
    assert f"#{t2}" in text and f"#{t1} Lan" in text and buttons == [[[f"✋ Nhận yêu cầu #{t2}", f"hq:{t2}"]]]


def test_consultants_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert cli_main(["consultants", "add", "2001", "--name", "Nguyễn Minh", "--topics", "ip,process"]) == 0
    assert cli_main(["consultants", "add", "2002", "--name", "Hà", "--topics", "marketing"]) == 2
    assert "unknown topic" in capsys.readouterr().err
    assert cli_main(["consultants", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [{"telegram_id": 2001, "name": "Nguyễn Minh", "topics": ["ip", "process"]}]
    assert cli_main(["consultants", "remove", "2001"]) == 0
    assert cli_main(["consultants", "remove", "2001"]) == 1
    capsys.readouterr()
    assert cli_main(["consultants", "list", "--json"]) == 0 and json.loads(capsys.readouterr().out) == []
    store = Store(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    with store.session() as s:
        assert [a.action for a in s.scalars(select(AuditLog))] == ["consultant_add", "consultant_remove"]


def test_hours_and_routing_helpers():
    hours = WorkingHours.parse("08:00-17:00", "1-5", "Asia/Ho_Chi_Minh")
    monday_9 = dt.datetime(2026, 5, 11, 9, 0, tzinfo=hours.tz)
    friday_17 = dt.datetime(2026, 5, 15, 17, 0, tzinfo=hours.tz)
    assert hours.is_open(monday_9) and not hours.is_open(friday_17)
    assert hours.next_open(friday_17).astimezone(hours.tz) == dt.datetime(2026, 5, 18, 8, 0, tzinfo=hours.tz)
    assert hours.describe("vi") == "08:00-17:00, Thứ Hai–Thứ Sáu"
    with pytest.raises(ValueError):
        WorkingHours.parse("17:00-08:00", "1-5", "Asia/Ho_Chi_Minh")
    assert parse_topics("ip, process") == ["ip", "process"]
    with pytest.raises(ValueError):
        parse_topics("ip,legal")
    assert detect_topic(["ip", "process", "other"], []) == "process"
    assert detect_topic([], ["lam 5S trong xuong the nao"]) == "process"
    assert detect_topic([], ["xin chao"]) == "other"
