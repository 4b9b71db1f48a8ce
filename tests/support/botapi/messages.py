"""Message methods the bot calls: sendMessage, editMessageText, editMessageReplyMarkup, copyMessage,
sendChatAction; and ``send``, which files.py uses for sendDocument / sendPhoto."""

from __future__ import annotations

import copy
import time
from typing import Any

from .errors import bad
from .formatting import caption, message_text
from .keyboards import inline, validate_markup
from .params import Params
from .state import State

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
# What copyMessage carries over from the source message (users send text, photos, documents, stickers).
_CONTENT_KEYS = ("text", "entities", "document", "photo", "sticker", "caption", "caption_entities")
_CAPTIONED = ("document", "photo")
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


def send(
    state: State, chat: dict, content: dict, kind: str, params: Params, method: str, raw: str | None, markup: Any
) -> dict:
    """Store a bot message in ``chat`` and return the Message dict Telegram would answer with."""
    wire: dict[str, Any] = {
        "message_id": state.new_message_id(chat["id"]),
        "from": state.bot_user(),
        "chat": copy.deepcopy(chat),
        "date": int(time.time()),
    }
    wire.update(content)
    if inline(markup):
        wire["reply_markup"] = markup
    state.store_message(
        chat,
        wire,
        True,
        kind,
        raw=raw,
        parse_mode=params.str("parse_mode"),
        reply_markup=markup,
        method=method,
        params=params.describe(),
    )
    return copy.deepcopy(wire)


def send_message(state: State, params: Params) -> dict:
    with state.lock:
        chat = state.resolve_chat(params.raw("chat_id"))
        text, entities, raw = message_text(params)
        markup = validate_markup(params.json("reply_markup"))
        state.check_writable(chat, "sendmessage")
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return send(state, chat, content, "text", params, "sendMessage", raw, markup)


def copy_message(state: State, params: Params) -> dict:
    with state.lock:
        chat = state.resolve_chat(params.raw("chat_id"))
        from_chat = state.resolve_chat(params.raw("from_chat_id"), "from_chat_id")
        message_id = params.int("message_id")
        if message_id is None:
            raise bad("message_id is empty")
        source = state.find_message(from_chat["id"], message_id)
        if source is None:
            raise bad("message to copy not found")
        markup = validate_markup(params.json("reply_markup"))
        content = {k: copy.deepcopy(v) for k, v in source["message"].items() if k in _CONTENT_KEYS}
        raw = source["raw"]
        if "caption" in params and any(k in content for k in _CAPTIONED):  # text and stickers take no caption
            content.pop("caption", None)
            content.pop("caption_entities", None)
            extra, raw = caption(params)
            content.update(extra)
        state.check_writable(chat, "copymessage")
        kind = "text" if "text" in content else source["kind"]
        wire = send(state, chat, content, kind, params, "copyMessage", raw, markup)
        return {"message_id": wire["message_id"]}


def _edit_target(state: State, chat: dict, params: Params) -> dict:
    message_id = params.int("message_id")
    if message_id is None:
        raise bad("message identifier is not specified")
    record = state.find_message(chat["id"], message_id)
    if record is None:
        raise bad("message to edit not found")
    state.check_writable(chat, "edit")
    if not record["from_bot"]:
        raise bad("message can't be edited")
    return record


def edit_message_text(state: State, params: Params) -> dict:
    with state.lock:
        chat = state.resolve_chat(params.raw("chat_id"))
        text, entities, raw = message_text(params)
        markup = inline(validate_markup(params.json("reply_markup")))
        record = _edit_target(state, chat, params)
        if record["text"] is None:
            raise bad("there is no text in the message to edit")
        # Leaving reply_markup out removes the keyboard, so only the same text AND keyboard is "not modified".
        if (
            text == record["text"]
            and entities == (record["entities"] or [])
            and markup == inline(record["reply_markup"])
        ):
            raise bad(NOT_MODIFIED)
        wire = record["message"]
        wire["text"] = text
        wire.pop("entities", None)
        if entities:
            wire["entities"] = entities
        wire.pop("reply_markup", None)
        if markup:
            wire["reply_markup"] = markup
        record.update(text=text, entities=entities, raw=raw, parse_mode=params.str("parse_mode"), reply_markup=markup)
        state.apply_edit(record, "editMessageText", params.describe())
        return copy.deepcopy(wire)


def edit_message_reply_markup(state: State, params: Params) -> dict:
    with state.lock:
        chat = state.resolve_chat(params.raw("chat_id"))
        markup = validate_markup(params.json("reply_markup"))
        record = _edit_target(state, chat, params)
        old = inline(record["reply_markup"])
        new = markup if markup and markup["inline_keyboard"] else None
        if new == old:
            raise bad(NOT_MODIFIED)
        wire = record["message"]
        wire.pop("reply_markup", None)
        if new:
            wire["reply_markup"] = new
        record["reply_markup"] = new
        state.apply_edit(record, "editMessageReplyMarkup", params.describe())
        return copy.deepcopy(wire)


def send_chat_action(state: State, params: Params) -> bool:
    with state.lock:
        chat = state.resolve_chat(params.raw("chat_id"))
        action = params.str("action")
        if not action:
            raise bad("action is empty")
        if action not in CHAT_ACTIONS:
            raise bad("wrong parameter action in request")
        state.check_writable(chat, "sendchataction")
        state.chat_actions.append({"chat_id": chat["id"], "action": action, "at": time.monotonic()})
        state.cond.notify_all()
        return True


METHODS = {
    "sendmessage": send_message,
    "copymessage": copy_message,
    "editmessagetext": edit_message_text,
    "editmessagereplymarkup": edit_message_reply_markup,
    "sendchataction": send_chat_action,
}
