"""Edited messages through the real handlers (Application.process_update with a recording request, no network):
an edited question is answered anew, an edited command is not run again, and during a relay the edit reaches
the other side as a correction."""

import datetime as dt
import time

import pytest
from telegram import Update

from bot import edits
from bot.i18n import t
from bot.telegram.handoff_delivery import deliver
from tests.test_handlers import handoff_app, indexed  # noqa: F401 - indexed: the sample knowledge base

GROUP = -1009876543210
OWNER = {"id": 611, "is_bot": False, "first_name": "Lan", "language_code": "vi"}
MINH = {"id": 2011, "is_bot": False, "first_name": "Minh", "language_code": "vi"}
QUESTION = "nhãn hiệu được bảo hộ bao lâu"
PHOTO = [{"file_id": "p1", "file_unique_id": "u1", "width": 10, "height": 10}]
_ids = iter(range(1, 10**6))


@pytest.fixture
async def app(indexed, embedder, tmp_path):  # noqa: F811
    application, svc = await handoff_app(indexed, embedder, tmp_path, GROUP, MINH["id"])
    yield application, svc
    await application.shutdown()


def _message(user, text=None, chat_id=None, message_id=None, sent_ago=60, **extra):
    message = {
        "message_id": message_id or next(_ids),
        "date": int(time.time()) - sent_ago,
        "chat": {"id": chat_id or user["id"], "type": "private" if (chat_id or user["id"]) > 0 else "supergroup"},
        "from": user,
        **extra,
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return message


def _edit(message, text=None, **extra):
    """The edited_message update Telegram sends for `message` now showing `text`."""
    edited = {**message, "edit_date": int(time.time()), **extra}
    if text is not None:
        edited["text"] = text
        if text.startswith("/"):
            edited["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        else:
            edited.pop("entities", None)
    return {"update_id": next(_ids), "edited_message": edited}


async def _push(application, data):
    await application.process_update(Update.de_json(data, application.bot))


def _to(application, chat_id, since=0):
    return [
        p for name, p in application.request_log.calls[since:] if name == "sendMessage" and int(p["chat_id"]) == chat_id
    ]


def _claimed(svc):
    out = svc.request(OWNER["id"], "Lan", "command", f"m:{next(_ids)}")
    svc.skip_intake(OWNER["id"], out.ticket_id)
    svc.claim(out.ticket_id, MINH["id"])
    return out.ticket_id


async def test_an_edited_question_is_answered_anew_as_a_reply_with_a_prefix(app):
    application, _ = app
    original = _message(OWNER, "xin chao")
    await _push(application, {"update_id": next(_ids), "message": original})
    before = len(application.request_log.calls)
    await _push(application, _edit(original, QUESTION))
    sent = _to(application, OWNER["id"], before)
    assert len(sent) == 1  # answered once: the handlers of new messages did not take the edit too
    answer = sent[0]
    assert answer["text"].startswith(t("vi", "common.edit_answer")) and "10 năm" in answer["text"]
    assert answer["reply_parameters"]["message_id"] == original["message_id"]
    assert answer["reply_markup"]["inline_keyboard"]  # the buttons of an answer, as for a new question


async def test_an_english_edit_is_answered_with_the_english_prefix(app):
    application, _ = app
    english = {**OWNER, "id": 612, "language_code": "en"}
    original = _message(english, "hello")
    await _push(application, _edit(original, "How long is a trademark protected?"))
    answer = _to(application, english["id"])[-1]
    assert answer["text"].startswith(t("en", "common.edit_answer")) and "10 năm" in answer["text"]


async def test_an_edited_command_is_not_run_again(app):
    application, _ = app
    original = _message(OWNER, "/hlep")
    await _push(application, _edit(original, "/help"))
    sent = _to(application, OWNER["id"])
    assert [p["text"] for p in sent] == [t("vi", "common.edit_command")]
    assert sent[0]["reply_parameters"]["message_id"] == original["message_id"]


async def test_an_old_edit_and_a_caption_edit_are_not_read(app):
    application, _ = app
    old = _message(OWNER, "xin chao", sent_ago=3 * 24 * 3600)
    await _push(application, _edit(old, QUESTION))
    photo = _message(OWNER, photo=PHOTO, caption="ảnh")
    await _push(application, _edit(photo, caption=QUESTION))
    assert [p["text"] for p in _to(application, OWNER["id"])] == [t("vi", "common.edit_not_read")] * 2


async def test_an_owners_edit_during_a_relay_reaches_the_consultant_as_a_correction(app):
    application, svc = app
    _claimed(svc)
    original = _message(OWNER, "Tôi muốn đăng ký nhãn hiệu cho bánh")
    await _push(application, {"update_id": next(_ids), "message": original})
    before = len(application.request_log.calls)
    edit = _edit(original, "Tôi muốn đăng ký nhãn hiệu cho bánh pía")
    await _push(application, edit)
    to_minh = _to(application, MINH["id"], before)
    assert len(to_minh) == 1
    text = to_minh[0]["text"]
    assert "Lan" in text and f"{t('vi', 'consultant.edit_prefix')} Tôi muốn đăng ký nhãn hiệu cho bánh pía" in text
    assert not _to(application, OWNER["id"], before)  # the bot does not answer in the consultant's place
    await _push(application, edit)  # the same edit delivered again: passed on once
    await deliver(application)
    assert len(_to(application, MINH["id"], before)) == 1


async def test_a_consultants_edit_during_a_relay_reaches_the_owner_as_a_correction(app):
    application, svc = app
    _claimed(svc)
    await deliver(application)
    original = _message(MINH, "Nhãn hiệu được bảo hộ 5 năm.")
    await _push(application, {"update_id": next(_ids), "message": original})
    before = len(application.request_log.calls)
    await _push(application, _edit(original, "Nhãn hiệu được bảo hộ 10 năm."))
    to_owner = _to(application, OWNER["id"], before)
    assert len(to_owner) == 1
    assert f"{t('vi', 'handoff.edit_prefix')} Nhãn hiệu được bảo hộ 10 năm." in to_owner[0]["text"]
    assert "Minh" in to_owner[0]["text"]
    assert not _to(application, MINH["id"], before)


async def test_a_caption_edit_during_a_relay_is_not_passed_on_and_the_sender_is_told(app):
    application, svc = app
    _claimed(svc)
    await deliver(application)
    before = len(application.request_log.calls)
    photo = _message(OWNER, photo=PHOTO, caption="logo")
    await _push(application, _edit(photo, caption="logo mới"))
    assert [p["text"] for p in _to(application, OWNER["id"], before)] == [t("vi", "handoff.edit_not_relayed")]
    assert not _to(application, MINH["id"], before)


async def test_edits_in_the_consultants_group_are_ignored(app):
    application, svc = app
    tid = _claimed(svc)
    await deliver(application)
    before = len(application.request_log.calls)
    await _push(application, _edit(_message(MINH, "/queue", chat_id=GROUP), f"/close {tid}"))
    assert not application.request_log.calls[before:]
    assert svc.has_active(OWNER["id"])  # the edited /close did not close the ticket


def test_the_verdict_without_telegram():
    now = dt.datetime.now(dt.UTC)
    recent = now - dt.timedelta(minutes=1)
    assert edits.verdict(QUESTION, "", recent, now) is edits.EditVerdict.ANSWER
    assert edits.verdict("/help", "", recent, now) is edits.EditVerdict.COMMAND
    assert edits.verdict(QUESTION, "photo", recent, now) is edits.EditVerdict.NOT_READ
    assert edits.verdict(QUESTION, "", now - edits.MAX_AGE - dt.timedelta(minutes=1), now) is edits.EditVerdict.NOT_READ
    assert edits.verdict("   ", "", recent, now) is edits.EditVerdict.NOT_READ
