"""Typed access to the services from handlers (python-telegram-bot's custom context types)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot

if TYPE_CHECKING:
    from bot.app import Services


class BotData:
    """Application-wide state of this process: the services, and what only paces this process."""

    def __init__(self) -> None:
        self._services: Services | None = None
        self.last_admin_alert = 0.0  # time.monotonic() of the last error alert sent to admins
        self.chat_locks: dict[int, asyncio.Lock] = {}  # one outbox drain per chat at a time
        self.retries: dict[int, int] = {}  # update id -> times handled again after a transient fault

    @property
    def services(self) -> Services:
        if self._services is None:
            raise RuntimeError("the application was built without services (bot.telegram.runner.build_application)")
        return self._services

    @services.setter
    def services(self, value: Services) -> None:
        self._services = value


class BotContext(CallbackContext[ExtBot, dict, dict, BotData]):
    """The `context` every handler receives."""

    @property
    def services(self) -> Services:
        return self.bot_data.services


CONTEXT_TYPES = ContextTypes(context=BotContext, bot_data=BotData)


def services_of(app: Application) -> Services:
    """The services of an application built by `build_application` (for jobs and post_init hooks)."""
    return app.bot_data.services
