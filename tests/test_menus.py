"""Command menus per scope and language, as recorded by the offline request class (no network)."""

import pytest

from bot import i18n
from bot.app import build_services
from bot.config import Settings
from bot.telegram import menus
from bot.telegram.runner import build_application
from tests.fake_request import RecordingRequest

GROUP = -1004455667788
ADMIN, CONSULTANT, BOTH = 11, 2001, 12


@pytest.fixture
async def app(tmp_path):
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path / "data",
        knowledge_dir=tmp_path / "knowledge",
        telegram_bot_token="1:TEST",
        consultants_chat_id=GROUP,
        admin_ids=f"{ADMIN},{BOTH}",
    )
    request = RecordingRequest()
    application = build_application(build_services(settings), request=request)
    services = application.bot_data.services
    services.handoff.consultants.add(CONSULTANT, "Minh", "ip")
    services.handoff.consultants.add(BOTH, "Hà", "funding")
    await application.initialize()
    application.request_log = request
    yield application
    await application.shutdown()


def _menus(calls) -> dict[tuple, list[tuple[str, str]]]:
    """(scope type, chat id, language code) -> [(command, description)] of the recorded setMyCommands calls."""
    found = {}
    for method, params in calls:
        if method != "setMyCommands":
            continue
        scope = params.get("scope") or {"type": "default"}
        key = (scope["type"], scope.get("chat_id"), params.get("language_code"))
        found[key] = [(c["command"], c["description"]) for c in params.get("commands", [])]
    return found


def _names(menu):
    return [name for name, _ in menu]


async def test_each_scope_gets_its_menu_in_vietnamese_and_english(app):
    await menus.install(app)
    found = _menus(app.request_log.calls)
    private, group = ("all_private_chats", None), ("chat", GROUP)
    admin, consultant, both = ("chat", ADMIN), ("chat", CONSULTANT), ("chat", BOTH)
    assert set(found) == {
        (*scope, lang) for scope in (private, group, admin, consultant, both) for lang in (None, "en")
    }
    assert _names(found[(*private, None)]) == list(menus.OWNER)
    assert _names(found[(*group, None)]) == list(menus.CONSULTANT)
    assert _names(found[(*consultant, None)]) == [*menus.OWNER, *menus.CONSULTANT]
    assert _names(found[(*admin, None)]) == list(dict.fromkeys([*menus.OWNER, *menus.STAFF]))
    assert _names(found[(*both, None)]) == list(dict.fromkeys([*menus.OWNER, *menus.CONSULTANT, *menus.STAFF]))
    for key, menu in found.items():
        lang = "en" if key[2] == "en" else "vi"
        assert _names(found[(*key[:2], "en")]) == _names(menu)  # the same commands in both languages
        assert menu == [(name, i18n.t(lang, f"menus.{name}")) for name in _names(menu)]
    assert ("human", "Gặp chuyên gia") in found[(*private, None)]
    assert ("human", "Talk to a consultant") in found[(*private, "en")]
    assert ("kb", "Kho tài liệu") in found[(*admin, None)]


async def test_a_consultant_added_or_removed_in_telegram_gets_the_menu_of_their_role(app):
    await menus.install(app)
    request = app.request_log
    before = len(request.calls)
    app.bot_data.services.handoff.consultants.add(3001, "Tèo", "ip")
    await menus.refresh(app, 3001)
    added = _menus(request.calls[before:])
    assert _names(added[("chat", 3001, None)]) == [*menus.OWNER, *menus.CONSULTANT]
    assert ("queue", "Waiting requests") in added[("chat", 3001, "en")]
    before = len(request.calls)
    app.bot_data.services.handoff.remove_consultant(3001)
    await menus.refresh(app, 3001)
    deleted = [(n, p) for n, p in request.calls[before:] if n in ("setMyCommands", "deleteMyCommands")]
    assert {(n, p["scope"]["chat_id"], p.get("language_code")) for n, p in deleted} == {
        ("deleteMyCommands", 3001, None),
        ("deleteMyCommands", 3001, "en"),
    }


async def test_a_menu_telegram_refuses_does_not_stop_the_others(app):
    from telegram.error import BadRequest

    request = app.request_log
    original = request.do_request

    async def refusing(url, method, request_data=None, **kw):
        scope = (request_data.parameters if request_data else {}).get("scope") or ""
        if url.endswith("/setMyCommands") and str(CONSULTANT) in str(scope):
            raise BadRequest("Chat not found")
        return await original(url, method, request_data, **kw)

    request.do_request = refusing
    await menus.install(app)
    found = _menus(request.calls)
    assert ("chat", CONSULTANT, None) not in found and ("chat", BOTH, "en") in found


def test_every_command_in_a_menu_has_a_handler_and_a_description(app):
    from telegram.ext import CommandHandler

    handled = {
        name for group in app.handlers.values() for h in group if isinstance(h, CommandHandler) for name in h.commands
    }
    listed = {*menus.OWNER, *menus.CONSULTANT, *menus.STAFF}
    assert listed <= handled, listed - handled
    for lang in i18n.LANGUAGES:
        assert all(1 <= len(c.description) <= 256 for c in menus.commands(listed, lang))
