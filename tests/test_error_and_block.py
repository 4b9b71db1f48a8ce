"""The error handler (tell the user, alert admins at most once a minute) and a user blocking the bot."""

import time

import pytest
from telegram import Update

from bot.handoff.models import CANCELLED, Ticket
from tests.conftest import changed
from tests.test_handlers import USER, _message, _push, indexed, recording_app  # noqa: F401

ADMIN = 9001


@pytest.fixture
async def app(indexed, embedder, tmp_path):  # noqa: F811
    settings = changed(
        indexed,
        {
            "database_url": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
            "admin_ids": [ADMIN],
            "consultants_chat_id": -100500,
            "working_hours": "00:00-24:00",
            "working_days": "1-7",
        },
    )
    application = await recording_app(settings, embedder)
    yield application
    await application.shutdown()


def _sent_to(app, chat_id):
    return [m for m in app.request_log.sent("sendMessage") if str(m["chat_id"]) == str(chat_id)]


async def test_a_failing_question_apologises_and_alerts_admins_once_a_minute(app, monkeypatch):
    engine = app.bot_data.services.engine

    def broken(*args, **kwargs):
        raise RuntimeError("index unavailable")

    monkeypatch.setattr(engine, "answer", broken)
    for n in range(3):
        await _push(app, _message(f"nhan hieu bao ho bao lau {n}"))
    apologies = [m for m in _sent_to(app, USER["id"]) if "lỗi" in m["text"]]
    alerts = _sent_to(app, ADMIN)
    assert len(apologies) == 3  # every user hears what happened
    assert len(alerts) == 1 and "RuntimeError" in alerts[0]["text"]  # admins once, not once per error
    _a_minute_later(app.bot_data.services.store)
    await _push(app, _message("nhan hieu bao ho bao lau 4"))
    assert len(_sent_to(app, ADMIN)) == 2


def _a_minute_later(store) -> None:
    """The throttle lives in the database (every replica shares it): let its period end."""
    import datetime as dt

    from sqlalchemy import update

    from bot.storage import Throttle

    with store.session.begin() as s:
        s.execute(update(Throttle).values(until=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))


async def test_an_owner_who_blocks_the_bot_frees_their_request(app):
    svc = app.bot_data.services.handoff
    outcome = svc.request(USER["id"], "Lan", "command", "m:1")
    svc.skip_intake(USER["id"], outcome.ticket_id)
    change = {
        "chat": {"id": USER["id"], "type": "private"},
        "from": USER,
        "date": int(time.time()),
        "old_chat_member": {"user": {"id": 1, "is_bot": True, "first_name": "bot"}, "status": "member"},
        "new_chat_member": {
            "user": {"id": 1, "is_bot": True, "first_name": "bot"},
            "status": "kicked",
            "until_date": 0,
        },
    }
    await app.process_update(Update.de_json({"update_id": 77, "my_chat_member": change}, app.bot))
    with svc.session() as s:
        ticket = s.get(Ticket, outcome.ticket_id)
        assert ticket.status == CANCELLED


def _joined(chat_id: int, chat_type: str = "supergroup") -> dict:
    bot = {"id": 1, "is_bot": True, "first_name": "bot"}
    change = {
        "chat": {"id": chat_id, "type": chat_type, "title": "Nhóm"},
        "from": {"id": 4242, "is_bot": False, "first_name": "Lạ"},
        "date": int(time.time()),
        "old_chat_member": {"user": bot, "status": "left"},
        "new_chat_member": {"user": bot, "status": "member"},
    }
    return {"update_id": int(time.time() * 1000) % 10**9, "my_chat_member": change}


async def test_a_stranger_cannot_put_the_bot_to_work_in_their_group(app):
    await app.process_update(Update.de_json(_joined(-100777), app.bot))
    assert [c for c in app.request_log.sent("leaveChat") if str(c["chat_id"]) == "-100777"]
    await app.process_update(Update.de_json(_joined(-100500), app.bot))  # the consultants' group: stays
    assert not [c for c in app.request_log.sent("leaveChat") if str(c["chat_id"]) == "-100500"]
    group_message = _message("/human")
    group_message["message"]["chat"] = {"id": -100777, "type": "supergroup", "title": "Nhóm"}
    await _push(app, group_message)
    svc = app.bot_data.services.handoff
    assert not svc.has_active(USER["id"])  # no ticket opened from a group
    assert not _sent_to(app, -100777)


async def test_a_busy_database_delays_the_answer_instead_of_losing_it(app, monkeypatch):
    import sqlite3

    from sqlalchemy.exc import OperationalError

    store = app.bot_data.services.store
    real, calls = store.admit, []

    def locked_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("INSERT INTO messages", {}, sqlite3.OperationalError("database is locked"))
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "admit", locked_once)
    await _push(app, _message("nhan hieu bao ho bao lau"))
    assert not _sent_to(app, USER["id"]) and not _sent_to(app, ADMIN)  # no apology, no alert: it is retried
    retries = [job for job in app.job_queue.jobs() if isinstance(job.data, Update)]
    assert len(retries) == 1
    await app.process_update(retries[0].data)  # what the job does when it runs
    assert "10 năm" in _sent_to(app, USER["id"])[-1]["text"]
