"""Everything the fake server knows: users, chats, messages, files, updates, the call log.

One ``State`` behind one re-entrant lock; its condition wakes long polls, the webhook sender and the tests'
``wait_for_*`` whenever something changes. Helpers here expect the lock to be held by the caller.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable
from typing import Any

from . import faults
from .errors import ApiError, bad

# Methods that a flood limit (faults.set_flood) holds back: the ones that post a message.
SEND_METHODS = frozenset({"sendmessage", "senddocument", "sendphoto", "copymessage"})


class State:
    """The fake's data; every field is read and written with ``lock`` held."""

    def __init__(self, token: str, bot_id: int, username: str, first_name: str) -> None:
        self.token = token
        self.bot_id = bot_id
        self.username = username
        self.first_name = first_name
        self.lock = threading.RLock()
        self.cond = threading.Condition(self.lock)
        self.stopping = False

        self.users: dict[int, dict] = {}
        self.chats: dict[int, dict] = {}
        self.blocked: set[int] = set()
        self.history: dict[int, list[dict]] = {}  # chat id -> message records, oldest first
        self.index: dict[tuple[int, int], dict] = {}  # (chat id, message id) -> record
        self.next_message_id: dict[int, int] = {}
        self.files: dict[str, dict] = {}
        self.files_by_path: dict[str, dict] = {}
        self.file_counter = 0
        self.callbacks: dict[str, dict] = {}
        self.callback_counter = 0
        self.chat_actions: list[dict] = []
        self.commands: dict[str, list[dict]] = {}
        self.listeners: list[Callable[[dict], None]] = []

        self.next_update_id = 100000
        self.pending: list[dict] = []
        self.update_meta: dict[int, dict] = {}
        self.allowed_updates: list[str] | None = None
        self.poll_generation = 0
        self.webhook: dict[str, Any] | None = None
        self.webhook_retry_delay = 0.2
        self.webhook_max_retry_delay = 2.0
        self.webhook_deliveries: list[dict] = []

        self.flood: dict[int | None, list[int]] = {}
        self.failures: dict[str, list[ApiError]] = {}
        self.outages: list = []  # faults.Outage windows
        self.dropped: list[dict] = []  # calls whose connection an outage dropped
        self.calls: list[dict] = []

    # ---------------------------------------------------------------- identity and chats
    def bot_user(self) -> dict:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.first_name, "username": self.username}

    def resolve_chat(self, raw: Any, key: str = "chat_id") -> dict:
        """The chat a ``chat_id`` parameter names, or 400 "chat not found" (the bot never uses "@username")."""
        if raw is None or raw == "":
            raise bad(f"{key} is empty")
        try:
            chat = self.chats.get(int(raw.strip() if isinstance(raw, str) else raw))
        except (TypeError, ValueError):
            raise bad("chat not found") from None
        if chat is None:
            raise bad("chat not found")
        return chat

    def check_writable(self, chat: dict, method: str) -> None:
        """Refuse as Telegram does: a queued flood limit (429), or a user who blocked the bot (403)."""
        if method in SEND_METHODS:
            faults.raise_flood(self.flood, chat["id"])
        if chat["type"] == "private" and chat["id"] in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")

    def require_user(self, user_id: int) -> dict:
        user = self.users.get(int(user_id))
        if user is None:
            raise KeyError(f"user {user_id} is not registered; call add_private_user() first")
        return user

    # ---------------------------------------------------------------- messages
    def new_message_id(self, chat_id: int) -> int:
        self.next_message_id[chat_id] = self.next_message_id.get(chat_id, 0) + 1
        return self.next_message_id[chat_id]

    def find_message(self, chat_id: int, message_id: int | None) -> dict | None:
        return None if message_id is None else self.index.get((chat_id, message_id))

    def store_message(
        self,
        chat: dict,
        wire: dict,
        from_bot: bool,
        kind: str,
        *,
        raw: str | None = None,
        parse_mode: str | None = None,
        reply_markup: Any = None,
        method: str | None = None,
        params: dict | None = None,
    ) -> dict:
        """Record a message (``wire`` is the Message dict as Telegram returns it) and wake the waiters."""
        now = time.monotonic()
        record = {
            "chat_id": chat["id"],
            "message_id": wire["message_id"],
            "from_bot": from_bot,
            "kind": kind,
            "text": wire.get("text"),
            "caption": wire.get("caption"),
            "entities": wire.get("entities") or wire.get("caption_entities") or [],
            "raw": raw,
            "parse_mode": parse_mode,
            "reply_markup": reply_markup,
            "reply_to_message_id": (wire.get("reply_to_message") or {}).get("message_id"),
            "message": wire,
            "date": wire["date"],
            "received_at": now,
            "edited_at": None,
            "method": method,
            "params": params,
            "history": [],
            "edits": [],
        }
        record["history"].append(version(record, method, now))
        self.history.setdefault(chat["id"], []).append(record)
        self.index[(chat["id"], wire["message_id"])] = record
        self.cond.notify_all()
        for listener in self.listeners:
            listener(record)
        return record

    def apply_edit(self, record: dict, method: str, params: dict) -> None:
        """Note an edit already applied to ``record`` (its history keeps every version)."""
        now = time.monotonic()
        record["edited_at"] = now
        record["message"]["edit_date"] = int(time.time())
        edited = version(record, method, now)
        edited["params"] = params
        record["history"].append(edited)
        record["edits"].append(edited)
        self.cond.notify_all()

    # ---------------------------------------------------------------- updates and the call log
    def inject(self, kind: str, payload: dict) -> dict:
        """Queue an update for getUpdates or the webhook; returns a copy of it."""
        update_id = self.next_update_id
        self.next_update_id += 1
        update = {"update_id": update_id, kind: payload}
        self.pending.append(update)
        self.update_meta[update_id] = {
            "update": update,
            "kind": kind,
            "injected_at": time.monotonic(),
            "delivered_at": None,
            "confirmed_at": None,
            "dropped_at": None,
            "deliveries": 0,
        }
        self.cond.notify_all()
        return copy.deepcopy(update)

    def record_call(self, method: str, params: dict, payload: dict, status: int, started: float) -> None:
        entry = {
            "method": method,
            "params": params,
            "ok": payload.get("ok", False),
            "status": status,
            "at": started,
            "duration": time.monotonic() - started,
        }
        if payload.get("ok"):
            entry["result"] = payload.get("result")
        else:
            entry["error_code"] = payload.get("error_code")
            entry["description"] = payload.get("description")
        with self.cond:
            self.calls.append(entry)
            self.cond.notify_all()


def version(record: dict, method: str | None, at: float) -> dict:
    """One entry of a record's history: its content at time ``at``."""
    return {
        "text": record["text"],
        "caption": record["caption"],
        "entities": copy.deepcopy(record["entities"]),
        "reply_markup": copy.deepcopy(record["reply_markup"]),
        "raw": record["raw"],
        "parse_mode": record["parse_mode"],
        "method": method,
        "at": at,
    }


def reply_copy(message: dict) -> dict:
    """``reply_to_message`` of a new message: the replied one, without its own reply."""
    reply = copy.deepcopy(message)
    reply.pop("reply_to_message", None)
    return reply


def message_address(message: dict) -> tuple[int, int]:
    """(chat id, message id) of a record from ``messages()`` or of a Message dict."""
    if "chat_id" in message:
        return int(message["chat_id"]), int(message["message_id"])
    return int(message["chat"]["id"]), int(message["message_id"])
