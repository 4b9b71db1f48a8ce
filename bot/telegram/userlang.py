"""Which language to talk to a Telegram user in, for replies that do not answer a question."""

from __future__ import annotations

import asyncio

from telegram import Update, User

from bot.telegram.context import BotContext


def language_of(user: User | None, written: str | None = None) -> str:
    """The language to talk to a user in: what they last wrote, else their Telegram's language."""
    if written in ("vi", "en"):
        return written
    return "en" if user is not None and (user.language_code or "").lower().startswith("en") else "vi"


async def user_language(update: Update, context: BotContext) -> str:
    """'vi' or 'en': the language of the user's latest questions that show one, else of their Telegram app."""
    user = update.effective_user
    store = context.services.store
    written = await asyncio.to_thread(store.written_language, user.id) if user else None
    return language_of(user, written)
