"""Inline keyboards and callback queries: button validation (64-byte callback data) and answerCallbackQuery.

The bot uses inline keyboards with callback_data and url buttons only; reply keyboards and other button
kinds are refused with a message saying the fake does not model them.
"""

from __future__ import annotations

import re
import time
from typing import Any

from .errors import bad
from .formatting import u16len
from .params import Params
from .state import State

CALLBACK_DATA_LIMIT = 64  # bytes of UTF-8
CALLBACK_ANSWER_LIMIT = 200  # UTF-16 units of an answerCallbackQuery text


def validate_markup(markup: Any) -> dict | None:
    """The reply_markup as Telegram accepts it, or 400 with Telegram's description."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        raise bad("the fake Bot API models inline keyboards only (the bot sends no reply keyboards)")
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad('can\'t parse inline keyboard markup: Field "inline_keyboard" must be of type Array')
    for row in rows:
        for button in row:
            _validate_button(button)
    return markup


def _validate_button(button: Any) -> None:
    if not isinstance(button, dict):
        raise bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
    text = button.get("text")
    if not isinstance(text, str) or not text.strip():
        raise bad("BUTTON_TEXT_INVALID")
    if button.get("callback_data") is None and button.get("url") is None:
        others = [key for key in button if key != "text" and button[key] is not None]
        if others:
            raise bad(f"the fake Bot API models callback_data and url buttons only, not {others[0]}")
        raise bad("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
            raise bad("BUTTON_DATA_INVALID")
    if "url" in button:
        url = button["url"]
        if not isinstance(url, str) or not re.match(r"(https?|tg)://\S+$", url.strip()):
            raise bad("BUTTON_URL_INVALID")


def inline(markup: Any) -> dict | None:
    """``markup`` if it is an inline keyboard (what a message keeps), else None."""
    return markup if markup and "inline_keyboard" in markup else None


def inline_buttons(markup: Any) -> list[tuple[str, str | None]]:
    """[(text, callback_data)] of an inline keyboard; url buttons have None."""
    if not markup or "inline_keyboard" not in markup:
        return []
    return [(b.get("text"), b.get("callback_data")) for row in markup["inline_keyboard"] for b in row]


def answer_callback_query(state: State, params: Params) -> bool:
    with state.lock:
        query = state.callbacks.get(params.str("callback_query_id") or "")
        if query is None or query["answered_at"] is not None:
            raise bad("query is too old and response timeout expired or query ID is invalid")
        text = params.str("text")
        if text is not None and u16len(text) > CALLBACK_ANSWER_LIMIT:
            raise bad("MESSAGE_TOO_LONG")
        query["answered_at"] = time.monotonic()
        query["answer"] = {
            "text": text,
            "show_alert": params.bool("show_alert"),
            "url": params.str("url"),
            "cache_time": params.int("cache_time"),
        }
        state.cond.notify_all()
        return True


METHODS = {"answercallbackquery": answer_callback_query}
