"""Test-side API: read what the bot did (messages, buttons, files, answers, the call log) and ``dump`` it."""

from __future__ import annotations

import copy
import json
from typing import Any

from .keyboards import inline_buttons
from .params import Params
from .profile import scope_key
from .state import State, message_address


class Reading:
    """Copies of the fake's records; nothing here changes state."""

    state: State

    def buttons(self, message: dict) -> list[tuple[str, str | None]]:
        """[(text, callback_data)] of a message's current inline keyboard (url buttons: None)."""
        markup = message.get("reply_markup")
        if "chat_id" in message or "chat" in message:
            with self.state.lock:
                record = self.state.find_message(*message_address(message))
                if record is not None:
                    markup = record["reply_markup"]
        return inline_buttons(markup)

    def messages(self, chat_id: int) -> list[dict]:
        """Bot-sent messages in a chat, oldest first, with edits applied.

        Each record: chat_id, message_id, kind, text, caption, entities, raw (text as sent, before
        parsing), parse_mode, reply_markup, reply_to_message_id, message (the Message dict as
        Telegram would return it now), date, received_at (time.monotonic() when the server got it),
        edited_at, edits (one entry per edit), history (original + edits), method, params.
        """
        with self.state.lock:
            return [copy.deepcopy(r) for r in self.state.history.get(int(chat_id), []) if r["from_bot"]]

    def history(self, chat_id: int) -> list[dict]:
        """All messages of a chat (user and bot), oldest first."""
        with self.state.lock:
            return copy.deepcopy(self.state.history.get(int(chat_id), []))

    def get_message(self, chat_id: int, message_id: int) -> dict | None:
        with self.state.lock:
            return copy.deepcopy(self.state.index.get((int(chat_id), int(message_id))))

    def chat_actions(self, chat_id: int | None = None) -> list[dict]:
        with self.state.lock:
            return [dict(a) for a in self.state.chat_actions if chat_id is None or a["chat_id"] == int(chat_id)]

    def callback_answer(self, query_id: str) -> dict | None:
        """The bot's answerCallbackQuery for ``query_id`` ({text, show_alert, url, cache_time}) or None."""
        with self.state.lock:
            query = self.state.callbacks.get(query_id)
            return copy.deepcopy(query["answer"]) if query and query["answer"] is not None else None

    def commands(self, scope: dict | None = None, language_code: str = "") -> list[dict]:
        """Commands set by setMyCommands for a scope (default scope if None) and language."""
        with self.state.lock:
            key = scope_key(self.state, Params({"scope": scope}).json("scope"), language_code)
            return copy.deepcopy(self.state.commands.get(key, []))

    def webhook_deliveries(self) -> list[dict]:
        """Each POST to the webhook: {update_id, url, status, error, at}."""
        with self.state.lock:
            return copy.deepcopy(self.state.webhook_deliveries)

    def pending_updates(self) -> list[dict]:
        """Updates not yet confirmed by the bot."""
        with self.state.lock:
            return copy.deepcopy(self.state.pending)

    def update_times(self, update: dict | int) -> dict:
        """{"kind", "injected_at", "delivered_at", "confirmed_at", "dropped_at", "deliveries"} (monotonic times)."""
        update_id = update if isinstance(update, int) else update["update_id"]
        with self.state.lock:
            meta = self.state.update_meta[update_id]
            return {k: v for k, v in meta.items() if k != "update"}

    def injected_at(self, update: dict | int) -> float:
        return self.update_times(update)["injected_at"]

    def file_bytes(self, file_id: str) -> bytes | None:
        """Content of a stored file (uploaded by the bot or sent by a test user)."""
        with self.state.lock:
            info = self.state.files.get(file_id)
            return info["data"] if info else None

    def uploaded_files(self) -> list[dict]:
        """Files the bot uploaded (sendDocument/sendPhoto with multipart data), with their bytes."""
        with self.state.lock:
            return [dict(f) for f in self.state.files.values() if f["origin"] == "bot" and not f.get("alias")]

    @property
    def calls(self) -> list[dict]:
        """Every API request: {method, params, ok, status, result | error_code+description, at, duration}."""
        with self.state.lock:
            return copy.deepcopy(self.state.calls)

    def calls_to(self, method: str) -> list[dict]:
        with self.state.lock:
            return [copy.deepcopy(c) for c in self.state.calls if c["method"].lower() == method.lower()]

    def errors(self) -> list[dict]:
        """The failed requests."""
        with self.state.lock:
            return [copy.deepcopy(c) for c in self.state.calls if not c["ok"]]

    def dump(self) -> str:
        """Human-readable summary of recent bot messages, failed calls and pending updates."""
        with self.state.lock:
            return dump(self.state)


def dump(state: State, limit: int = 15) -> str:
    """What a timed-out wait prints (call with the lock held)."""
    lines = ["--- bot messages (latest last) ---"]
    records = sorted(
        (r for chat in state.history.values() for r in chat if r["from_bot"]), key=lambda r: r["received_at"]
    )[-limit:]
    for r in records:
        body = (r["text"] or r["caption"] or f"<{r['kind']}>").replace("\n", "\\n")
        flags = f" [edited x{len(r['edits'])}]" if r["edits"] else ""
        buttons = inline_buttons(r["reply_markup"])
        lines.append(
            f"chat {r['chat_id']} #{r['message_id']}{flags}: {body[:300]!r}"
            + (f" buttons={buttons}" if buttons else "")
        )
    if not records:
        lines.append("(none)")
    errors = [c for c in state.calls if not c["ok"]][-limit:]
    lines.append("--- failed API calls ---")
    for c in errors:
        lines.append(f"{c['method']} -> {c['error_code']} {c['description']} params={_short(c['params'])}")
    if not errors:
        lines.append("(none)")
    lines.append("--- recent API calls ---")
    lines.extend(f"{c['method']} ok={c['ok']}" for c in state.calls[-limit:])
    lines.append(
        f"--- pending updates: {[u['update_id'] for u in state.pending]}; "
        f"webhook: {state.webhook['url'] if state.webhook else None}"
    )
    return "\n".join(lines)


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "..."
