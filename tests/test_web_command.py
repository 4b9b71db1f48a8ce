"""/web in Telegram: an admin gets a one-time login link to the staff web console; others the usual refusal."""

from __future__ import annotations

import itertools
import time
from urllib.parse import parse_qs, urlparse

import pytest
from telegram import Update

from bot import i18n
from bot.app import build_services
from bot.config import Settings
from bot.telegram import menus
from bot.telegram.runner import build_application
from tests.fake_request import RecordingRequest

ADMIN = {"id": 4242, "is_bot": False, "first_name": "Minh", "language_code": "vi"}
_ids = itertools.count(1)


@pytest.fixture
async def app(tmp_path, embedder):
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        knowledge_dir=tmp_path / "knowledge",
        telegram_bot_token="1:TEST",
        admin_ids=[ADMIN["id"]],
        web_base_url="https://kb.example.vn/",
    )
    request = RecordingRequest()
    application = build_application(build_services(settings, embedder=embedder), request=request)
    await application.initialize()
    application.request_log = request
    yield application
    await application.shutdown()


async def _web(app, user: dict, chat_type: str = "private") -> dict:
    chat = {"id": user["id"] if chat_type == "private" else -100777, "type": chat_type}
    message = {
        "message_id": next(_ids),
        "date": int(time.time()),
        "chat": chat,
        "from": user,
        "text": "/web",
        "entities": [{"type": "bot_command", "offset": 0, "length": 4}],
    }
    before = len(app.request_log.sent("sendMessage"))
    await app.process_update(Update.de_json({"update_id": next(_ids), "message": message}, app.bot))
    sent = app.request_log.sent("sendMessage")
    assert len(sent) == before + 1
    return sent[-1]


def _link(text: str) -> str:
    return next(word for word in text.split() if word.startswith("https://"))


async def test_an_admin_gets_a_one_time_link_in_their_language(app):
    sent = await _web(app, ADMIN)
    link = _link(sent["text"])
    assert link.startswith("https://kb.example.vn/login?token=")
    assert "10 phút" in sent["text"] and "một lần" in sent["text"] and sent["parse_mode"] == "HTML"
    assert sent["link_preview_options"]["is_disabled"] is True  # a preview fetch must not touch the link
    token = parse_qs(urlparse(link).query)["token"][0]
    logins = app.bot_data.services.web_logins
    result = logins.redeem(token)  # the link the admin got opens a session, once
    assert result.admin_id == ADMIN["id"] and result.cookie and logins.admin_for(result.cookie) == ADMIN["id"]
    assert logins.redeem(token).refused == "used"

    english = await _web(app, {**ADMIN, "language_code": "en"})
    assert "10 minutes" in english["text"] and "once" in english["text"]
    assert _link(english["text"]) != link  # every /web is a new link


async def test_others_are_refused_and_groups_are_told_to_use_a_private_chat(app):
    stranger = {**ADMIN, "id": 777, "first_name": "X"}
    sent = await _web(app, stranger)
    assert sent["text"] == i18n.t(i18n.STAFF, "admin.admin_only") and "token" not in sent["text"]
    group = await _web(app, ADMIN, chat_type="group")
    assert group["text"] == i18n.t(i18n.STAFF, "admin.admin_private") and "token" not in group["text"]


def test_web_is_in_the_admins_menu_and_help():
    assert "web" in menus.STAFF and "web" not in menus.OWNER
    assert "/web" in i18n.t("vi", "admin.kb_help") and "/web" in i18n.t("en", "admin.kb_help")
