"""The fake Bot API's message methods refuse what Telegram refuses (no bot process)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.botapi import parse_html
from tests.support.botapi_http import GROUP, OTHER, TOKEN, USER, assert_error, call, client_for, form_call, served


@pytest.fixture
def api():
    with served() as server:
        yield server


@pytest.fixture
def client(api):
    with client_for(api) as c:
        yield c


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
    # methods the bot never calls are not modelled
    assert_error(call(client, "forwardMessage", chat_id=USER), 404, "Not Found: method not found")


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
    assert call(client, "sendMessage", chat_id=USER, text="welcome back")[0] == 200


def test_block_with_notify_injects_my_chat_member(api):
    api.block(OTHER, notify=True)
    api.unblock(OTHER, notify=True)
    changes = [u["my_chat_member"] for u in api.pending_updates()]
    assert [(c["old_chat_member"]["status"], c["new_chat_member"]["status"]) for c in changes] == [
        ("member", "kicked"),
        ("kicked", "member"),
    ]
    assert changes[0]["chat"]["id"] == OTHER and changes[0]["new_chat_member"]["user"]["is_bot"] is True


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
    assert_error(
        call(client, "sendMessage", chat_id=USER, text="<b>" + "a" * 4097 + "</b>", parse_mode="HTML"),
        400,
        "Bad Request: message is too long",
    )


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
        ("<b>cut in a tag</", "Unclosed end tag"),
        ('<a href="https://a.vn>x</a>', "Unclosed start tag"),
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
    # the consultant cards link to the user: a text_mention, offsets in UTF-16 units
    text, entities = parse_html('😀 <a href="tg://user?id=42">Lan</a>')
    assert entities == [
        {"type": "text_mention", "offset": 3, "length": 3, "user": {"id": 42, "is_bot": False, "first_name": ""}}
    ]


def test_only_html_is_parsed(client):
    for mode in ("MarkdownV2", "Markdown"):
        body = assert_error(
            call(client, "sendMessage", chat_id=USER, text="*x*", parse_mode=mode),
            400,
            "Bad Request: unsupported parse_mode",
        )
        assert "HTML only" in body["description"]


def test_keyboard_validation(client):
    def send(markup):
        return call(client, "sendMessage", chat_id=USER, text="pick", reply_markup=markup)

    assert send({"inline_keyboard": [[{"text": "ok", "callback_data": "x" * 64}]]})[0] == 200
    too_long = [
        {"inline_keyboard": [[{"text": "ok", "callback_data": "x" * 65}]]},
        {"inline_keyboard": [[{"text": "ok", "callback_data": "ệ" * 22}]]},  # 66 bytes
        {"inline_keyboard": [[{"text": "ok", "callback_data": ""}]]},
    ]
    for markup in too_long:
        assert_error(send(markup), 400, "Bad Request: BUTTON_DATA_INVALID")
    assert_error(send({"inline_keyboard": [[{"text": "", "callback_data": "a"}]]}), 400, "Bad Request: ")
    assert_error(
        send({"inline_keyboard": [[{"text": "only text"}]]}),
        400,
        "Bad Request: can't parse inline keyboard button: Text buttons are unallowed",
    )
    assert_error(
        send({"inline_keyboard": [[{"text": "u", "url": "not a url"}]]}), 400, "Bad Request: BUTTON_URL_INVALID"
    )
    # kinds the bot never sends are refused rather than half-modelled
    assert_error(send({"keyboard": [[{"text": "Menu"}]]}), 400, "Bad Request: the fake Bot API models inline")
    assert_error(send({"inline_keyboard": [[{"text": "s", "switch_inline_query": ""}]]}), 400, "Bad Request: the fake")
    status, _ = form_call(client, "sendMessage", chat_id=USER, text="x", reply_markup="{not json")
    assert status == 400


def test_edits(api, client):
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
    assert_error(
        call(client, "editMessageReplyMarkup", chat_id=USER, message_id=mid),
        400,
        "Bad Request: message is not modified",
    )

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
    api.block(USER)
    assert_error(call(client, "editMessageText", chat_id=USER, message_id=mid, text="y"), 403, "Forbidden")


def test_callback_queries(api, client):
    markup = {"inline_keyboard": [[{"text": "Có", "callback_data": "yes"}, {"text": "Không", "callback_data": "no"}]]}
    call(client, "sendMessage", chat_id=USER, text="Đồng ý?", reply_markup=markup)
    message = api.wait_for_message(USER, contains="Đồng ý")

    query_id = api.press_button(USER, message, "yes")
    update = api.pending_updates()[-1]
    query = update["callback_query"]
    assert query["id"] == query_id and query["data"] == "yes" and query["from"]["id"] == USER
    assert query["message"]["message_id"] == message["message_id"] and query["chat_instance"]
    other_id = api.press_button(USER, message, text="Không")
    assert other_id != query_id
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
    assert_error(
        call(client, "answerCallbackQuery", callback_query_id=other_id, text="x" * 201), 400, "Bad Request: MESSAGE_TOO"
    )


def test_copy_message(api, client):
    original = api.send_text(USER, "Câu hỏi của tôi")["message"]
    status, body = call(client, "copyMessage", chat_id=GROUP, from_chat_id=USER, message_id=original["message_id"])
    assert status == 200 and set(body["result"]) == {"message_id"}
    assert [m["text"] for m in api.messages(GROUP)] == ["Câu hỏi của tôi"]
    assert_error(
        call(client, "copyMessage", chat_id=GROUP, from_chat_id=USER, message_id=77),
        400,
        "Bad Request: message to copy not found",
    )
    # a photo copied with a new caption, the way the relay sends it; the caption limit still holds
    photo = api.send_photo(USER, caption="ảnh gốc")["message"]
    ok = call(
        client,
        "copyMessage",
        chat_id=GROUP,
        from_chat_id=USER,
        message_id=photo["message_id"],
        caption="<b>Lan</b>: ảnh gốc",
        parse_mode="HTML",
    )
    assert ok[0] == 200
    copied = api.messages(GROUP)[-1]
    assert copied["kind"] == "photo" and copied["caption"] == "Lan: ảnh gốc"
    assert_error(
        call(
            client, "copyMessage", chat_id=GROUP, from_chat_id=USER, message_id=photo["message_id"], caption="c" * 1025
        ),
        400,
        "Bad Request: message caption is too long",
    )


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
        assert raw.get(f"{api.base_url}/file/bot999:WRONG/{file_path}").status_code == 401
    assert_error(call(client, "getFile", file_id="nope"), 400, "Bad Request: invalid file_id")

    photo = api.send_photo(USER, caption="ảnh")["message"]
    assert photo["caption"] == "ảnh" and len(photo["photo"]) == 2
    for size in photo["photo"]:
        assert call(client, "getFile", file_id=size["file_id"])[0] == 200
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
