"""Update processing: one person's updates in the order Telegram sent them, different people at once.

With plain concurrent updates a quick second message can be answered before the first is stored (the
history and the relay order then disagree with what the user typed). A lock per sender keeps each person's
updates sequential while everybody else's run concurrently.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot import logs


def sender_of(update: object) -> int | None:
    """Whose update this is: the user, else the chat (channel posts, my_chat_member without a user)."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else None


class PerSenderUpdateProcessor(BaseUpdateProcessor):
    """Sequential per sender, concurrent across senders (at most `max_concurrent_updates` at once)."""

    def __init__(self, max_concurrent_updates: int = 64) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}
        self._finished: dict[int, asyncio.Future] = {}

    def finished(self, update_id: int) -> asyncio.Future:
        """Done once the update with this id has been handled: the webhook answers Telegram only then, so an
        update a killed replica had not finished is delivered again (to another replica) instead of lost."""
        return self._finished.setdefault(update_id, asyncio.get_running_loop().create_future())

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        try:
            await self._process(update, coroutine)
        finally:
            done = self._finished.pop(update.update_id, None) if isinstance(update, Update) else None
            if done is not None and not done.done():
                done.set_result(None)

    async def _process(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = sender_of(update)
        if isinstance(update, Update):  # every line logged while handling it carries its ids (bot.logs)
            logs.bind(update_id=update.update_id, user_id=key)
        if key is None:
            await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            # Forget a sender's lock once nobody waits on it, so the table does not grow with every user ever seen.
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
                self._locks.pop(key, None)

    async def initialize(self) -> None:
        """Nothing to set up: locks are made on demand."""

    async def shutdown(self) -> None:
        """Nothing to release: pending updates finish under their own locks."""
