"""Thin Telegram glue for the technology-needs form and its staff commands: parse, call NeedsService, render.

The owner's typed answers reach the form through a text handler in its own earlier group (FORM_GROUP): while
the form is active it takes the message and stops further handlers; otherwise the message goes on to the bot.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.i18n import t
from bot.needs import prompts
from bot.needs.models import WORKFLOW
from bot.needs.prompts import Screen
from bot.needs.render import STAFF
from bot.telegram import render
from bot.telegram.context import BotContext
from bot.telegram.handoff_delivery import deliver, schedule
from bot.telegram.userlang import user_language

log = logging.getLogger(__name__)
CALLBACKS = r"^n[fd]:"
FORM_GROUP = -1  # before the generic private-text handler of group 0
_CLEARS = ("submit", "edit", "menu", "review", "programmes")  # actions whose message is done with its buttons


def register(app: Application) -> None:
    """The form's text handler (own group), /nhucau, /huy, its buttons and the staff commands."""
    app.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, form_text), group=FORM_GROUP
    )
    for name, handler in (("nhucau", nhucau), ("huy", huy)):  # an owner's own form: private chats only
        app.add_handler(CommandHandler(name, handler, filters=filters.ChatType.PRIVATE))
    for name, handler in (
        ("needs", needs_stats),
        ("needs_export", needs_export),
        ("needs_note", needs_note),
        ("needs_status", needs_status),
        ("needs_show", needs_show),
    ):
        app.add_handler(CommandHandler(name, handler))
    app.add_handler(CallbackQueryHandler(callback, pattern=CALLBACKS))


def with_start_button(markup: InlineKeyboardMarkup | None, lang: str) -> InlineKeyboardMarkup:
    """The /start keyboard plus a row whose label contains "nhu cầu"."""
    label, data = prompts.start_button(lang)
    rows = list(markup.inline_keyboard) if markup else []
    return InlineKeyboardMarkup([*rows, [InlineKeyboardButton(label, callback_data=data)]])


def _markup(buttons: prompts.Buttons) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in buttons]
    )


async def _send(update: Update, text: str, buttons: prompts.Buttons | None = None) -> None:
    """HTML, split at Telegram's limit; the buttons go under the last part."""
    parts = render.split(text)
    try:
        for n, part in enumerate(parts):
            keys = _markup(buttons or []) if n == len(parts) - 1 else None
            await update.effective_chat.send_message(part, parse_mode=ParseMode.HTML, reply_markup=keys)
    except Forbidden:
        log.info("chat %s blocked the bot", update.effective_chat.id)


async def _show(update: Update, context: BotContext, screen: Screen) -> None:
    if screen.text:
        await _send(update, screen.text, screen.buttons)
    if screen.outcome is not None:  # a ticket: the handoff's outbox tells the owner and the consultants
        schedule(context.application, screen.outcome)
        await deliver(context.application)


# -- owners ---------------------------------------------------------------------------
async def nhucau(update: Update, context: BotContext) -> None:
    if update.effective_chat.type != "private":
        return
    user, lang = update.effective_user, await user_language(update, context)
    screen = await asyncio.to_thread(context.services.needs.start, user.id, user.full_name, lang)
    await _show(update, context, screen)


async def huy(update: Update, context: BotContext) -> None:
    lang = await user_language(update, context)
    await _show(update, context, await asyncio.to_thread(context.services.needs.leave, update.effective_user.id, lang))


async def form_text(update: Update, context: BotContext) -> None:
    """A typed answer while the form is active; any other message goes on to the bot (group 0)."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or not message.text:
        return
    key = f"m:{message.chat_id}:{message.message_id}"
    screen = await asyncio.to_thread(context.services.needs.on_text, user.id, message.text, key)
    if screen is None:
        return
    await _show(update, context, screen)
    raise ApplicationHandlerStop


async def callback(update: Update, context: BotContext) -> None:
    query, user = update.callback_query, update.effective_user
    data = query.data or ""
    lang = await user_language(update, context)
    needs = context.services.needs
    screen = await asyncio.to_thread(needs.on_button, user.id, user.full_name, data, lang, f"q:{query.id}")
    await query.answer(screen.toast[:190] or None)
    try:
        if screen.edit:  # a checklist item: redraw the same message's buttons
            await query.edit_message_reply_markup(_markup(screen.buttons))
        elif screen.text and _answered(data):
            await query.edit_message_reply_markup(None)  # answered: its buttons go
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise
    if not screen.edit:
        await _show(update, context, screen)


def _answered(data: str) -> bool:
    parts = data.split(":")
    return parts[0] == "nf" or (len(parts) > 2 and parts[2] in _CLEARS)


# -- consultants and admins --------------------------------------------------------------
async def _staff(update: Update, context: BotContext, admins_only: bool = False) -> bool:
    """Consultants and admins (admins only, in their private chat, for the database as a whole)."""
    user, svc = update.effective_user, context.services
    if admins_only:
        allowed = user.id in svc.settings.admin_ids and update.effective_chat.type == "private"
    else:
        allowed = user.id in svc.settings.admin_ids or await asyncio.to_thread(svc.handoff.is_consultant, user.id)
    if not allowed:
        await _send(update, t(STAFF, "needs.admin_only" if admins_only else "needs.staff_only"))
    return allowed


def _profile_id(context: BotContext) -> int | None:
    arg = (context.args or [""])[0].lstrip("#")
    return int(arg) if arg.isdigit() else None


async def needs_note(update: Update, context: BotContext) -> None:
    """/needs_note ID text."""
    if not await _staff(update, context):
        return
    pid, text = _profile_id(context), " ".join((context.args or [])[1:]).strip()
    if pid is None or not text:
        await _send(update, render_usage("needs.note_usage"))
        return
    user = update.effective_user
    await _send(update, await asyncio.to_thread(context.services.needs.add_note, pid, user.id, user.full_name, text))


async def needs_status(update: Update, context: BotContext) -> None:
    """/needs_status ID new|contacted|matched|done [note]."""
    if not await _staff(update, context):
        return
    args = context.args or []
    pid, status = _profile_id(context), (args[1].lower() if len(args) > 1 else "")
    if pid is None or status not in WORKFLOW:
        await _send(update, render_usage("needs.status_usage"))
        return
    user, note = update.effective_user, " ".join(args[2:]).strip()
    reply = await asyncio.to_thread(context.services.needs.add_note, pid, user.id, user.full_name, note, status)
    await _send(update, reply)


async def needs_show(update: Update, context: BotContext) -> None:
    """/needs_show ID: the profile with its notes."""
    if not await _staff(update, context):
        return
    pid = _profile_id(context)
    if pid is None:
        await _send(update, render_usage("needs.show_usage"))
        return
    await _send(update, await asyncio.to_thread(context.services.needs.show, pid))


def render_usage(key: str) -> str:
    return html.escape(t(STAFF, key))


async def needs_stats(update: Update, context: BotContext) -> None:
    """/needs (admins): counts by province, sector and need, with a chart."""
    if not await _staff(update, context, admins_only=True):
        return
    from bot.needs import stats

    figures = stats.compute(await asyncio.to_thread(context.services.needs.records))
    await _send(update, stats.render_text(figures))
    png = await asyncio.to_thread(stats.render_png, figures)
    await update.effective_chat.send_photo(png, caption=t(STAFF, "needs.stats_caption"))


async def needs_export(update: Update, context: BotContext) -> None:
    """/needs_export [FROM TO] [raw] (admins): the database as XLSX, user ids pseudonymised unless raw."""
    if not await _staff(update, context, admins_only=True):
        return
    from bot.needs.export import workbook
    from bot.reports.data import Period

    svc, args = context.services, list(context.args or [])
    raw = bool(args) and args[-1].lower() == "raw"
    dates = args[:-1] if raw else args
    since = until = None
    if dates:
        try:
            period = Period.between(
                dt.date.fromisoformat(dates[0]), dt.date.fromisoformat(dates[1]), svc.settings.timezone
            )
        except (ValueError, IndexError):
            await _send(update, render_usage("needs.export_usage"))
            return
        since, until = period.since, period.until
    records = await asyncio.to_thread(svc.needs.records, since, until)
    if not records:
        await _send(update, t(STAFF, "needs.export_empty"))
        return
    content = await asyncio.to_thread(workbook, svc.needs, records, raw)
    span = f"{dates[0]}_{dates[1]}" if dates else dt.date.today().isoformat()
    await update.effective_chat.send_document(content, filename=f"needs-{span}{'-raw' if raw else ''}.xlsx")
    mode = t(STAFF, "needs.export_raw" if raw else "needs.export_pseudo")
    await _send(update, t(STAFF, "needs.export_done", n=len(records), mode=mode))
