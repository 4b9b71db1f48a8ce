"""Staff commands (ADMIN_IDS only): /kb, documents sent to the bot, /reindex, /kb_list, /kb_remove, /gaps,
/stats, /export, /web. Thin: parse the update, run the service in a worker thread, render the reply."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import mimetypes
from html import escape
from zoneinfo import ZoneInfo

from telegram import LinkPreviewOptions, Message, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import callbacks
from bot.i18n import STAFF, t
from bot.knowledge_admin import REFUSALS, AddResult
from bot.reports import chart, export, gaps, stats
from bot.reports.data import Period
from bot.telegram import admin_render, answers_handlers
from bot.telegram.context import BotContext
from bot.telegram.handlers import send
from bot.telegram.userlang import user_language
from bot.web.logins import LINK_MINUTES
from indexer.config import TOPICS
from indexer.pipeline import IndexBusy

try:  # the handoff feature: an admin in a live conversation (as consultant or owner) relays files
    from bot.telegram import handoff_handlers
except ImportError:
    handoff_handlers = None

log = logging.getLogger(__name__)
GAPS_DAYS, STATS_DAYS = 90, 30
GAPS_SHOWN = 10
GAPS_ANSWERABLE = 5  # groups offered «Trả lời» (buttons for all ten would bury the list)


def register(app: Application, admin_ids: list[int]) -> None:
    """Add the staff handlers; call before the generic private-chat handlers so admins' files arrive here."""
    for name, handler in (
        ("kb", kb),
        ("kb_list", kb_list),
        ("kb_remove", kb_remove),
        ("reindex", reindex),
        ("gaps", gaps_),
        ("stats", stats_),
        ("export", export_),
        ("web", web),
    ):
        app.add_handler(CommandHandler(name, handler))
    app.add_handler(CallbackQueryHandler(remove_pressed, pattern=callbacks.pattern("kb_remove")))
    app.add_handler(
        MessageHandler(
            filters.ChatType.PRIVATE & filters.Document.ALL & filters.User(user_id=admin_ids, allow_empty=False),
            document,
        )
    )


def admin_only(func):
    """Run the handler for admins in their private chat; tell others politely (in private chats only)."""

    @functools.wraps(func)
    async def wrapper(update: Update, context: BotContext) -> None:
        user, chat = update.effective_user, update.effective_chat
        private = chat is not None and chat.type == "private"
        if user is None or user.id not in context.services.settings.admin_ids:
            if private:
                await send(update, context, t(STAFF, "admin.admin_only"))
            return
        if not private:
            await send(update, context, t(STAFF, "admin.admin_private"))
            return
        await func(update, context)

    return wrapper


class ProgressMessage:
    """One message edited as a blocking job reports (done, total) from its worker thread."""

    def __init__(self, message: Message) -> None:
        self.message = message
        self.shown = message.text_html or message.text or ""
        self.loop = asyncio.get_running_loop()

    async def edit(self, text: str) -> None:
        if text == self.shown:
            return
        try:
            await self.message.edit_text(text, parse_mode=ParseMode.HTML)
            self.shown = text
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                raise

    def report(self, done: int, total: int) -> None:
        """Progress callback for the indexer; waits for the edit so every step is shown in order."""
        future = asyncio.run_coroutine_threadsafe(
            self.edit(t(STAFF, "admin.reindex_progress", done=done, total=total)), self.loop
        )
        try:
            future.result(timeout=15)
        except Exception as exc:  # noqa: BLE001 - a lost progress edit must never stop the indexing
            log.info("progress edit failed: %s", exc)


@admin_only
async def kb(update: Update, context: BotContext) -> None:
    svc = context.services
    data = await asyncio.to_thread(context.services.knowledge.status)
    used, pending, stale = await asyncio.to_thread(svc.curation.summary)
    answers = t(STAFF, "curation.kb_answers", used=used, pending=pending)
    if stale:
        items = "; ".join(f"#{r.id} {escape(r.question[:80])}" for r in stale[:10])
        answers += "\n" + t(STAFF, "curation.kb_answers_stale", n=len(stale), items=items)
    status = admin_render.kb_status(data, ZoneInfo(svc.settings.timezone))
    await send(update, context, status + "\n" + answers + "\n\n" + t(STAFF, "admin.kb_help"))


@admin_only
async def kb_list(update: Update, context: BotContext) -> None:
    await send(update, context, admin_render.kb_list(await asyncio.to_thread(context.services.knowledge.documents)))


@admin_only
async def kb_remove(update: Update, context: BotContext) -> None:
    ref = " ".join(context.args or []).strip()
    if not ref:
        await send(update, context, t(STAFF, "admin.remove_usage"))
        return
    found = await asyncio.to_thread(context.services.knowledge.find, ref)
    if not found:
        await send(update, context, t(STAFF, "admin.remove_not_found", ref=escape(ref)))
    elif len(found) > 1:
        await send(
            update, t(STAFF, "admin.remove_ambiguous", ref=escape(ref), detail=escape(", ".join(d.path for d in found)))
        )
    else:
        doc = found[0]
        await send(
            update,
            context,
            t(STAFF, "admin.remove_confirm", title=escape(doc.title), path=escape(doc.path), chunks=doc.chunks),
            admin_render.remove_keyboard(doc),
        )


async def remove_pressed(update: Update, context: BotContext) -> None:
    query = update.callback_query
    if update.effective_user.id not in context.services.settings.admin_ids:
        await query.answer(t(STAFF, "admin.admin_only"), show_alert=True)
        return
    press = callbacks.decode(query.data)
    if press is None:
        await query.answer(t(STAFF, "common.stale_button"))
        return
    key = str(press[0])
    if key == "no":
        await query.answer()
        await _edit_query(query, t(STAFF, "admin.remove_cancelled"))
        return
    await query.answer(t(STAFF, "admin.removing"))
    result = await asyncio.to_thread(context.services.knowledge.remove, key)
    doc = result.document
    if result.ok and doc is not None:
        text = t(STAFF, "admin.removed", title=escape(doc.title), path=escape(doc.path), chunks=doc.chunks)
    elif result.reason == "busy" and doc is not None:
        text = t(STAFF, "admin.remove_busy", title=escape(doc.title))
    else:
        text = t(STAFF, "admin.remove_not_found", ref=escape(doc.path if doc else key))
    await _edit_query(query, text)


async def _edit_query(query, text: str) -> None:
    try:
        await query.edit_message_text(text, parse_mode=ParseMode.HTML)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


@admin_only
async def reindex(update: Update, context: BotContext) -> None:
    message = await update.effective_chat.send_message(t(STAFF, "admin.reindex_start"))
    context.application.create_task(_reindex(message, context), update=update)


async def _reindex(message: Message, context: BotContext) -> None:
    progress = ProgressMessage(message)
    try:
        summary = await asyncio.to_thread(context.services.knowledge.refresh, progress.report)
    except IndexBusy:
        await progress.edit(t(STAFF, "admin.reindex_busy"))
        return
    except FileNotFoundError as exc:
        await progress.edit(t(STAFF, "admin.reindex_failed", detail=escape(str(exc))))
        return
    await progress.edit(admin_render.summary(summary))


async def document(update: Update, context: BotContext) -> None:
    """An admin sent a file in private chat: add it to the knowledge base and index it."""
    if handoff_handlers is not None and await handoff_handlers.intercept(update, context):
        return  # relayed to the other side of a consultation, not a knowledge-base upload
    message = update.effective_message
    doc = message.document
    name = doc.file_name or ("tai-lieu" + (mimetypes.guess_extension(doc.mime_type or "") or ""))
    words = (message.caption or "").lower().split()
    topic = words[0] if words and words[0] in TOPICS else None
    admin = context.services.knowledge
    refused = admin.precheck(name, doc.file_size)
    if refused:
        await send(update, context, _refusal(name, refused))
        return
    reply = await update.effective_chat.send_message(
        t(STAFF, "admin.upload_working", name=escape(name)), parse_mode=ParseMode.HTML
    )
    progress = ProgressMessage(reply)
    try:
        data = bytes(await (await doc.get_file()).download_as_bytearray())
    except TelegramError as exc:
        await progress.edit(_refusal(name, AddResult(False, "download", str(exc))))
        return
    result = await asyncio.to_thread(admin.add, name, data, topic, progress.report)
    if not result.ok:
        await progress.edit(_refusal(name, result))
        return
    await progress.edit(
        t(
            STAFF,
            "admin.upload_replaced" if result.replaced else "admin.upload_done",
            title=escape(result.title),
            path=escape(result.path),
            topic=escape(admin_render.topic_label(result.topic)),
            chunks=result.chunks,
        )
    )


def _refusal(name: str, result: AddResult) -> str:
    key = REFUSALS.get(result.reason, REFUSALS["index"])
    return t(STAFF, key, name=escape(name), detail=escape(result.detail))


def _days(context: BotContext, default: int) -> int:
    args = context.args or []
    # A short ASCII number only: int() refuses 5,000-digit strings with an error, and 3650 days is the cap anyway.
    return (
        max(1, min(int(args[0]), 3650))
        if args and args[0].isascii() and args[0].isdigit() and len(args[0]) < 6
        else default
    )


@admin_only
async def gaps_(update: Update, context: BotContext) -> None:
    svc = context.services
    days = _days(context, GAPS_DAYS)
    period = Period.last_days(days, svc.settings.timezone)
    await update.effective_chat.send_action(ChatAction.TYPING)
    groups = await asyncio.to_thread(gaps.find_gaps, svc.store, gaps.query_embedder(lambda: svc.engine), period)
    # «Trả lời» on the most frequent groups: an admin's answer becomes a model answer at once.
    answerable = [g.questions[0].message_id for g in groups[:GAPS_ANSWERABLE] if g.questions]
    await send(
        update,
        context,
        admin_render.gaps(groups, days, period.tz, GAPS_SHOWN),
        answers_handlers.gap_buttons(answerable),
    )
    if len(groups) > GAPS_SHOWN:
        await update.effective_chat.send_document(gaps.to_csv(groups, period.tz), filename=f"gaps-{days}d.csv")


@admin_only
async def stats_(update: Update, context: BotContext) -> None:
    svc = context.services
    days = _days(context, STATS_DAYS)
    figures = await asyncio.to_thread(stats.compute, svc.store, Period.last_days(days, svc.settings.timezone))
    png = await asyncio.to_thread(chart.render_png, figures)
    await send(update, context, admin_render.stats(figures))
    await update.effective_chat.send_photo(png, caption=t(STAFF, "admin.stats_caption", days=days))


@admin_only
async def export_(update: Update, context: BotContext) -> None:
    svc = context.services
    args = context.args or []
    try:
        period = Period.between(dt.date.fromisoformat(args[0]), dt.date.fromisoformat(args[1]), svc.settings.timezone)
    except (ValueError, IndexError):
        await send(update, context, t(STAFF, "admin.export_usage"))
        return
    raw = len(args) > 2 and args[2].lower() == "raw"
    files = await asyncio.to_thread(export.export, svc.store, svc.settings, period, raw)
    span = {"start": f"{period.start:%d/%m/%Y}", "end": f"{period.end:%d/%m/%Y}"}
    if all(content.count(b"\n") <= 1 for content in files.values()):
        await send(update, context, t(STAFF, "admin.export_empty", **span))
        return
    for name, content in files.items():
        await update.effective_chat.send_document(content, filename=name)
    mode = t(STAFF, "admin.export_raw_note") if raw else t(STAFF, "admin.export_pseudo_note")
    await send(update, context, t(STAFF, "admin.export_done", **span, mode=mode))


@admin_only
async def web(update: Update, context: BotContext) -> None:
    """/web: a one-time login link to the staff web console (bot/web/), in the admin's language."""
    svc = context.services
    lang = await user_language(update, context)
    link = await asyncio.to_thread(svc.web_logins.issue_link, update.effective_user.id)
    log.info("web console: login link sent to admin %s", update.effective_user.id)
    # Straight to the API, not through the outbox: the link is a secret, and the database keeps only its hash.
    # No link preview: Telegram's preview fetch must not be the link's one use (the page only asks to log in).
    await update.effective_chat.send_message(
        t(lang, "web.link", url=escape(link), minutes=LINK_MINUTES),
        parse_mode=ParseMode.HTML,
        link_preview_options=LinkPreviewOptions(is_disabled=True),
    )
