"""Thin Telegram glue for the handoff: parse the update, call HandoffService, send its outbox."""

from __future__ import annotations

import asyncio
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import Forbidden, TelegramError
from telegram.ext import Application, CallbackQueryHandler, ChatMemberHandler, CommandHandler, filters

from bot import callbacks, logs
from bot.handoff.cards import e
from bot.handoff.core import Incoming, Outcome
from bot.i18n import STAFF, t
from bot.telegram import menus, render
from bot.telegram.context import BotContext
from bot.telegram.handoff_delivery import deliver, on_start, schedule
from bot.telegram.ordering import reply_origin
from bot.telegram.userlang import user_language
from indexer.config import TOPICS

log = logging.getLogger(__name__)
CALLBACKS = callbacks.pattern(
    "claim", "claim_listed", "cancel", "skip_intake", "relay_choice", "transfer_options", "transfer", "close", "rate"
)


def register(app: Application) -> None:
    """Consultant, admin and owner commands, the handoff buttons, and blocked-bot notices."""
    for name, handler in (
        ("queue", queue),
        ("close", close),
        ("transfer", transfer),
        ("consultant_add", consultant_add),
        ("consultant_remove", consultant_remove),
        ("consultants", consultants),
    ):
        app.add_handler(CommandHandler(name, handler))
    app.add_handler(CommandHandler("cancel", cancel, filters=filters.ChatType.PRIVATE))  # an owner's own request
    app.add_handler(CallbackQueryHandler(callback, pattern=CALLBACKS))
    app.add_handler(ChatMemberHandler(member_changed, ChatMemberHandler.MY_CHAT_MEMBER))


async def _after(context: BotContext, *outcomes: Outcome | None) -> None:
    for outcome in outcomes:
        if outcome is not None and outcome.ticket_id is not None:
            logs.bind(ticket=outcome.ticket_id)  # the rest of this update's log lines name the ticket
        schedule(context.application, outcome)
    await deliver(context.application)


async def _reply(update: Update, text: str, buttons: list | None = None) -> None:
    markup = (
        InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in buttons]
        )
        if buttons
        else None
    )
    parts = render.split(text)  # a long /queue or list must not fail at Telegram's 4096 limit
    try:
        for n, part in enumerate(parts):
            last = n == len(parts) - 1
            await update.effective_chat.send_message(
                part, parse_mode=ParseMode.HTML, reply_markup=markup if last else None
            )
    except Forbidden:
        log.info("chat %s blocked the bot", update.effective_chat.id)


def incoming(message: Message) -> Incoming:
    """The handoff's view of a message: text or caption, the kind of media, the message it replies to."""
    media = next(
        (
            kind
            for kind in ("photo", "document", "video", "audio", "voice", "animation")
            if getattr(message, kind, None)
        ),
        "" if message.text else "other",
    )
    file_name = message.document.file_name if message.document else ""
    reply = message.reply_to_message.message_id if message.reply_to_message else None
    return Incoming(
        message.chat_id,
        message.message_id,
        message.from_user.id,
        message.from_user.full_name,
        message.text or message.caption or "",
        media,
        file_name or "",
        reply,
    )


# -- owners -------------------------------------------------------------------
async def request(update: Update, context: BotContext, trigger: str) -> None:
    """The owner wants a consultant (button, /human, or wrote so)."""
    user = update.effective_user
    key = (
        f"q:{update.callback_query.id}"
        if update.callback_query
        else f"m:{update.effective_chat.id}:{update.effective_message.message_id}"
    )
    lang = await user_language(update, context)
    outcome = await asyncio.to_thread(context.services.handoff.request, user.id, user.full_name, trigger, key, lang)
    await _after(context, outcome)


async def intercept(update: Update, context: BotContext) -> bool:
    """Before the bot answers a private message: intake answers and relays are not questions for the bot."""
    message = update.effective_message
    if message is None or update.effective_chat.type != "private" or message.from_user is None:
        return False
    first, outcome = await asyncio.to_thread(context.services.handoff.on_private_message, incoming(message))
    if outcome.handled or first.announce_at:  # (an expired intake step opened the ticket)
        await _after(context, first, outcome)
    return outcome.handled


async def relay_edit(update: Update, context: BotContext) -> bool:
    """An edited private message during a relay goes to the other side as a correction (or its sender is told
    it was not passed on); False when no relay takes it and the bot should read it."""
    message = update.edited_message
    if message is None or update.effective_chat.type != "private" or message.from_user is None:
        return False
    edit_date = int(message.edit_date.timestamp()) if message.edit_date else 0
    outcome = await asyncio.to_thread(context.services.handoff.relay_edit, incoming(message), edit_date)
    if outcome.handled:
        await _after(context, outcome)
    return outcome.handled


async def relay_example(update: Update, context: BotContext, text: str) -> bool:
    """An example question pressed while a consultant holds the owner's ticket goes to the consultant."""
    outcome = await asyncio.to_thread(context.services.handoff.relay_owner_text, update.effective_user.id, text)
    if outcome.handled:
        await _after(context, outcome)
    return outcome.handled


async def after_answer(update: Update, context: BotContext, answer) -> None:
    """Offer a consultant after the second abstention in a row."""
    if answer.kind == "abstain" and await asyncio.to_thread(
        context.services.handoff.offer_due, update.effective_user.id, "abstain"
    ):
        await asyncio.to_thread(
            context.services.handoff.offer, update.effective_user.id, answer.language, reply_origin()
        )
        await deliver(context.application)


async def after_feedback(update: Update, context: BotContext) -> None:
    """Offer a consultant after the second 👎 in a row."""
    if await asyncio.to_thread(context.services.handoff.offer_due, update.effective_user.id, "feedback"):
        await asyncio.to_thread(context.services.handoff.offer, update.effective_user.id, None, reply_origin())
        await deliver(context.application)


async def forget(update: Update, context: BotContext) -> None:
    """/forget also ends an active ticket and deletes the tickets' copies of the conversation."""
    await asyncio.to_thread(context.services.handoff.forget_owner, update.effective_user.id)
    await deliver(context.application)


async def cancel(update: Update, context: BotContext) -> None:
    await _after(context, await asyncio.to_thread(context.services.handoff.cancel, update.effective_user.id))


async def member_changed(update: Update, context: BotContext) -> None:
    """Someone blocked the bot in their private chat: free their tickets at once. Added to a group other than
    the consultants': leave it, so nobody can open tickets or read answers from a chat the centre does not run."""
    change = update.my_chat_member
    if change is None:
        return
    if change.chat.type != "private":
        joined = change.new_chat_member.status in ("member", "administrator")
        if joined and change.chat.id != context.services.settings.consultants_chat_id:
            log.info("added to chat %s: not the consultants' group, leaving", change.chat.id)
            try:
                await context.bot.leave_chat(change.chat.id)
            except TelegramError as exc:
                log.info("could not leave chat %s: %s", change.chat.id, exc)
        return
    if change.new_chat_member.status != "kicked":
        return
    svc, user_id = context.services.handoff, change.chat.id
    outcomes = await asyncio.to_thread(svc.unreachable, user_id, "owner")
    outcomes += await asyncio.to_thread(svc.unreachable, user_id, "consultant")
    await _after(context, *outcomes)


# -- consultants ----------------------------------------------------------------
def _ticket_arg(context: BotContext) -> int | None:
    arg = (context.args or [""])[0].lstrip("#")
    return int(arg) if arg.isdigit() else None


async def _consultant(update: Update, context: BotContext) -> bool:
    user_id = update.effective_user.id
    svc = context.services.handoff
    allowed = await asyncio.to_thread(svc.is_consultant, user_id) or user_id in svc.settings.admin_ids
    if not allowed:
        await _reply(update, t(STAFF, "consultant.only_consultants"))
    return allowed


async def queue(update: Update, context: BotContext) -> None:
    if await _consultant(update, context):
        text, buttons = await asyncio.to_thread(context.services.handoff.queue, update.effective_user.id)
        await _reply(update, text, buttons)


async def close(update: Update, context: BotContext) -> None:
    if await _consultant(update, context):
        reply = update.effective_message.reply_to_message
        outcome = await asyncio.to_thread(
            context.services.handoff.close,
            update.effective_user.id,
            _ticket_arg(context),
            reply.message_id if reply else None,
        )
        await _after(context, outcome)


async def transfer(update: Update, context: BotContext) -> None:
    if await _consultant(update, context):
        reply = update.effective_message.reply_to_message
        outcome = await asyncio.to_thread(
            context.services.handoff.transfer_options,
            update.effective_user.id,
            _ticket_arg(context),
            reply.message_id if reply else None,
        )
        await _after(context, outcome)


async def callback(update: Update, context: BotContext) -> None:
    """Ticket buttons: claim, cancel, skip the intake, relay choice, transfer, close and rating.

    Each service call checks that the presser may do it (the ticket's owner or consultant, a registered
    consultant for a claim) inside its own transaction, so a forged press changes nothing.
    """
    query = update.callback_query
    press = callbacks.decode(query.data)
    user_id, svc = update.effective_user.id, context.services.handoff
    ref = (query.message.chat.id, query.message.message_id) if query.message else None
    calls = {
        "claim": lambda a: svc.claim(a[0], user_id, card=ref if ref and ref[0] == svc.group else None),
        "claim_listed": lambda a: svc.claim(a[0], user_id),  # from a /queue list: that message is no card
        "cancel": lambda a: svc.cancel(user_id, a[0], message=ref),
        "skip_intake": lambda a: svc.skip_intake(user_id, a[0], message=ref),
        "relay_choice": lambda a: svc.choose_relay(user_id, a[0], a[1], ref),
        "transfer_options": lambda a: svc.transfer_options(user_id, a[0], message=ref),
        "transfer": lambda a: svc.transfer(user_id, a[0], a[1], ref),
        "close": lambda a: svc.close(user_id, a[0], message=ref),
        "rate": lambda a: svc.rate(user_id, a[0], a[1], ref),
    }
    if press is None or press.kind not in calls:
        await query.answer(t(await user_language(update, context), "common.stale_button"))
        return
    outcome = await asyncio.to_thread(calls[press.kind], press.values)
    try:
        await query.answer(outcome.toast[:200] or None, show_alert=outcome.alert)
    except TelegramError as exc:  # a callback answered too late is harmless; the outbox still goes out
        log.info("callback %s not answered: %s", press.kind, exc)
    await _after(context, outcome)


# -- admins ---------------------------------------------------------------------
async def _admin(update: Update, context: BotContext) -> bool:
    if update.effective_user.id in context.services.handoff.settings.admin_ids:
        return True
    await _reply(update, t(STAFF, "admin.not_admin"))
    return False


async def consultant_add(update: Update, context: BotContext) -> None:
    """/consultant_add TELEGRAM_ID topics Name (admins)."""
    if not await _admin(update, context):
        return
    args = context.args or []
    usage = t(STAFF, "admin.consultant_add_usage", topics=", ".join(TOPICS))
    if len(args) < 3 or not args[0].isdigit():
        await _reply(update, e(usage))
        return
    try:
        info = await asyncio.to_thread(
            context.services.handoff.consultants.add,
            int(args[0]),
            " ".join(args[2:]),
            args[1],
            update.effective_user.id,
        )
    except ValueError as exc:
        await _reply(update, e(f"{exc}\n{usage}"))
        return
    added = t(STAFF, "admin.consultant_added", name=e(info.name), id=info.telegram_id, topics=", ".join(info.topics))
    await _reply(update, added)
    await menus.refresh(context.application, info.telegram_id)


async def consultant_remove(update: Update, context: BotContext) -> None:
    """/consultant_remove TELEGRAM_ID (admins); their conversations go back to the queue."""
    if not await _admin(update, context):
        return
    args = context.args or []
    if not args or not args[0].isdigit():
        await _reply(update, t(STAFF, "admin.consultant_remove_usage"))
        return
    removed = await asyncio.to_thread(
        context.services.handoff.remove_consultant, int(args[0]), update.effective_user.id
    )
    key = "admin.consultant_removed" if removed else "admin.consultant_not_found"
    await _reply(update, t(STAFF, key, id=int(args[0])))
    await deliver(context.application)
    if removed:
        await menus.refresh(context.application, int(args[0]))


async def consultants(update: Update, context: BotContext) -> None:
    """/consultants: the register (admins and consultants)."""
    if not await _consultant(update, context):
        return
    rows = await asyncio.to_thread(context.services.handoff.consultants.list)
    lines = [
        t(STAFF, "admin.consultants_item", name=e(c.name), id=c.telegram_id, topics=", ".join(c.topics)) for c in rows
    ]
    listed = "\n".join(lines) or t(STAFF, "admin.consultants_none")
    await _reply(update, t(STAFF, "admin.consultants_head", n=len(rows)) + "\n" + listed)


__all__ = [
    "after_answer",
    "after_feedback",
    "forget",
    "incoming",
    "intercept",
    "on_start",
    "register",
    "relay_edit",
    "relay_example",
    "request",
]
