"""The fake Bot API's updates, webhook, commands, faults, test helpers, and python-telegram-bot against it."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.support.botapi import FakeBotAPI
from tests.support.botapi_http import GROUP, OTHER, TOKEN, USER, assert_error, call, client_for, served


@pytest.fixture
def api():
    with served() as server:
        yield server


@pytest.fixture
def client(api):
    with client_for(api) as c:
        yield c


def test_get_updates_offset_limit_and_long_poll(api, client):
    first = api.send_command(USER, "/start ref_abc")
    entity = first["message"]["entities"][0]
    assert entity == {"type": "bot_command", "offset": 0, "length": 6}
    api.send_text(OTHER, "hi", chat_id=GROUP)
    _, body = call(client, "getUpdates", limit=1)
    assert [u["update_id"] for u in body["result"]] == [first["update_id"]]
    _, body = call(client, "getUpdates", offset=first["update_id"] + 1)
    assert len(body["result"]) == 1 and body["result"][0]["message"]["chat"]["id"] == GROUP
    assert body["result"][0]["message"]["chat"]["type"] == "supergroup"
    last = body["result"][0]["update_id"]
    assert call(client, "getUpdates", offset=last + 1, timeout=0)[1]["result"] == []
    assert api.pending_updates() == []

    # a long poll returns as soon as an update is injected
    threading.Timer(0.3, lambda: api.send_text(USER, "ping")).start()
    started = time.monotonic()
    _, body = call(client, "getUpdates", offset=last + 1, timeout=5)
    assert 0.2 < time.monotonic() - started < 3
    assert body["result"][0]["message"]["text"] == "ping"
    times = api.update_times(body["result"][0])
    assert times["injected_at"] <= times["delivered_at"]

    # an empty long poll waits for the requested timeout
    call(client, "getUpdates", offset=body["result"][0]["update_id"] + 1)
    started = time.monotonic()
    assert call(client, "getUpdates", timeout=0.4)[1]["result"] == []
    assert time.monotonic() - started >= 0.35


def test_user_replies_carry_the_replied_message(api, client):
    sent = call(client, "sendMessage", chat_id=GROUP, text="Phiếu #7")[1]["result"]
    update = api.send_text(OTHER, "Tôi nhận", chat_id=GROUP, reply_to_message_id=sent["message_id"])
    assert update["message"]["reply_to_message"]["text"] == "Phiếu #7"
    with pytest.raises(KeyError):
        api.send_text(OTHER, "x", chat_id=GROUP, reply_to_message_id=999)


def test_allowed_updates_and_negative_offset(api, client):
    for i in range(3):
        api.send_text(USER, f"m{i}")
    body = call(client, "getUpdates", offset=-1)[1]
    assert [u["message"]["text"] for u in body["result"]] == ["m2"]
    assert len(api.pending_updates()) == 1
    call(client, "getUpdates", offset=body["result"][0]["update_id"] + 1, allowed_updates=["callback_query"])
    api.send_text(USER, "ignored")
    msg = call(
        client,
        "sendMessage",
        chat_id=USER,
        text="q",
        reply_markup={"inline_keyboard": [[{"text": "b", "callback_data": "b"}]]},
    )[1]["result"]
    api.click(USER, USER, msg["message_id"], "b")
    result = call(client, "getUpdates")[1]["result"]
    assert [next(k for k in u if k != "update_id") for u in result] == ["callback_query"]


def test_concurrent_get_updates_conflict(api, client):
    results = {}

    def poll():
        with client_for(api) as other:
            results["first"] = call(other, "getUpdates", timeout=5)

    thread = threading.Thread(target=poll)
    thread.start()
    api.wait_until(lambda: api.state.poll_generation == 1, timeout=5, message="the first long poll")
    assert call(client, "getUpdates", timeout=0)[0] == 200
    thread.join(5)
    assert_error(results["first"], 409, "Conflict: terminated by other getUpdates request")


@contextlib.contextmanager
def webhook_receiver(respond):
    """A webhook on loopback; `respond(body, headers)` gives the HTTP status of each post. Yields its URL."""

    class Hook(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            status = respond(json.loads(self.rfile.read(int(self.headers["Content-Length"]))), self.headers)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{hook.server_address[1]}/tg"
    finally:
        hook.shutdown()
        hook.server_close()


def test_webhook_delivery_secret_and_retry(api, client):
    received: list[tuple[dict, str | None]] = []
    fail_first = {"left": 1}

    def respond(body, headers) -> int:
        if fail_first["left"]:
            fail_first["left"] -= 1
            return 500
        received.append((body, headers.get("X-Telegram-Bot-Api-Secret-Token")))
        return 200

    with webhook_receiver(respond) as url:
        api.webhook_retry_delay = 0.05
        status, body = call(client, "setWebhook", url=url, secret_token="s3cr3t-_X")
        assert status == 200 and body == {"ok": True, "result": True, "description": "Webhook was set"}
        assert_error(call(client, "getUpdates"), 409, "Conflict: can't use getUpdates method while webhook is active")

        update = api.send_text(USER, "qua webhook")
        api.wait_until(lambda: received, timeout=5, message="webhook delivery")
        body, secret = received[0]
        assert body == update and secret == "s3cr3t-_X"
        deliveries = api.webhook_deliveries()
        assert [d["status"] for d in deliveries] == [500, 200]
        assert "500" in deliveries[0]["error"] and deliveries[1]["error"] is None
        api.wait_for_updates_consumed(timeout=5)
        assert api.update_times(update)["deliveries"] == 2

        assert_error(call(client, "setWebhook", url=url, secret_token="bad token!"), 400, "Bad Request: secret token")
        assert_error(call(client, "setWebhook", url="not a url"), 400, "Bad Request: bad webhook")
        assert call(client, "deleteWebhook")[1]["description"] == "Webhook was deleted"
        assert call(client, "deleteWebhook")[1]["description"] == "Webhook is already deleted"
        assert call(client, "getUpdates")[0] == 200


@pytest.mark.parametrize("connections", [40, 1])
def test_webhook_posts_chats_at_once_and_each_chats_updates_in_order(api, client, connections):
    """As Telegram: several connections at once (max_connections), a chat's next update only after the last."""
    spans: list[tuple[int, int, float, float]] = []  # (chat, update_id, start, end)

    def respond(body, headers) -> int:
        start = time.monotonic()
        time.sleep(0.3)
        spans.append((body["message"]["chat"]["id"], body["update_id"], start, time.monotonic()))
        return 200

    with webhook_receiver(respond) as url:
        assert call(client, "setWebhook", url=url, max_connections=connections)[0] == 200
        sent = [api.send_text(chat, f"tin {n}") for n in range(2) for chat in (USER, OTHER)]
        api.wait_for_updates_consumed(timeout=10)
        assert sorted(u for _, u, _, _ in spans) == sorted(u["update_id"] for u in sent)
        for chat in (USER, OTHER):
            mine = sorted((s for s in spans if s[0] == chat), key=lambda s: s[2])
            assert mine[0][1] < mine[1][1] and mine[0][3] <= mine[1][2]  # in order, never two at once
        overlapping = any(a[0] != b[0] and a[2] < b[3] and b[2] < a[3] for a in spans for b in spans)
        assert overlapping == (connections > 1)
        call(client, "deleteWebhook")


def test_commands_and_chat_action(api, client):
    commands = [{"command": "start", "description": "Bắt đầu"}, {"command": "help", "description": "Trợ giúp"}]
    assert call(client, "setMyCommands", commands=commands)[1]["result"] is True
    english = [{"command": "start", "description": "Start"}]
    assert call(client, "setMyCommands", commands=english, language_code="en")[1]["result"] is True
    admin = {"type": "chat", "chat_id": USER}
    assert call(client, "setMyCommands", commands=commands[:1], scope=admin)[1]["result"] is True
    assert api.commands() == commands
    assert api.commands(language_code="en") == english
    assert api.commands(admin) == commands[:1]
    for bad_commands, error in [
        ([{"command": "Bad-Cmd", "description": "x"}], "BOT_COMMAND_INVALID"),
        ([{"command": "ok", "description": " "}], "BOT_COMMAND_DESCRIPTION_INVALID"),
    ]:
        assert_error(call(client, "setMyCommands", commands=bad_commands), 400, "Bad Request: " + error)
    assert_error(
        call(client, "setMyCommands", commands=commands, scope={"type": "chat", "chat_id": 5}),
        400,
        "Bad Request: chat not found",
    )
    assert_error(
        call(client, "setMyCommands", commands=commands, language_code="vie"), 400, "Bad Request: invalid language"
    )
    assert call(client, "deleteMyCommands")[1]["result"] is True
    assert api.commands() == [] and api.commands(admin) == commands[:1]

    assert call(client, "sendChatAction", chat_id=USER, action="typing")[1]["result"] is True
    assert_error(
        call(client, "sendChatAction", chat_id=USER, action="dancing"), 400, "Bad Request: wrong parameter action"
    )
    assert api.chat_actions(USER)[0]["action"] == "typing"


def test_flood_and_fail_next(api, client):
    api.set_flood(USER, 3)
    body = assert_error(call(client, "sendMessage", chat_id=USER, text="x"), 429, "Too Many Requests: retry after 3")
    assert body["parameters"] == {"retry_after": 3}
    assert call(client, "sendMessage", chat_id=USER, text="x")[0] == 200
    assert call(client, "sendMessage", chat_id=OTHER, text="x")[0] == 200

    api.fail_next("sendMessage", 502, "Bad Gateway")
    assert_error(call(client, "sendMessage", chat_id=USER, text="x"), 502, "Bad Gateway")
    assert call(client, "sendMessage", chat_id=USER, text="x")[0] == 200


def test_wait_helpers(api, client):
    update = api.send_text(USER, "câu hỏi")
    sender = threading.Timer(0.2, lambda: call(client, "sendMessage", chat_id=USER, text="Trả lời: 42"))
    sender.start()
    record = api.wait_for_message(USER, contains="42", after=update, timeout=5)
    sender.join(5)  # the server records the message before its HTTP response is written
    assert record["received_at"] > api.injected_at(update)
    assert record["message_id"] > update["message"]["message_id"]

    # after= excludes what was already there
    with pytest.raises(AssertionError) as info:
        api.wait_for_message(USER, contains="42", after=record, timeout=0.3)
    assert "Trả lời: 42" in str(info.value)  # the dump lists recent bot messages

    editor = threading.Timer(
        0.2, lambda: call(client, "editMessageText", chat_id=USER, message_id=record["message_id"], text="Trả lời: 43")
    )
    editor.start()
    edited = api.wait_for_edit(USER, record["message_id"], contains="43", timeout=5)
    editor.join(5)
    assert edited["text"] == "Trả lời: 43"
    found = api.wait_for(lambda r: r["text"].endswith("43"), timeout=1)
    assert found["message_id"] == record["message_id"]
    assert api.wait_for_call("editMessageText", ok=True)["ok"] is True
    assert "Trả lời" in api.dump()


def test_thread_safety_and_restart(api):
    errors = []

    def worker(n):
        try:
            with client_for(api) as c:
                for i in range(20):
                    status, _ = call(c, "sendMessage", chat_id=USER, text=f"{n}-{i}")
                    assert status == 200
                    api.send_text(USER, f"user {n}-{i}")
        except Exception as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    ids = [m["message_id"] for m in api.history(USER)]
    assert len(ids) == 320 and ids == sorted(ids) and len(set(ids)) == 320

    port = api.port
    api.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.post(f"{api.base_url}/bot{TOKEN}/getMe", timeout=2, trust_env=False)
    api.start(port=port)
    assert httpx.post(f"{api.base_url}/bot{TOKEN}/getMe", timeout=2, trust_env=False).status_code == 200
    assert len(api.messages(USER)) == 160


def test_context_manager():
    with FakeBotAPI() as server:
        assert server.base_url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{server.base_url}/bot123:ABC/getMe", trust_env=False).json()["result"]["id"] == 123
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.base_url}/bot123:ABC/getMe", timeout=2, trust_env=False)


async def test_python_telegram_bot_client(api):
    """Every method the bot calls, sent by python-telegram-bot itself, as the bot sends it."""
    from telegram import Bot, BotCommand, BotCommandScopeChat, InlineKeyboardButton, InlineKeyboardMarkup
    from telegram.constants import ChatAction, ParseMode
    from telegram.error import BadRequest, Forbidden

    bot = Bot(TOKEN, base_url=api.api_url, base_file_url=api.file_url)
    async with bot:
        me = await bot.get_me()
        assert me.username == "sme_test_bot" and me.is_bot

        keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Chi tiết", callback_data="more:1")]])
        sent = await bot.send_message(USER, "<b>Chào</b> Lan", parse_mode=ParseMode.HTML, reply_markup=keyboard)
        assert sent.text == "Chào Lan" and sent.chat_id == USER
        assert sent.reply_markup.inline_keyboard[0][0].callback_data == "more:1"

        with pytest.raises(BadRequest, match="too long"):
            await bot.send_message(USER, "x" * 4097)
        with pytest.raises(BadRequest, match="(?i)can't parse entities"):
            await bot.send_message(USER, "a < b", parse_mode=ParseMode.HTML)
        api.block(OTHER)
        with pytest.raises(Forbidden, match="blocked"):
            await bot.send_message(OTHER, "hi")

        api.send_text(USER, "Thủ tục vay vốn?")
        query_id = api.press_button(USER, api.messages(USER)[0], "more:1")
        updates = await bot.get_updates(timeout=1, allowed_updates=["message", "callback_query"])
        assert updates[0].message.text == "Thủ tục vay vốn?"
        assert updates[0].effective_user.language_code == "vi"
        assert updates[1].callback_query.data == "more:1"
        assert updates[1].callback_query.message.message_id == sent.message_id
        assert await updates[1].callback_query.answer("OK")
        assert api.callback_answer(query_id)["text"] == "OK"
        assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()

        edited = await sent.edit_text("Đã cập nhật")
        assert edited.text == "Đã cập nhật" and edited.reply_markup is None
        with pytest.raises(BadRequest, match="not modified"):
            await edited.edit_text("Đã cập nhật")
        marked = await bot.edit_message_reply_markup(USER, sent.message_id, reply_markup=keyboard)
        assert marked.reply_markup.inline_keyboard[0][0].text == "Chi tiết"

        api.send_document(USER, "a.txt", b"noi dung", "text/plain")
        doc_update = (await bot.get_updates(offset=updates[-1].update_id + 1))[0]
        tg_file = await doc_update.message.document.get_file()
        assert bytes(await tg_file.download_as_bytearray()) == b"noi dung"
        copied = await bot.copy_message(GROUP, USER, doc_update.message.message_id, caption="<i>Lan</i> gửi")
        assert api.get_message(GROUP, copied.message_id)["caption"] == "<i>Lan</i> gửi"  # no parse_mode: kept

        document = await bot.send_document(USER, b"%PDF-1.4", filename="report.pdf", caption="Báo cáo")
        assert document.document.file_name == "report.pdf" and document.caption == "Báo cáo"
        png = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000100000000808060000") + b"\x00" * 40
        photo = await bot.send_photo(GROUP, png, caption="Biểu đồ")
        assert photo.photo[-1].width == 16 and photo.caption == "Biểu đồ"
        assert await bot.send_chat_action(USER, ChatAction.TYPING)
        await bot.set_my_commands([BotCommand("kb", "Kho tài liệu")], scope=BotCommandScopeChat(USER))
        assert [c["command"] for c in api.commands({"type": "chat", "chat_id": USER})] == ["kb"]
        assert await bot.delete_my_commands(scope=BotCommandScopeChat(USER))

    failed = {(c["method"], c["error_code"]) for c in api.errors()}
    assert failed == {("sendMessage", 400), ("sendMessage", 403), ("editMessageText", 400)}
