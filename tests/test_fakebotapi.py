"""Fast tests of the fake Bot API server (no bot process)."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from tests.fakebotapi import FakeBotAPI, parse_html, parse_markdown_v2

TOKEN = "123456:TEST-token_x"
USER = 1001
OTHER = 1002
GROUP = -1001234567890


@pytest.fixture
def api():
    server = FakeBotAPI(token=TOKEN, username="sme_test_bot")
    server.start()
    server.add_private_user(USER, first_name="Lan", username="lan_vn")
    server.add_private_user(OTHER, first_name="Minh", language_code="en")
    server.add_group(GROUP, "SME consultants")
    yield server
    server.stop()


@pytest.fixture
def client(api):
    with httpx.Client(base_url=f"{api.base_url}/bot{TOKEN}", timeout=10, trust_env=False) as c:
        yield c


def call(client: httpx.Client, method: str, **params) -> tuple[int, dict]:
    """JSON-encoded call."""
    response = client.post(f"/{method}", json=params)
    return response.status_code, response.json()


def form_call(client: httpx.Client, method: str, **params) -> tuple[int, dict]:
    """Form-encoded call the way python-telegram-bot does it (non-strings JSON-encoded)."""
    data = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in params.items()}
    response = client.post(f"/{method}", data=data)
    return response.status_code, response.json()


def assert_error(result: tuple[int, dict], code: int, description: str) -> dict:
    status, body = result
    assert status == code, body
    assert body["ok"] is False and body["error_code"] == code, body
    assert body["description"].startswith(description), body
    return body


# ------------------------------------------------------------------ basics


def test_get_me_token_and_unknown_method(api, client):
    status, body = call(client, "getMe")
    assert status == 200 and body["ok"] is True
    assert body["result"]["is_bot"] is True
    assert body["result"]["username"] == "sme_test_bot"
    assert body["result"]["id"] == 123456

    # method names are case-insensitive, GET works too
    assert client.get("/getme").json()["result"]["id"] == 123456

    with httpx.Client(trust_env=False) as raw:
        wrong = raw.post(f"{api.base_url}/bot999:WRONG/getMe")
        assert wrong.status_code == 401
        assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}

    assert_error(call(client, "sendTelepathy", chat_id=USER), 404, "Not Found: method not found")


def test_send_message_form_and_json_and_records(api, client):
    status, body = form_call(
        client,
        "sendMessage",
        chat_id=USER,
        text="Xin chào <b>Lan</b>",
        parse_mode="HTML",
        reply_markup={
            "inline_keyboard": [[{"text": "Có", "callback_data": "yes"}, {"text": "Web", "url": "https://example.com"}]]
        },
    )
    assert status == 200, body
    message = body["result"]
    assert message["message_id"] == 1
    assert message["chat"] == {"id": USER, "type": "private", "first_name": "Lan", "username": "lan_vn"}
    assert message["from"]["is_bot"] is True
    assert message["text"] == "Xin chào Lan"
    assert message["entities"] == [{"type": "bold", "offset": 9, "length": 3}]
    assert message["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "yes"

    status, body = call(client, "sendMessage", chat_id=str(USER), text="second")
    assert status == 200 and body["result"]["message_id"] == 2

    records = api.messages(USER)
    assert [r["text"] for r in records] == ["Xin chào Lan", "second"]
    assert records[0]["raw"] == "Xin chào <b>Lan</b>" and records[0]["parse_mode"] == "HTML"
    assert api.buttons(records[0]) == [("Có", "yes"), ("Web", None)]
    assert records[0]["received_at"] <= records[1]["received_at"] <= time.monotonic()
    assert api.messages(OTHER) == []
    assert [c["method"] for c in api.calls] == ["sendMessage", "sendMessage"]
    assert api.calls[0]["params"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "Có"
    assert api.errors() == []


def test_chat_and_block_errors(api, client):
    assert_error(call(client, "sendMessage", chat_id=4242, text="hi"), 400, "Bad Request: chat not found")
    assert_error(call(client, "sendMessage", chat_id="@nobody", text="hi"), 400, "Bad Request: chat not found")
    api.block(USER)
    assert_error(call(client, "sendMessage", chat_id=USER, text="hi"), 403, "Forbidden: bot was blocked by the user")
    assert_error(call(client, "sendChatAction", chat_id=USER, action="typing"), 403, "Forbidden: bot was blocked")
    assert len(api.errors()) == 4
    assert api.errors()[-1]["method"] == "sendChatAction"
    # writing to the bot again means the user pressed "Restart"
    api.send_text(USER, "I'm back")
    assert not api.is_blocked(USER)
    assert call(client, "sendMessage", chat_id=USER, text="welcome back")[0] == 200
    api.kick_bot(GROUP)
    assert_error(
        call(client, "sendMessage", chat_id=GROUP, text="hi"), 403, "Forbidden: bot was kicked from the supergroup chat"
    )


def test_text_validation(api, client):
    assert_error(call(client, "sendMessage", chat_id=USER, text=""), 400, "Bad Request: message text is empty")
    assert_error(call(client, "sendMessage", chat_id=USER), 400, "Bad Request: message text is empty")
    assert_error(call(client, "sendMessage", chat_id=USER, text="  \n "), 400, "Bad Request: message text is empty")
    assert_error(
        call(client, "sendMessage", chat_id=USER, text="<b></b>", parse_mode="HTML"),
        400,
        "Bad Request: message text is empty",
    )
    # 4096 UTF-16 code units: an emoji counts twice
    assert call(client, "sendMessage", chat_id=USER, text="😀" * 2048)[0] == 200
    assert_error(
        call(client, "sendMessage", chat_id=USER, text="😀" * 2048 + "x"), 400, "Bad Request: message is too long"
    )
    assert call(client, "sendMessage", chat_id=USER, text="ệ" * 4096)[0] == 200
    # the limit applies to the text after entity parsing
    assert call(client, "sendMessage", chat_id=USER, text="<b>" + "a" * 4096 + "</b>", parse_mode="HTML")[0] == 200


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("1 < 2", 'Unsupported start tag ""'),
        ("<b>bold", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", "Unmatched end tag"),
        ("line<br>break", 'Unsupported start tag "br"'),
        ("<div>x</div>", 'Unsupported start tag "div"'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
        ("x</b>", "Unexpected end tag"),
    ],
)
def test_html_rejected(client, text, fragment):
    body = assert_error(
        call(client, "sendMessage", chat_id=USER, text=text, parse_mode="HTML"),
        400,
        "Bad Request: can't parse entities: ",
    )
    assert fragment in body["description"]


def test_html_accepted():
    text, entities = parse_html(
        "<b>B</b><strong>S</strong><i>I</i><em>E</em><u>U</u><ins>N</ins><s>S</s><strike>K</strike><del>D</del>"
        '<span class="tg-spoiler">P</span><tg-spoiler>T</tg-spoiler><a href="https://a.vn/?x=1&amp;y=2">A</a>'
        '<code>C</code><pre>R</pre><blockquote>Q</blockquote><tg-emoji emoji-id="1">👍</tg-emoji>'
        " &lt;&gt;&amp;&quot; &#39;&#x41; a & b"
    )
    assert text == "BSIEUNSKDPTACRQ👍 <>&\" 'A a & b"
    types = [e["type"] for e in entities]
    assert types == [
        "bold",
        "bold",
        "italic",
        "italic",
        "underline",
        "underline",
        "strikethrough",
        "strikethrough",
        "strikethrough",
        "spoiler",
        "spoiler",
        "text_link",
        "code",
        "pre",
        "blockquote",
        "custom_emoji",
    ]
    assert entities[11]["url"] == "https://a.vn/?x=1&y=2"


def test_markdown_v2(client):
    text, entities = parse_markdown_v2(r"*Đậm* _nghiêng_ __gạch__ ~xoá~ ||ẩn|| `a_b` [web](https://a\.vn) 1\.5\-2\!")
    assert text == "Đậm nghiêng gạch xoá ẩn a_b web 1.5-2!"
    assert [e["type"] for e in entities] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "text_link",
    ]
    assert entities[-1]["url"] == "https://a.vn"
    for bad, char in [
        ("Giá: 1.5 triệu", "."),
        ("a-b", "-"),
        ("(x)", "("),
        ("x = y", "="),
        ("Hi!", "!"),
        ("a > b", ">"),
        ("#tag", "#"),
    ]:
        body = assert_error(
            call(client, "sendMessage", chat_id=USER, text=bad, parse_mode="MarkdownV2"),
            400,
            "Bad Request: can't parse entities: ",
        )
        assert f"Character '{char}' is reserved" in body["description"]
    body = assert_error(
        call(client, "sendMessage", chat_id=USER, text="*open", parse_mode="MarkdownV2"),
        400,
        "Bad Request: can't parse entities: Can't find end of Bold entity",
    )
    status, body = call(client, "sendMessage", chat_id=USER, text=">trích dẫn\n*ok*", parse_mode="MarkdownV2")
    assert status == 200
    assert body["result"]["text"] == "trích dẫn\nok"
    # legacy Markdown is lenient about punctuation but not about unclosed entities
    assert call(client, "sendMessage", chat_id=USER, text="1.5 - (x)!", parse_mode="Markdown")[0] == 200
    assert_error(
        call(client, "sendMessage", chat_id=USER, text="snake_case", parse_mode="Markdown"),
        400,
        "Bad Request: can't parse entities: Can't find end of the entity",
    )


def test_keyboard_validation(client):
    def send(markup):
        return call(client, "sendMessage", chat_id=USER, text="pick", reply_markup=markup)

    assert send({"inline_keyboard": [[{"text": "ok", "callback_data": "x" * 64}]]})[0] == 200
    assert_error(
        send({"inline_keyboard": [[{"text": "ok", "callback_data": "x" * 65}]]}),
        400,
        "Bad Request: BUTTON_DATA_INVALID",
    )
    assert_error(
        send({"inline_keyboard": [[{"text": "ok", "callback_data": "ệ" * 22}]]}),
        400,  # 66 bytes
        "Bad Request: BUTTON_DATA_INVALID",
    )
    assert_error(
        send({"inline_keyboard": [[{"text": "ok", "callback_data": ""}]]}), 400, "Bad Request: BUTTON_DATA_INVALID"
    )
    assert_error(send({"inline_keyboard": [[{"text": "", "callback_data": "a"}]]}), 400, "Bad Request: ")
    assert_error(
        send({"inline_keyboard": [[{"text": "only text"}]]}),
        400,
        "Bad Request: can't parse inline keyboard button: Text buttons are unallowed",
    )
    assert_error(
        send({"inline_keyboard": [[{"text": "u", "url": "not a url"}]]}), 400, "Bad Request: BUTTON_URL_INVALID"
    )
    assert send({"keyboard": [[{"text": "Menu"}], ["Help"]], "resize_keyboard": True})[0] == 200
    assert send({"remove_keyboard": True})[0] == 200
    status, _ = form_call(client, "sendMessage", chat_id=USER, text="x", reply_markup="{not json")
    assert status == 400


def test_caption_limit_and_documents(api, client):
    files = {"document": ("báo cáo.pdf", b"%PDF-1.4 fake", "application/pdf")}
    ok = client.post("/sendDocument", data={"chat_id": str(USER), "caption": "c" * 1024}, files=files)
    assert ok.status_code == 200, ok.json()
    document = ok.json()["result"]["document"]
    assert document["file_name"] == "báo cáo.pdf" and document["mime_type"] == "application/pdf"
    too_long = client.post("/sendDocument", data={"chat_id": str(USER), "caption": "c" * 1025}, files=files)
    assert too_long.status_code == 400
    assert too_long.json()["description"] == "Bad Request: message caption is too long"

    uploaded = api.uploaded_files()
    assert len(uploaded) == 1 and uploaded[0]["data"] == b"%PDF-1.4 fake"
    record = api.messages(USER)[-1]
    assert record["kind"] == "document" and record["caption"] == "c" * 1024

    # re-sending by file_id works, unknown identifiers do not
    assert call(client, "sendDocument", chat_id=GROUP, document=document["file_id"])[0] == 200
    assert_error(
        call(client, "sendDocument", chat_id=GROUP, document="garbage"),
        400,
        "Bad Request: wrong file identifier/HTTP URL specified",
    )
    assert_error(call(client, "sendDocument", chat_id=GROUP), 400, "Bad Request: there is no document in the request")

    # the bot's own upload is downloadable too
    path = call(client, "getFile", file_id=document["file_id"])[1]["result"]["file_path"]
    assert httpx.get(f"{api.base_url}/file/bot{TOKEN}/{path}", trust_env=False).content == b"%PDF-1.4 fake"


def test_user_document_get_file_and_download(api, client):
    update = api.send_document(
        USER,
        "kehoach.docx",
        b"PK\x03\x04 docx bytes",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    )
    document = update["message"]["document"]
    assert document["file_name"] == "kehoach.docx" and document["file_size"] == 15
    status, body = call(client, "getFile", file_id=document["file_id"])
    assert status == 200
    file_path = body["result"]["file_path"]
    assert file_path.endswith(".docx")
    with httpx.Client(trust_env=False) as raw:
        download = raw.get(f"{api.base_url}/file/bot{TOKEN}/{file_path}")
        assert download.status_code == 200 and download.content == b"PK\x03\x04 docx bytes"
        assert raw.get(f"{api.base_url}/file/bot{TOKEN}/documents/nope.bin").status_code == 404
    assert_error(call(client, "getFile", file_id="nope"), 400, "Bad Request: invalid file_id")

    photo = api.send_photo(USER, caption="ảnh")["message"]
    assert photo["caption"] == "ảnh" and len(photo["photo"]) == 2
    for size in photo["photo"]:
        assert call(client, "getFile", file_id=size["file_id"])[0] == 200
    voice = api.send_voice(USER, duration=7)["message"]["voice"]
    assert voice["duration"] == 7 and call(client, "getFile", file_id=voice["file_id"])[0] == 200
    sticker = api.send_sticker(USER)["message"]["sticker"]
    assert sticker["type"] == "regular"


def test_send_photo_upload(api, client):
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000280000001e00806000000") + b"\x00" * 40
    ok = client.post("/sendPhoto", data={"chat_id": str(USER)}, files={"photo": ("chart.png", png, "image/png")})
    assert ok.status_code == 200, ok.json()
    assert ok.json()["result"]["photo"][-1]["width"] == 640
    bad = client.post(
        "/sendPhoto", data={"chat_id": str(USER)}, files={"photo": ("x.png", b"not an image", "image/png")}
    )
    assert bad.status_code == 400 and bad.json()["description"] == "Bad Request: IMAGE_PROCESS_FAILED"


# ------------------------------------------------------------------ edits, deletes, callbacks


def test_edit_and_delete(api, client):
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    sent = call(client, "sendMessage", chat_id=USER, text="Đang tìm…", reply_markup=markup)[1]["result"]
    mid = sent["message_id"]

    same = call(client, "editMessageText", chat_id=USER, message_id=mid, text="Đang tìm…", reply_markup=markup)
    assert_error(same, 400, "Bad Request: message is not modified")
    # same text without reply_markup removes the keyboard: that is a modification
    status, body = call(client, "editMessageText", chat_id=USER, message_id=mid, text="Đang tìm…")
    assert status == 200 and "reply_markup" not in body["result"] and "edit_date" in body["result"]
    status, body = call(
        client,
        "editMessageText",
        chat_id=USER,
        message_id=mid,
        text="<i>Xong</i>",
        parse_mode="HTML",
        reply_markup=markup,
    )
    assert status == 200 and body["result"]["text"] == "Xong"
    assert_error(
        call(client, "editMessageReplyMarkup", chat_id=USER, message_id=mid, reply_markup=markup),
        400,
        "Bad Request: message is not modified",
    )
    assert call(client, "editMessageReplyMarkup", chat_id=USER, message_id=mid)[0] == 200

    record = api.get_message(USER, mid)
    assert record["text"] == "Xong" and record["reply_markup"] is None
    assert [v["text"] for v in record["history"]] == ["Đang tìm…", "Đang tìm…", "Xong", "Xong"]
    assert len(record["edits"]) == 3 and record["edited_at"] >= record["received_at"]

    assert_error(
        call(client, "editMessageText", chat_id=USER, message_id=999, text="x"),
        400,
        "Bad Request: message to edit not found",
    )
    user_msg = api.send_text(USER, "hello")["message"]
    assert_error(
        call(client, "editMessageText", chat_id=USER, message_id=user_msg["message_id"], text="x"),
        400,
        "Bad Request: message can't be edited",
    )

    assert call(client, "deleteMessage", chat_id=USER, message_id=mid) == (200, {"ok": True, "result": True})
    assert_error(
        call(client, "deleteMessage", chat_id=USER, message_id=mid), 400, "Bad Request: message to delete not found"
    )
    assert_error(
        call(client, "editMessageText", chat_id=USER, message_id=mid, text="x"),
        400,
        "Bad Request: message to edit not found",
    )
    assert api.messages(USER) == []
    assert api.messages(USER, include_deleted=True)[0]["deleted"] is True


def test_callback_queries(api, client):
    markup = {"inline_keyboard": [[{"text": "Có", "callback_data": "yes"}, {"text": "Không", "callback_data": "no"}]]}
    call(client, "sendMessage", chat_id=USER, text="Đồng ý?", reply_markup=markup)
    message = api.wait_for_message(USER, contains="Đồng ý")

    query_id = api.press_button(USER, message, "yes")
    update = api.pending_updates()[-1]
    query = update["callback_query"]
    assert query["id"] == query_id and query["data"] == "yes" and query["from"]["id"] == USER
    assert query["message"]["message_id"] == message["message_id"] and query["chat_instance"]
    assert api.press_button(USER, message, text="Không") != query_id
    with pytest.raises(AssertionError, match="no button"):
        api.press_button(USER, message, "maybe")

    assert call(client, "answerCallbackQuery", callback_query_id=query_id, text="Đã ghi nhận") == (
        200,
        {"ok": True, "result": True},
    )
    assert api.callback_answer(query_id)["text"] == "Đã ghi nhận"
    stale = "Bad Request: query is too old and response timeout expired or query ID is invalid"
    assert_error(call(client, "answerCallbackQuery", callback_query_id=query_id), 400, stale)
    assert_error(call(client, "answerCallbackQuery", callback_query_id="123"), 400, stale)


def test_copy_and_forward(api, client):
    original = api.send_text(USER, "Câu hỏi của tôi")["message"]
    status, body = call(client, "copyMessage", chat_id=GROUP, from_chat_id=USER, message_id=original["message_id"])
    assert status == 200 and set(body["result"]) == {"message_id"}
    status, body = call(client, "forwardMessage", chat_id=GROUP, from_chat_id=USER, message_id=original["message_id"])
    assert status == 200
    assert body["result"]["forward_origin"]["sender_user"]["id"] == USER
    assert [m["text"] for m in api.messages(GROUP)] == ["Câu hỏi của tôi", "Câu hỏi của tôi"]
    assert_error(
        call(client, "copyMessage", chat_id=GROUP, from_chat_id=USER, message_id=77),
        400,
        "Bad Request: message to copy not found",
    )
    assert_error(
        call(client, "forwardMessage", chat_id=GROUP, from_chat_id=USER, message_id=77),
        400,
        "Bad Request: message to forward not found",
    )


def test_reply_parameters(api, client):
    question = api.send_text(USER, "Hỏi")["message"]
    status, body = call(
        client, "sendMessage", chat_id=USER, text="Đáp", reply_parameters={"message_id": question["message_id"]}
    )
    assert status == 200 and body["result"]["reply_to_message"]["text"] == "Hỏi"
    assert api.messages(USER)[-1]["reply_to_message_id"] == question["message_id"]
    assert_error(
        call(client, "sendMessage", chat_id=USER, text="x", reply_parameters={"message_id": 999}),
        400,
        "Bad Request: message to be replied not found",
    )
    assert (
        call(
            client,
            "sendMessage",
            chat_id=USER,
            text="x",
            reply_parameters={"message_id": 999, "allow_sending_without_reply": True},
        )[0]
        == 200
    )


# ------------------------------------------------------------------ updates


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
        with httpx.Client(base_url=f"{api.base_url}/bot{TOKEN}", timeout=10, trust_env=False) as other:
            results["first"] = call(other, "getUpdates", timeout=5)

    thread = threading.Thread(target=poll)
    thread.start()
    time.sleep(0.3)  # the first poll is now waiting
    assert call(client, "getUpdates", timeout=0)[0] == 200
    thread.join(5)
    assert_error(results["first"], 409, "Conflict: terminated by other getUpdates request")


def test_webhook_delivery_secret_and_retry(api, client):
    received: list[tuple[dict, str | None]] = []
    fail_first = {"left": 1}

    class Hook(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if fail_first["left"]:
                fail_first["left"] -= 1
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            received.append((body, self.headers.get("X-Telegram-Bot-Api-Secret-Token")))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{hook.server_address[1]}/tg"
        api.webhook_retry_delay = 0.05
        status, body = call(client, "setWebhook", url=url, secret_token="s3cr3t-_X")
        assert status == 200 and body == {"ok": True, "result": True, "description": "Webhook was set"}
        assert call(client, "getWebhookInfo")[1]["result"]["url"] == url
        assert_error(call(client, "getUpdates"), 409, "Conflict: can't use getUpdates method while webhook is active")

        update = api.send_text(USER, "qua webhook")
        api.wait_until(lambda: received, timeout=5, message="webhook delivery")
        body, secret = received[0]
        assert body == update and secret == "s3cr3t-_X"
        deliveries = api.webhook_deliveries()
        assert [d["status"] for d in deliveries] == [500, 200]
        api.wait_for_updates_consumed(timeout=5)
        info = call(client, "getWebhookInfo")[1]["result"]
        assert info["pending_update_count"] == 0 and "500" in info["last_error_message"]

        assert_error(call(client, "setWebhook", url=url, secret_token="bad token!"), 400, "Bad Request: secret token")
        assert call(client, "deleteWebhook")[1]["description"] == "Webhook was deleted"
        assert call(client, "deleteWebhook")[1]["description"] == "Webhook is already deleted"
        assert call(client, "getUpdates")[0] == 200
    finally:
        hook.shutdown()
        hook.server_close()


# ------------------------------------------------------------------ misc methods


def test_commands_menu_chat_action_get_chat(api, client):
    commands = [{"command": "start", "description": "Bắt đầu"}, {"command": "help", "description": "Trợ giúp"}]
    assert call(client, "setMyCommands", commands=commands)[1]["result"] is True
    assert (
        call(client, "setMyCommands", commands=[{"command": "start", "description": "Start"}], language_code="en")[1][
            "result"
        ]
        is True
    )
    assert call(client, "getMyCommands")[1]["result"] == commands
    assert call(client, "getMyCommands", language_code="en")[1]["result"][0]["description"] == "Start"
    assert api.commands() == commands
    assert_error(
        call(client, "setMyCommands", commands=[{"command": "Bad-Cmd", "description": "x"}]),
        400,
        "Bad Request: BOT_COMMAND_INVALID",
    )
    assert call(client, "deleteMyCommands")[1]["result"] is True
    assert call(client, "getMyCommands")[1]["result"] == []

    assert call(client, "setChatMenuButton", menu_button={"type": "commands"})[1]["result"] is True
    assert api.menu_button() == {"type": "commands"}
    assert call(client, "sendChatAction", chat_id=USER, action="typing")[1]["result"] is True
    assert_error(
        call(client, "sendChatAction", chat_id=USER, action="dancing"), 400, "Bad Request: wrong parameter action"
    )
    assert api.chat_actions(USER)[0]["action"] == "typing"

    chat = call(client, "getChat", chat_id=GROUP)[1]["result"]
    assert chat["title"] == "SME consultants" and chat["type"] == "supergroup"
    assert_error(call(client, "getChat", chat_id=5), 400, "Bad Request: chat not found")


def test_flood_and_fail_next(api, client):
    api.set_flood(USER, 3)
    body = assert_error(call(client, "sendMessage", chat_id=USER, text="x"), 429, "Too Many Requests: retry after 3")
    assert body["parameters"] == {"retry_after": 3}
    assert call(client, "sendMessage", chat_id=USER, text="x")[0] == 200
    assert call(client, "sendMessage", chat_id=OTHER, text="x")[0] == 200

    api.fail_next("sendMessage", 502, "Bad Gateway")
    assert_error(call(client, "sendMessage", chat_id=USER, text="x"), 502, "Bad Gateway")
    assert call(client, "sendMessage", chat_id=USER, text="x")[0] == 200


# ------------------------------------------------------------------ test helpers


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
    assert "Trả lời" in api.dump()


def test_thread_safety_and_restart(api):
    errors = []

    def worker(n):
        try:
            with httpx.Client(base_url=f"{api.base_url}/bot{TOKEN}", timeout=10, trust_env=False) as c:
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


# ------------------------------------------------------------------ python-telegram-bot against the fake


async def test_python_telegram_bot_client(api):
    from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
    from telegram.constants import ParseMode
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
        updates = await bot.get_updates(timeout=1)
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

        api.send_document(USER, "a.txt", b"noi dung", "text/plain")
        doc_update = (await bot.get_updates(offset=updates[-1].update_id + 1))[0]
        tg_file = await doc_update.message.document.get_file()
        assert bytes(await tg_file.download_as_bytearray()) == b"noi dung"

        document = await bot.send_document(USER, b"%PDF-1.4", filename="report.pdf", caption="Báo cáo")
        assert document.document.file_name == "report.pdf" and document.caption == "Báo cáo"
        assert await bot.send_chat_action(USER, "typing")
        chat = await bot.get_chat(GROUP)
        assert chat.title == "SME consultants"
        await bot.set_my_commands([("start", "Bắt đầu")])
        assert [c.command for c in await bot.get_my_commands()] == ["start"]
        assert await bot.delete_message(USER, sent.message_id)

    failed = {(c["method"], c["error_code"]) for c in api.errors()}
    assert failed == {("sendMessage", 400), ("sendMessage", 403), ("editMessageText", 400)}
