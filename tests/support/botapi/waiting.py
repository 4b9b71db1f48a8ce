"""Test-side API: block until the bot did something (sent, edited, answered, called), with a dump on timeout.

Waits sleep on the server's condition, so they return as soon as the request arrives; there is no polling
interval to tune. A negative check ("the bot did not answer") should wait for a later message instead.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any

from .reading import dump
from .state import State, message_address


class Waiting:
    state: State

    def add_message_listener(self, listener: Callable[[dict], None]) -> None:
        """Call ``listener(record)`` (under the server lock: keep it quick) for every new message.

        For load tests: many waiting threads would each wake on every API call with wait_for_message."""
        with self.state.lock:
            self.state.listeners.append(listener)

    def wait_until(self, condition: Callable[[], Any], timeout: float = 10.0, message: str = "condition") -> Any:
        """Block until ``condition()`` (called under the server lock) returns something truthy."""
        deadline = time.monotonic() + timeout
        with self.state.cond:
            while True:
                value = condition()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {message}\n{dump(self.state)}")
                self.state.cond.wait(min(remaining, 0.5))

    def _bot_records(self, chat_id: int | None) -> list[dict]:
        chats = [self.state.history.get(int(chat_id), [])] if chat_id is not None else self.state.history.values()
        return [record for records in chats for record in records if record["from_bot"]]

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 10.0, chat_id: int | None = None) -> dict:
        """Block until the bot has sent a message (in any chat, or ``chat_id``) for which
        ``predicate(record)`` is true; return that record (see messages()). Predicates see edits
        already applied and must not modify the record."""

        def find() -> dict | None:
            found = next((r for r in self._bot_records(chat_id) if predicate(r)), None)
            return copy.deepcopy(found) if found else None

        where = f" in chat {chat_id}" if chat_id is not None else ""
        return self.wait_until(find, timeout, f"a bot message matching {predicate!r}{where}")

    def _after_filter(self, chat_id: int, after: Any) -> Callable[[dict], bool]:
        if after is None:
            return lambda r: True
        if isinstance(after, bool):
            raise TypeError("after must be a message id, a time.monotonic() value, an update or a message")
        if isinstance(after, int):
            return lambda r: r["message_id"] > after
        if isinstance(after, float):
            return lambda r: r["received_at"] > after
        if isinstance(after, dict):
            if "update_id" in after:
                injected = self.state.update_meta[after["update_id"]]["injected_at"]
                return lambda r: r["received_at"] > injected
            chat, message_id = message_address(after)
            if chat == int(chat_id):
                return lambda r: r["message_id"] > message_id
            record = self.state.index.get((chat, message_id))
            stamp = record["received_at"] if record else float("-inf")
            return lambda r: r["received_at"] > stamp
        raise TypeError(f"unsupported 'after': {after!r}")

    def wait_for_message(
        self,
        chat_id: int,
        contains: str | None = None,
        timeout: float = 10.0,
        after: Any = None,
        predicate: Callable[[dict], bool] | None = None,
    ) -> dict:
        """Block until the bot sent a message in ``chat_id`` whose text/caption contains ``contains``.

        ``after`` restricts to messages newer than: an int message_id, a float time.monotonic()
        stamp, an injected update (sent after its injection) or a message/record. Returns the record.
        """
        with self.state.lock:
            is_after = self._after_filter(chat_id, after)

        def matches(record: dict) -> bool:
            if not is_after(record):
                return False
            if contains is not None and contains not in (record["text"] or record["caption"] or ""):
                return False
            return predicate(record) if predicate else True

        def find() -> dict | None:
            found = next((r for r in self._bot_records(chat_id) if matches(r)), None)
            return copy.deepcopy(found) if found else None

        description = f"a bot message in chat {chat_id}" + (f" containing {contains!r}" if contains else "")
        if after is not None:
            mark = after.get("update_id", after.get("message_id")) if isinstance(after, dict) else after
            description += f" after {mark}"
        return self.wait_until(find, timeout, description)

    def wait_for_edit(
        self, chat_id: int, message_id: int, contains: str | None = None, timeout: float = 10.0, min_edits: int = 1
    ) -> dict:
        """Block until message ``message_id`` was edited (at least ``min_edits`` times) and its
        text/caption contains ``contains``."""

        def find() -> dict | None:
            record = self.state.index.get((int(chat_id), int(message_id)))
            if (
                record
                and len(record["edits"]) >= min_edits
                and (contains is None or contains in (record["text"] or record["caption"] or ""))
            ):
                return copy.deepcopy(record)
            return None

        description = f"an edit of message {message_id} in chat {chat_id}"
        return self.wait_until(find, timeout, description + (f" containing {contains!r}" if contains else ""))

    def wait_for_callback_answer(self, query_id: str, timeout: float = 10.0) -> dict:
        def find() -> dict | None:
            query = self.state.callbacks.get(query_id)
            return copy.deepcopy(query["answer"]) if query and query["answer"] is not None else None

        return self.wait_until(find, timeout, f"answerCallbackQuery for {query_id}")

    def wait_for_call(self, method: str, timeout: float = 10.0, ok: bool | None = None) -> dict:
        """Block until a request to ``method`` was recorded (optionally only successful/failed ones)."""

        def find() -> dict | None:
            for call in self.state.calls:
                if call["method"].lower() == method.lower() and (ok is None or call["ok"] == ok):
                    return copy.deepcopy(call)
            return None

        return self.wait_until(find, timeout, f"a call to {method}")

    def wait_for_updates_consumed(self, timeout: float = 10.0) -> None:
        """Block until the bot confirmed every injected update (getUpdates offset or webhook 2xx)."""
        self.wait_until(lambda: not self.state.pending, timeout, "all updates to be confirmed")
