"""Telegram glue for model answers: the consultant's «Lưu» after /close, drafts edited by reply, the admins'
«Duyệt» / «Sửa» / «Bỏ», `/answers`, and «Trả lời» on `/gaps`. The rules live in bot/answers/curation.py."""

from __future__ import annotations

import asyncio
import logging
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import ApplicationHandlerStop, CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot import callbacks
from bot.answers.models import DRAFT
from bot.answers.service import AnswerError, AnswerRecord
from bot.handoff.cards import topic_label
from bot.i18n import STAFF, t
from bot.telegram import render
from bot.telegram.context import BotContext

log = logging.getLogger(__name__)
EDIT_GROUP = -2  # before the needs form (-1) and the questions (0): an edit in progress takes the message
KINDS = (
    "answer_save",
    "answer_edit",
    "answer_submit",
    "answer_drop",
    "answer_approve",
    "answer_discard",
    "answer_retire",
    "gap_answer",
)


def register(app) -> None:
    app.add_handler(
        MessageHandler(filters.ChatType.PRIVATE & filters.TEXT & ~filters.COMMAND, edit_text), group=EDIT_GROUP
    )
    app.add_handler(CommandHandler("answers", answers_command, filters=filters.ChatType.PRIVATE))
    app.add_handler(CallbackQueryHandler(pressed, pattern=callbacks.pattern(*KINDS)))


def _keys(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in r] for r in rows])


def draft_card(record: AnswerRecord) -> tuple[str, InlineKeyboardMarkup]:
    ticket = t(STAFF, "curation.from_ticket", id=record.ticket_id) if record.ticket_id else ""
    text = t(
        STAFF,
        "curation.draft",
        id=record.id,
        ticket=ticket,
        question=escape(record.question),
        answer=escape(record.answer),
    )
    rows = [
        [
            (t(STAFF, "curation.btn_edit_q"), callbacks.encode("answer_edit", record.id, "q")),
            (t(STAFF, "curation.btn_edit_a"), callbacks.encode("answer_edit", record.id, "a")),
        ],
        [
            (t(STAFF, "curation.btn_submit"), callbacks.encode("answer_submit", record.id)),
            (t(STAFF, "curation.btn_drop"), callbacks.encode("answer_drop", record.id)),
        ],
    ]
    return text, _keys(rows)


def proposal_card(record: AnswerRecord) -> tuple[str, InlineKeyboardMarkup]:
    ticket = t(STAFF, "curation.from_ticket", id=record.ticket_id) if record.ticket_id else ""
    text = t(
        STAFF,
        "curation.proposal",
        id=record.id,
        topic=escape(topic_label(record.topic)),
        who=escape(record.proposed_by_name or str(record.proposed_by or "")),
        ticket=ticket,
        question=escape(record.question),
        answer=escape(record.answer),
    )
    rows = [
        [(t(STAFF, "curation.btn_approve"), callbacks.encode("answer_approve", record.id))],
        [
            (t(STAFF, "curation.btn_admin_edit_q"), callbacks.encode("answer_edit", record.id, "q")),
            (t(STAFF, "curation.btn_admin_edit_a"), callbacks.encode("answer_edit", record.id, "a")),
        ],
        [(t(STAFF, "curation.btn_discard"), callbacks.encode("answer_discard", record.id))],
    ]
    return text, _keys(rows)


async def _send(context: BotContext, chat_id: int, text: str, markup=None) -> None:
    parts = render.split(text)
    try:
        for n, part in enumerate(parts):
            keys = markup if n == len(parts) - 1 else None
            await context.bot.send_message(chat_id, part, parse_mode=ParseMode.HTML, reply_markup=keys)
    except Forbidden:
        log.info("chat %s blocked the bot", chat_id)
    except TelegramError as exc:
        log.warning("model answer message to %s not sent: %s", chat_id, exc)


async def _to_admins(context: BotContext, record: AnswerRecord) -> None:
    text, markup = proposal_card(record)
    for admin in context.services.settings.admin_ids:
        await _send(context, admin, text, markup)


async def _edit_or_send(update: Update, context: BotContext, text: str, markup=None) -> None:
    query = update.callback_query
    try:
        await query.edit_message_text(render.split(text)[0], parse_mode=ParseMode.HTML, reply_markup=markup)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            await _send(context, update.effective_chat.id, text, markup)


async def pressed(update: Update, context: BotContext) -> None:
    query, user = update.callback_query, update.effective_user
    press = callbacks.decode(query.data)
    curation = context.services.curation
    if press is None:
        await query.answer(t(STAFF, "curation.stale"))
        return
    name = user.full_name or str(user.id)
    try:
        if press.kind == "answer_save":
            record = await asyncio.to_thread(curation.draft_from_ticket, int(press[0]), user.id, name)
            await query.answer()
            await _send(context, user.id, *draft_card(record))
        elif press.kind == "answer_edit":
            record = await asyncio.to_thread(curation.start_edit, int(press[0]), user.id, str(press[1]))
            await query.answer()
            key = "curation.edit_prompt_q" if press[1] == "q" else "curation.edit_prompt_a"
            await _send(context, user.id, t(STAFF, key, id=record.id))
        elif press.kind == "answer_submit":
            record = await asyncio.to_thread(curation.submit, int(press[0]), user.id)
            await query.answer()
            await _edit_or_send(update, context, t(STAFF, "curation.submitted", id=record.id))
            await _to_admins(context, record)
        elif press.kind == "answer_drop":
            record = await asyncio.to_thread(curation.drop_draft, int(press[0]), user.id)
            await query.answer()
            await _edit_or_send(update, context, t(STAFF, "curation.dropped", id=record.id))
        elif press.kind == "answer_approve":
            record = await asyncio.to_thread(curation.approve, int(press[0]), user.id, name)
            await query.answer()
            review = f"{record.review_on:%d/%m/%Y}" if record.review_on else ""
            done = t(STAFF, "curation.approved", id=record.id, by=escape(name), review=review)
            await _edit_or_send(update, context, done)
            if record.proposed_by and record.proposed_by != user.id:
                await _send(context, record.proposed_by, t(STAFF, "curation.approved_notice", id=record.id))
        elif press.kind == "answer_discard":
            record = await asyncio.to_thread(curation.discard, int(press[0]), user.id)
            await query.answer()
            await _edit_or_send(update, context, t(STAFF, "curation.discarded", id=record.id, by=escape(name)))
            if record.proposed_by and record.proposed_by != user.id:
                await _send(context, record.proposed_by, t(STAFF, "curation.discarded_notice", id=record.id))
        elif press.kind == "answer_retire":
            record = await asyncio.to_thread(curation.retire, int(press[0]), user.id)
            await query.answer()
            await _edit_or_send(update, context, t(STAFF, "curation.retired", id=record.id, by=escape(name)))
        elif press.kind == "gap_answer":
            record = await asyncio.to_thread(curation.draft_from_gap, int(press[0]), user.id, name)
            await query.answer()
            await _send(context, user.id, t(STAFF, "curation.gap_prompt", question=escape(record.question)))
    except AnswerError as exc:  # not allowed, stale, or refused text: the presser hears why, nothing changed
        allowed = type(exc).__name__ != "NotAllowed"
        log.info("model answer press %s refused: %s", press.kind, exc)
        await _toast(query, t(STAFF, "curation.stale") if allowed else t(STAFF, "curation.not_allowed"))


async def _toast(query, text: str) -> None:
    try:
        await query.answer(text[:190], show_alert=True)
    except TelegramError as exc:
        log.debug("callback not answered: %s", exc)


async def edit_text(update: Update, context: BotContext) -> None:
    """The next message of someone editing a draft or a proposal replaces that part; others go on."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None or not message.text:
        return
    curation = context.services.curation
    if await asyncio.to_thread(curation.editing, user.id) is None:
        return
    try:
        record = await asyncio.to_thread(curation.apply_edit, user.id, message.text)
    except AnswerError as exc:
        await _send(context, user.id, t(STAFF, "curation.failed", reason=escape(str(exc))))
        raise ApplicationHandlerStop from None
    if record is not None:
        # A consultant's draft goes to the admins; an admin's own (a gap's answer, or an edit) they approve.
        card = draft_card(record) if record.status == DRAFT and record.origin != "gap" else proposal_card(record)
        await _send(context, user.id, *card)
    raise ApplicationHandlerStop


async def answers_command(update: Update, context: BotContext) -> None:
    """/answers (admins): proposals waiting for approval, each with its buttons, and recent approved ones."""
    user = update.effective_user
    if user.id not in context.services.settings.admin_ids:
        await _send(context, update.effective_chat.id, t(STAFF, "admin.admin_only"))
        return
    curation = context.services.curation
    pending = await asyncio.to_thread(curation.pending)
    recent = await asyncio.to_thread(curation.recent)
    if not pending and not recent:
        await _send(context, user.id, t(STAFF, "curation.list_none"))
        return
    lines = [t(STAFF, "curation.list_head", pending=len(pending), approved=len(recent))]
    if recent:
        lines.append(t(STAFF, "curation.list_recent"))
        for r in recent:
            review = f"{r.review_on:%d/%m/%Y}" if r.review_on else ""
            lines.append(
                t(STAFF, "curation.list_item_review", id=r.id, question=escape(r.question[:120]), review=review)
            )
    retire = [[(f"{t(STAFF, 'curation.btn_retire')} #{r.id}", callbacks.encode("answer_retire", r.id))] for r in recent]
    await _send(context, user.id, "\n".join(lines), _keys(retire[:10]) if retire else None)
    for record in pending[:10]:  # each proposal with its own buttons
        await _send(context, user.id, *proposal_card(record))


def gap_buttons(message_ids: list[int]) -> InlineKeyboardMarkup | None:
    """«Trả lời» for the first groups of /gaps; each carries the id of the group's newest question."""
    rows = [
        [(t(STAFF, "curation.btn_gap_answer", n=n), callbacks.encode("gap_answer", mid))]
        for n, mid in enumerate(message_ids, 1)
    ]
    return _keys(rows) if rows else None
