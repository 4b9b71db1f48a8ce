"""Which language to talk to a Telegram user in, for replies that do not answer a question."""

from __future__ import annotations

import asyncio

from telegram import Update

from bot.telegram import texts
from bot.telegram.context import BotContext


async def user_language(update: Update, context: BotContext) -> str:
    """'vi' or 'en': the language of the user's latest questions that show one, else of their Telegram app."""
    user = update.effective_user
    store = context.services.store
    written = await asyncio.to_thread(store.written_language, user.id) if user else None
    return texts.language_of(user, written)
