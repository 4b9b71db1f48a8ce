"""A fake Telegram Bot API server for end-to-end tests and benchmarks.

The real bot process talks to it exactly as to ``api.telegram.org``::

    {root}/bot{token}/{method}           POST (form-encoded, JSON or multipart) or GET
    {root}/file/bot{token}/{file_path}   file download

Tests play users by injecting updates (``send_text``, ``send_command``, ``press_button`` ...) and read what
the bot sent (``messages``, ``wait_for_message`` ...). Standard library only: a ``ThreadingHTTPServer`` in a
background thread, all state behind one lock, so every public method may be called from any thread.

It models only the methods the bot calls (getMe, getUpdates, setWebhook, deleteWebhook, sendMessage,
editMessageText, editMessageReplyMarkup, copyMessage, sendDocument, sendPhoto, getFile, answerCallbackQuery,
sendChatAction, setMyCommands, deleteMyCommands; anything else is 404), and refuses what Telegram refuses:
unknown chats, blocked users, empty or too long texts and captions (UTF-16 units after HTML parsing), HTML
Telegram cannot parse, bad inline keyboards (64-byte callback data), "message is not modified", stale
callback queries, webhook/getUpdates conflicts, and queued faults (``set_flood``, ``fail_next``).

Example::

    with FakeBotAPI(token="123:ABC") as api:
        env = {"TELEGRAM_API_URL": api.base_url, "TELEGRAM_BOT_TOKEN": api.token}
        api.add_private_user(42, first_name="Lan")
        ...start the bot with env...
        upd = api.send_command(42, "/start")
        reply = api.wait_for_message(42, contains="Xin chào", after=upd)
        api.press_button(42, reply, api.buttons(reply)[0][1])
"""

from .errors import ApiError
from .formatting import CAPTION_LIMIT, TEXT_LIMIT, format_text, parse_html, u16len
from .keyboards import CALLBACK_DATA_LIMIT
from .server import FakeBotAPI

__all__ = [
    "CALLBACK_DATA_LIMIT",
    "CAPTION_LIMIT",
    "TEXT_LIMIT",
    "ApiError",
    "FakeBotAPI",
    "format_text",
    "parse_html",
    "u16len",
]
