"""Handoff buttons through the real handlers (Application.process_update with a recording request, no network)."""

import time

import pytest
from telegram import Update

from bot.i18n import items
from bot.telegram.handoff_delivery import deliver
from tests.test_handlers import handoff_app, indexed  # noqa: F401 - indexed: the sample knowledge base

GROUP = -1009876543210
OWNER = {"id": 601, "is_bot": False, "first_name": "Lan", "language_code": "vi"}
MINH = {"id": 2001, "is_bot": False, "first_name": "Minh", "language_code": "vi"}
_ids = iter(range(1, 10**6))


@pytest.fixture
async def app(indexed, embedder, tmp_path):  # noqa: F811
    application, svc = await handoff_app(indexed, embedder, tmp_path, GROUP, MINH["id"])
    yield application, svc
    await application.shutdown()


async def _press(app, user, data, chat_id, message_id=1):
    chat = {"id": chat_id, "type": "private" if chat_id > 0 else "supergroup", "title": "g"}
    query = {
        "id": f"q{next(_ids)}",
        "from": user,
        "chat_instance": "c",
        "data": data,
        "message": {"message_id": message_id, "date": int(time.time()), "chat": chat, "text": "x"},
    }
    await app.process_update(Update.de_json({"update_id": next(_ids), "callback_query": query}, app.bot))


def _open(svc, user_id):
    out = svc.request(user_id, "Lan", "command", f"m:{next(_ids)}")
    svc.skip_intake(user_id, out.ticket_id)
    return out.ticket_id


async def test_example_button_goes_to_the_consultant_while_a_ticket_is_claimed(app):
    application, svc = app
    svc.claim(_open(svc, OWNER["id"]), MINH["id"])
    await deliver(application)  # what the claim caused
    log = application.request_log
    before = len(log.calls)
    await _press(application, OWNER, "ex:ip:0", OWNER["id"])
    calls = log.calls[before:]
    assert [name for name, _ in calls].count("answerCallbackQuery") == 1
    to_minh = [p for name, p in calls if name == "sendMessage" and int(p["chat_id"]) == MINH["id"]]
    assert any(items("vi", "topics.examples_ip")[0] in p["text"] and "Lan" in p["text"] for p in to_minh)
    assert not [
        p for name, p in calls if name in ("sendMessage", "sendChatAction") and int(p["chat_id"]) == OWNER["id"]
    ]  # the bot does not answer in the consultant's place


async def test_example_button_is_answered_by_the_bot_without_a_consultant(app):
    application, _ = app
    await _press(application, OWNER, "ex:ip:0", OWNER["id"])
    sent = application.request_log.sent("sendMessage")
    assert any("10 năm" in p["text"] for p in sent if int(p["chat_id"]) == OWNER["id"])


async def test_claim_from_a_queue_list_does_not_turn_the_list_into_a_card(app):
    application, svc = app
    tid = _open(svc, OWNER["id"])
    text, buttons = svc.queue(MINH["id"])
    data = buttons[0][0][1]
    list_message = 4242
    await _press(application, MINH, data, GROUP, list_message)
    log = application.request_log
    assert log.sent("answerCallbackQuery")
    assert any(f"Yêu cầu #{tid}" in p["text"] for p in log.sent("sendMessage") if int(p["chat_id"]) == MINH["id"])
    assert not [p for p in log.sent("editMessageText") if int(p.get("message_id") or 0) == list_message]
    assert f"#{tid}" in text


async def test_queue_of_twenty_long_names_reaches_telegram_in_valid_parts(app):
    from bot.textlen import utf16_len

    application, svc = app
    for n in range(20):
        out = svc.request(700 + n, "Nguyễn Thị Phương Thảo " * 8 + f"số {n}", "command", f"m:{next(_ids)}")
        svc.skip_intake(700 + n, out.ticket_id)
    command = {
        "message_id": next(_ids),
        "date": int(time.time()),
        "chat": {"id": MINH["id"], "type": "private"},
        "from": MINH,
        "text": "/queue",
        "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
    }
    await application.process_update(Update.de_json({"update_id": next(_ids), "message": command}, application.bot))
    parts = [m for m in application.request_log.sent("sendMessage") if str(m["chat_id"]) == str(MINH["id"])]
    assert parts and all(utf16_len(p["text"]) <= 4096 for p in parts)
    assert all(f"#{n}" in "".join(p["text"] for p in parts) for n in range(1, 21))  # nobody left out
    assert parts[-1].get("reply_markup") and not any(p.get("reply_markup") for p in parts[:-1])
