"""Which language to talk to a Telegram user in, for replies that do not answer a question."""

from __future__ import annotations

import asyncio

from telegram import Update
from telegram.ext import ContextTypes

from bot.telegram import texts


async def user_language(update: Update, context: ContextTypes.DEFAULT_TYPE) -> str:
    """'vi' or 'en': the language of the user's latest questions that show one, else of their Telegram app."""
    user = update.effective_user
    store = context.application.bot_data["services"].store
    written = await asyncio.to_thread(store.written_language, user.id) if user else None
    return texts.language_of(user, written)
