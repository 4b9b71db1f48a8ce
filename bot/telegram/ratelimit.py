"""Telegram's flood limits apply to messages; status calls should not queue behind them."""

from __future__ import annotations

from telegram.ext import AIORateLimiter

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
    async def process_request(self, callback, args, kwargs, endpoint, data, rate_limit_args):
        if endpoint in UNLIMITED:
            return await callback(*args, **kwargs)
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
