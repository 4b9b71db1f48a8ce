"""Sends the handoff outbox through the Bot API and runs its jobs (re-announcements, retries) on the JobQueue.

State lives in the database: on start every open ticket's re-announcement is scheduled again from
`tickets.next_announce_at`, and whatever was left in the outbox is sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import Application

from bot import logs
from bot.handoff.core import Outcome
from bot.handoff.outbox import OutMessage
from bot.telegram import render
from bot.telegram.context import BotContext, services_of

log = logging.getLogger(__name__)
OUTBOX_POLL_SECONDS = 1.0
UNREACHABLE = ("chat not found", "user not found", "bot can't initiate", "user is deactivated", "bot was blocked")


async def deliver(app: Application) -> None:
    """Send every pending outbox row: chats in parallel, each chat in order."""
    svc = services_of(app).handoff
    for _ in range(4):  # an unreachable person produces new rows (tell the other side): a few passes
        chats = await asyncio.to_thread(svc.outbox.pending_chats)
        if not chats:
            return
        done = await asyncio.gather(*(_drain(app, chat) for chat in chats))
        if not any(done):
            return


async def drain(app: Application, chat_id: int) -> bool:
    """Send what is pending for one chat, in order (a reply just stored); whatever fails waits for the job."""
    return await _drain(app, chat_id)


async def reply(
    app: Application, chat_id: int, text: str, buttons: list, reply_to: int | None, origin: str | None
) -> None:
    """Store a reply in the outbox, then send what is pending for the chat, in order (as `outbox.reply` and then
    `drain`). When no send of this chat is in flight here, storing the reply and leasing the chat's next row are
    one transaction in one trip to a thread: that runs for every answer, and the bot's CPU is what it is short of.
    """
    outbox = services_of(app).handoff.outbox
    lock = app.bot_data.chat_locks.get(chat_id)
    if lock is not None and lock.locked():
        # A drain of this chat is sending: store the reply now rather than after that drain, then queue behind it.
        await asyncio.to_thread(outbox.reply, chat_id, text, buttons, reply_to, origin)
        await _drain(app, chat_id)
        return
    await _drain(
        app, chat_id, first=functools.partial(outbox.reply_and_lease, chat_id, text, buttons, reply_to, origin)
    )


async def _drain(app: Application, chat_id: int, first=None) -> bool:
    """`first`: what stores and leases the chat's first row, run under the chat's lock (else a lease)."""
    svc = services_of(app).handoff
    locks = app.bot_data.chat_locks
    sent = False
    async with locks.setdefault(chat_id, asyncio.Lock()):
        # One row at a time: a lease covers a single send, so a crash blocks the chat only briefly.
        rows = await asyncio.to_thread(first or functools.partial(svc.outbox.lease, chat_id, 1))
        while rows:
            row, sent = rows[0], True
            rows = []  # the branches below that go on lease the next row themselves
            if row.stale:
                await asyncio.to_thread(svc.outbox.mark_failed, row.id, "skipped: ticket moved on")
                rows = await asyncio.to_thread(svc.outbox.lease, chat_id, 1)
                continue
            if row.uncertain and not await _api_answers(app):
                # Telegram may have carried out the last try; send again only once the API answers, so the
                # one resend is not lost to the same fault (and no further copies are made meanwhile).
                await asyncio.to_thread(svc.outbox.retry_later, row.id, "waiting for the Bot API", uncertain=True)
                break
            try:
                message_id = await _send(app, row)
            except (BadRequest, Forbidden) as exc:  # BadRequest is a NetworkError subclass: first
                await _failed(app, row, exc)
                rows = await asyncio.to_thread(svc.outbox.lease, chat_id, 1)
            except RetryAfter as exc:
                wait = _retry_seconds(exc)
                log.warning("outbox %s to %s: flood limit, %s s", row.id, chat_id, wait)
                await asyncio.to_thread(svc.outbox.retry_later, row.id, str(exc), wait=wait)
                break  # later rows of this chat wait: the order is kept
            except (TimedOut, NetworkError) as exc:
                unknown = outcome_unknown(exc)
                log.warning(
                    "outbox %s to %s: %s%s; will retry",
                    row.id,
                    chat_id,
                    type(exc).__name__,
                    " (may have been delivered)" if unknown else "",
                )
                await asyncio.to_thread(svc.outbox.retry_later, row.id, str(exc), uncertain=unknown)
                break
            except TelegramError as exc:
                await _failed(app, row, exc)
                rows = await asyncio.to_thread(svc.outbox.lease, chat_id, 1)
            else:  # recorded as sent, and the chat's next row taken, in one trip to a thread
                rows = await asyncio.to_thread(svc.outbox.mark_sent_and_lease, row.id, message_id, chat_id)
    return sent


def outcome_unknown(exc: TelegramError) -> bool:
    """Whether Telegram may have carried out a request that failed: the connection broke or timed out after the
    request left. A refused connection, a full pool or an error answer from the API mean it did not. The causes
    are those of the bot's own request layer (bot/telegram/aiohttp_request.py)."""
    import aiohttp

    cause = exc.__cause__
    if isinstance(cause, (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError)):
        return False
    if isinstance(exc, TimedOut):
        return True
    return isinstance(cause, aiohttp.ClientError)


def _retry_seconds(exc: RetryAfter) -> float:
    # The pickled form holds whole seconds; the property warns until PTB's move to timedelta is complete.
    return float(exc.__reduce__()[1][0])


async def _api_answers(app: Application) -> bool:
    """A harmless call (getMe) to see whether the Bot API is reachable again."""
    try:
        await app.bot.get_me()
    except (TimedOut, NetworkError):
        return False
    except TelegramError:
        return True  # it answered, if only with an error
    return True


async def _failed(app: Application, row: OutMessage, exc: TelegramError) -> None:
    svc = services_of(app).handoff
    text = str(exc).lower()
    if isinstance(exc, BadRequest) and "not modified" in text:
        await asyncio.to_thread(svc.outbox.mark_sent, row.id, row.edit_message_id)
        return
    await asyncio.to_thread(svc.outbox.mark_failed, row.id, f"{type(exc).__name__}: {exc}")
    if row.role == "group" and (isinstance(exc, Forbidden) or any(part in text for part in UNREACHABLE)):
        log.error("outbox %s: the consultants' group %s cannot be reached: %s", row.id, row.chat_id, exc)
        if await asyncio.to_thread(svc.group_unreachable, f"{type(exc).__name__}: {exc}"):
            log.error("admins %s alerted: the consultants' group is unreachable", svc.settings.admin_ids)
    elif isinstance(exc, Forbidden) or any(part in text for part in UNREACHABLE):
        log.info("outbox %s: %s %s unreachable (%s)", row.id, row.role, row.chat_id, exc)
        outcomes = await asyncio.to_thread(svc.unreachable, row.chat_id, row.role, row.ticket_id)
        for outcome in outcomes:
            schedule(app, outcome)
    else:
        log.warning("outbox %s (%s %s) failed: %s", row.id, row.purpose, row.method, exc)


def _markup(row: OutMessage) -> InlineKeyboardMarkup | None:
    if not row.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in line] for line in row.buttons]
    )


async def _send(app: Application, row: OutMessage) -> int | None:
    bot, markup = app.bot, _markup(row)
    if row.purpose == "cards":
        for chat_id, message_id in row.targets:
            try:
                await bot.edit_message_text(render.split(row.text)[0], chat_id, message_id, parse_mode=ParseMode.HTML)
            except BadRequest as exc:  # one card deleted or already showing this: the others still change
                if "not modified" not in str(exc).lower():
                    log.warning("card %s of ticket %s not edited: %s", message_id, row.ticket_id, exc)
        return None
    if row.method == "markup":
        await bot.edit_message_reply_markup(row.chat_id, row.edit_message_id, reply_markup=markup)
        return row.edit_message_id
    if row.method == "edit":
        await bot.edit_message_text(
            render.split(row.text)[0], row.chat_id, row.edit_message_id, parse_mode=ParseMode.HTML, reply_markup=markup
        )
        return row.edit_message_id
    if row.method == "copy":
        try:
            sent = await bot.copy_message(
                row.chat_id,
                row.copy_chat_id,
                row.copy_message_id,
                caption=row.text or None,
                parse_mode=ParseMode.HTML if row.text else None,
                reply_markup=markup,
            )
        except BadRequest as exc:
            if not _too_long(exc):
                raise
            log.warning("outbox %s: caption too long, sent shorter", row.id)
            sent = await bot.copy_message(
                row.chat_id,
                row.copy_chat_id,
                row.copy_message_id,
                caption=render.split(row.text, 500)[0],
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
            )
        return sent.message_id
    message, parts = None, render.split(row.text)
    while parts:
        # The first part quotes the message it answers (an edited question), sent anyway if that one is gone.
        quote = (
            ReplyParameters(row.reply_to, allow_sending_without_reply=True) if row.reply_to and not message else None
        )
        try:
            message = await bot.send_message(
                row.chat_id,
                parts[0],
                parse_mode=ParseMode.HTML,
                reply_markup=markup if len(parts) == 1 else None,
                reply_parameters=quote,
            )
        except BadRequest as exc:  # "message is too long" (counted otherwise than here): split it smaller
            smaller = render.split(parts[0], render.utf16_len(parts[0]) // 2) if _too_long(exc) else []
            if len(smaller) < 2:
                raise
            log.warning("outbox %s: message too long, split smaller", row.id)
            parts[:1] = smaller
            continue
        parts.pop(0)
    return message.message_id if message else None


def _too_long(exc: BadRequest) -> bool:
    return "too long" in str(exc).lower()


# -- jobs -------------------------------------------------------------------------
def schedule(app: Application, outcome: Outcome | None) -> None:
    """(Re)schedule a ticket's re-announcement; the time itself is in the database."""
    if outcome is None or outcome.announce_at is None or outcome.ticket_id is None or app.job_queue is None:
        return
    _schedule(app, outcome.ticket_id, outcome.announce_at)


def _schedule(app: Application, ticket_id: int, at: dt.datetime) -> None:
    name = f"handoff-reannounce-{ticket_id}"
    for job in app.job_queue.get_jobs_by_name(name):
        job.schedule_removal()
    when = max(at, dt.datetime.now(dt.UTC) + dt.timedelta(milliseconds=50))
    app.job_queue.run_once(_reannounce_job, when=when, data=ticket_id, name=name)


async def _reannounce_job(context: BotContext) -> None:
    logs.detach()  # the scheduler's task may carry the ids of the update that last scheduled a job
    app = context.application
    ticket_id = context.job.data
    nxt = await asyncio.to_thread(services_of(app).handoff.reannounce, ticket_id)
    await deliver(app)
    if nxt is not None:
        _schedule(app, ticket_id, nxt)


async def _sweep_job(context: BotContext) -> None:
    """Retries and anything a lost job or another replica left: send pending rows, announce overdue tickets."""
    logs.detach()  # the scheduler's task may carry the ids of the update that last scheduled a job
    app = context.application
    svc = services_of(app).handoff
    now = dt.datetime.now(dt.UTC)
    for ticket_id, at in await asyncio.to_thread(svc.due):
        if at <= now - dt.timedelta(seconds=1):
            nxt = await asyncio.to_thread(svc.reannounce, ticket_id, now)
            if nxt is not None:
                _schedule(app, ticket_id, nxt)
    await deliver(app)


async def on_start(app: Application) -> None:
    """Schedule the open tickets' re-announcements from the database, and a periodic sweep."""
    if app.job_queue is None:
        log.warning("no JobQueue (install python-telegram-bot[job-queue]): tickets will not be re-announced")
        return
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    svc = services_of(app).handoff
    if svc.settings.sqlalchemy_url.startswith("sqlite"):  # one process owns the file: its old leases are void
        await asyncio.to_thread(svc.outbox.release_all)
    due = await asyncio.to_thread(svc.due)
    for ticket_id, at in due:
        _schedule(app, ticket_id, at)
    seconds = svc.interval.total_seconds()
    app.job_queue.run_repeating(_sweep_job, interval=max(1.0, min(15.0, seconds / 2)), first=0.5, name="handoff-sweep")
    # Retries (and rows another replica left) go out within about a second once their backoff has passed.
    app.job_queue.run_repeating(_outbox_job, interval=OUTBOX_POLL_SECONDS, first=1.0, name="outbox")
    app.job_queue.run_repeating(_purge_job, interval=3600, first=60, name="handoff-purge")
    log.info("handoff: %d open ticket(s) scheduled for re-announcement", len(due))


async def _outbox_job(context: BotContext) -> None:
    """Drain each chat with rows due, in its own task: a chat waiting out a flood limit holds up nobody else, and
    the job itself returns at once (it runs every second)."""
    logs.detach()  # the scheduler's task may carry the ids of the update that last scheduled a job
    app = context.application
    locks = app.bot_data.chat_locks
    for chat_id in await asyncio.to_thread(services_of(app).handoff.outbox.pending_chats):
        lock = locks.get(chat_id)
        if lock is None or not lock.locked():
            app.create_task(_drain(app, chat_id), name=f"outbox-{chat_id}")


async def _purge_job(context: BotContext) -> None:
    """Old sent rows hold copies of conversations: they are deleted after outbox.KEEP_DAYS days."""
    logs.detach()  # the scheduler's task may carry the ids of the update that last scheduled a job
    removed = await asyncio.to_thread(context.services.handoff.outbox.purge)
    if removed:
        log.info("handoff: %d old outbox row(s) deleted", removed)
