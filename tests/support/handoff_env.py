"""Shared set-up of the handoff service tests: a service on a fresh database and recorded sends."""

from __future__ import annotations

import itertools

import pytest

from bot.config import Settings
from bot.handoff.service import HandoffService
from bot.storage import Store

GROUP = -1009876543210
OWNER, OWNER2 = 1001, 1002
MINH, HA, STRANGER, ADMIN = 2001, 2002, 3001, 9001
KEYS = itertools.count(1)


class Telegram:
    """Plays the delivery side over the real outbox: takes the pending rows and 'sends' them."""

    def __init__(self, svc: HandoffService) -> None:
        self.svc = svc
        self.next_id = 500
        self.sent: list = []

    def flush(self) -> list:
        out = []
        for chat in self.svc.outbox.pending_chats():
            for row in self.svc.outbox.lease(chat):
                self.next_id += 1
                self.svc.outbox.mark_sent(row.id, row.edit_message_id or self.next_id)
                row.sent_message_id = row.edit_message_id or self.next_id
                out.append(row)
        self.sent += out
        return out


def to(rows, chat):
    return [r for r in rows if r.chat_id == chat]


@pytest.fixture
def env(tmp_path, database_url):
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        consultants_chat_id=GROUP,
        admin_ids=[ADMIN],
        working_hours="00:00-24:00",
        working_days="1-7",
        reannounce_minutes=10,
    )
    store = Store(database_url)
    svc = HandoffService(settings, store)
    svc.consultants.add(MINH, "Minh", "ip,tech_transfer")
    svc.consultants.add(HA, "Hà", "process, funding")
    return svc, store, Telegram(svc)


def converse(store, user, question, kind="answer", topic="ip", titles=("Nhãn hiệu",)):
    store.add_turn(user, "user", question)
    return store.add_turn(
        user, "assistant", "Trả lời " + question, {"kind": kind, "topic": topic, "titles": list(titles)}
    )


def open_ticket(svc, store, tg, user, name="Lan", question="Nhãn hiệu được bảo hộ bao lâu?"):
    converse(store, user, question)
    out = svc.request(user, name, "button", f"open:{next(KEYS)}")
    tg.flush()
    if svc.has_active(user):
        with svc.session() as s:
            t = svc.active_ticket(s, user)
            if t.status == "intake":
                svc.skip_intake(user, t.id)
    rows = tg.flush()
    return out.ticket_id, rows


def claim(svc, tg, ticket_id, who=MINH):
    out = svc.claim(ticket_id, who)
    return out, tg.flush()
