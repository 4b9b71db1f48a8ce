"""Telegram's flood limits apply to messages; status calls should not queue behind them."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from telegram.ext import AIORateLimiter

if TYPE_CHECKING:
    from bot.storage import Store

# Not messages: a typing indicator or a callback answer must not delay the reply that follows it.
UNLIMITED = {
    "sendChatAction",
    "answerCallbackQuery",
    "getUpdates",
    "getMe",
    "getFile",
    "setMyCommands",
    "setWebhook",
    "deleteWebhook",
    "getWebhookInfo",
}


class MessageRateLimiter(AIORateLimiter):
    """python-telegram-bot's limiter (per process: the flood-limit pauses, per-group rates) and, when replicas
    share a database, the bot's overall rate counted there, so two replicas together keep to it."""

    def __init__(self, *args, shared: Store | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.shared = shared
        self.per_second = max(1, int(kwargs.get("overall_max_rate", 30)))

    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        if endpoint in UNLIMITED:
            return await callback(*args, **kwargs)
        if self.shared is not None:
            while wait := await asyncio.to_thread(self.shared.take_send_slot, self.per_second):
                await asyncio.sleep(wait)
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
