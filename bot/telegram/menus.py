"""Telegram's command menus, per scope and language, with descriptions from the catalog (`menus.*`).

Private chats show the owners' commands; the consultants' group the consultants' ones; a registered consultant's
or an admin's private chat shows the owners' commands plus theirs. Each menu is set in Vietnamese for every
language and in English for Telegram apps set to English (`language_code="en"`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

from telegram import Bot, BotCommand, BotCommandScope, BotCommandScopeAllPrivateChats, BotCommandScopeChat
from telegram.error import TelegramError
from telegram.ext import Application

from bot.i18n import t
from bot.telegram.context import services_of

log = logging.getLogger(__name__)

OWNER = ("start", "help", "topics", "human", "new", "privacy", "forget", "cancel", "nhucau", "huy")
CONSULTANT = ("queue", "close", "transfer", "consultants", "needs_show", "needs_note", "needs_status")
STAFF = (
    "kb",
    "kb_list",
    "kb_remove",
    "reindex",
    "gaps",
    "stats",
    "export",
    "consultant_add",
    "consultant_remove",
    "consultants",
    "needs",
    "needs_export",
    "answers",
    "web",
)
LANGUAGES = (("vi", None), ("en", "en"))  # (catalog language, Telegram's language_code: None = every language)


def commands(names: Iterable[str], lang: str) -> list[BotCommand]:
    """The menu entries for `names` (each once, in order) in `lang`."""
    return [BotCommand(name, t(lang, f"menus.{name}")) for name in dict.fromkeys(names)]


def private_menu(chat_id: int, admin_ids: Iterable[int], consultant_ids: Iterable[int]) -> tuple[str, ...]:
    """The commands of one person's private chat: the owners', plus the consultants' and the staff's by role."""
    names = list(OWNER)
    if chat_id in set(consultant_ids):
        names += CONSULTANT
    if chat_id in set(admin_ids):
        names += STAFF
    return tuple(dict.fromkeys(names))


async def install(app: Application) -> None:
    """Set every menu (at start-up): private chats, the consultants' group, consultants' and admins' chats."""
    svc = services_of(app)
    admins = list(svc.settings.admin_ids)
    consultants = [c.telegram_id for c in await asyncio.to_thread(svc.handoff.consultants.list)]
    await _set(app.bot, BotCommandScopeAllPrivateChats(), OWNER)
    if svc.settings.consultants_chat_id:
        await _set(app.bot, BotCommandScopeChat(svc.settings.consultants_chat_id), CONSULTANT)
    for chat_id in sorted({*admins, *consultants}):
        await _set(app.bot, BotCommandScopeChat(chat_id), private_menu(chat_id, admins, consultants))


async def refresh(app: Application, chat_id: int) -> None:
    """One person's private menu again, after they were added to or removed from the consultants."""
    svc = services_of(app)
    consultants = [c.telegram_id for c in await asyncio.to_thread(svc.handoff.consultants.list)]
    names = private_menu(chat_id, svc.settings.admin_ids, consultants)
    scope = BotCommandScopeChat(chat_id)
    if names != OWNER:
        await _set(app.bot, scope, names)
        return
    for _, code in LANGUAGES:  # nothing of their own any more: the private chats' menu applies again
        try:
            await app.bot.delete_my_commands(scope=scope, language_code=code)
        except TelegramError as exc:
            log.info("command menu of %s not deleted: %s", chat_id, exc)
            return


async def _set(bot: Bot, scope: BotCommandScope, names: Iterable[str]) -> None:
    for lang, code in LANGUAGES:
        try:
            await bot.set_my_commands(commands(names, lang), scope=scope, language_code=code)
        except TelegramError as exc:  # a person who never opened the bot, a group without it: nothing to show
            log.info("no %s command menu for %s: %s", lang, scope.to_dict(), exc)
            return
