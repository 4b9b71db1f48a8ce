"""Update processing: one person's updates in the order Telegram sent them, different people at once.

With plain concurrent updates a quick second message can be answered before the first is stored (the
history and the relay order then disagree with what the user typed). A lock per sender keeps each person's
updates sequential while everybody else's run concurrently. With replicas (a shared PostgreSQL) the sender's
turn is also taken in the database (bot.turns), so two replicas never run one person's updates at once, and
a later update waits for an earlier one another replica holds.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot import logs
from bot.turns import LEASE_SECONDS

if TYPE_CHECKING:
    from bot.turns import Turns

log = logging.getLogger(__name__)
POLL_FIRST, POLL_MAX = 0.02, 0.25  # seconds between looks at a turn held by another replica
# [update id, replies so far] of the update being handled in this task (see reply_origin).
_handling: contextvars.ContextVar[list | None] = contextvars.ContextVar("handling", default=None)


def reply_origin() -> str | None:
    """A name for the next reply of the update being handled, "<update id>:<n>": the same on every replica, so
    an update handled again (its first replica died midway) finds the replies it already queued."""
    current = _handling.get()
    if current is None:
        return None
    current[1] += 1
    return f"{current[0]}:{current[1]}"


def sender_of(update: object) -> int | None:
    """Whose update this is: the user, else the chat (channel posts, my_chat_member without a user)."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    return update.effective_chat.id if update.effective_chat is not None else None


class PerSenderUpdateProcessor(BaseUpdateProcessor):
    """Sequential per sender, concurrent across senders (at most `max_concurrent_updates` at once)."""

    def __init__(self, max_concurrent_updates: int = 64, turns: Turns | None = None) -> None:
        super().__init__(max_concurrent_updates)
        self.turns = turns  # None: one process owns the database, the in-process locks are enough
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
            _handling.set([update.update_id, 0])
        if key is None:
            await coroutine
            return
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                if self.turns is None or not isinstance(update, Update):
                    await coroutine
                else:
                    await self._in_turn(key, update.update_id, coroutine)
        finally:
            # Forget a sender's lock once nobody waits on it, so the table does not grow with every user ever seen.
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key]
                self._locks.pop(key, None)

    async def _in_turn(self, sender: int, update_id: int, coroutine: Awaitable[Any]) -> None:
        """Run `coroutine` in the sender's turn across replicas, renewing the turn's lease meanwhile."""
        turns = self.turns
        try:
            wait = POLL_FIRST
            while not await asyncio.to_thread(turns.enter, sender, update_id):
                await asyncio.sleep(wait)
                wait = min(wait * 2, POLL_MAX)
        except SQLAlchemyError as exc:  # the database is down: the handler will say so; do not hold it back
            log.warning("ordering: no turn for update %s (%s)", update_id, type(exc).__name__)
            await coroutine
            return
        keeper = asyncio.create_task(self._keep(update_id))
        try:
            await coroutine
        finally:
            keeper.cancel()
            try:
                await asyncio.to_thread(turns.leave, update_id)
            except SQLAlchemyError as exc:  # the lease runs out by itself
                log.warning("ordering: turn of update %s not given back (%s)", update_id, type(exc).__name__)

    async def _keep(self, update_id: int) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            try:
                await asyncio.to_thread(self.turns.renew, update_id)
            except SQLAlchemyError as exc:
                log.warning("ordering: turn of update %s not renewed (%s)", update_id, type(exc).__name__)

    async def initialize(self) -> None:
        """Nothing to set up: locks are made on demand."""

    async def shutdown(self) -> None:
        """Nothing to release: pending updates finish under their own locks."""
