"""Thin handlers: parse the update, call a service, render the reply."""

from __future__ import annotations

import asyncio
import logging
import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import BadRequest, NetworkError, TelegramError, TimedOut
from telegram.ext import ApplicationHandlerStop

from bot import callbacks, edits
from bot.answering.language import detect_language
from bot.i18n import STAFF, t
from bot.telegram import handoff_delivery, handoff_handlers, needs_handlers, render
from bot.telegram.context import BotContext
from bot.telegram.ordering import reply_origin
from bot.telegram.userlang import language_of, user_language

log = logging.getLogger(__name__)
MAX_CHARS = 1500


async def send(update: Update, context: BotContext, text: str, markup=None, reply_to: int | None = None) -> None:
    """Reply in HTML through the outbox: stored first, then sent in the chat's order, retried through faults until
    Telegram accepts or refuses it for good (a user who blocked the bot is not retried).

    `reply_to`: the first part quotes that message of the chat (sent anyway if it was deleted meanwhile)."""
    chat = update.effective_chat
    await handoff_delivery.reply(context.application, chat.id, text, outbox_buttons(markup), reply_to, reply_origin())


def outbox_buttons(markup: InlineKeyboardMarkup | None) -> list:
    """An inline keyboard as the outbox stores it, [[label, callback_data], ...] rows (every reply keyboard of
    the bot is made of callback buttons; another kind would be lost, so it is refused where it is made)."""
    if markup is None:
        return []
    rows = [[[b.text, b.callback_data] for b in line] for line in markup.inline_keyboard]
    if any(not isinstance(data, str) for line in rows for _, data in line):
        raise TypeError("the outbox holds callback buttons only")
    return rows


async def start(update: Update, context: BotContext) -> None:
    await asyncio.to_thread(context.services.store.record_consent, update.effective_user.id)
    lang = await user_language(update, context)
    await send(
        update, context, t(lang, "common.start"), needs_handlers.with_start_button(render.topics_keyboard(lang), lang)
    )


async def help_(update: Update, context: BotContext) -> None:
    await send(update, context, t(await user_language(update, context), "common.help"))


async def topics(update: Update, context: BotContext) -> None:
    lang = await user_language(update, context)
    await send(update, context, t(lang, "common.topics_prompt"), render.topics_keyboard(lang))


async def privacy(update: Update, context: BotContext) -> None:
    await send(update, context, t(await user_language(update, context), "common.privacy"))


async def new(update: Update, context: BotContext) -> None:
    await asyncio.to_thread(context.services.store.new_context, update.effective_user.id)
    await send(update, context, t(await user_language(update, context), "common.new"))


async def forget(update: Update, context: BotContext) -> None:
    lang = await user_language(update, context)
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t(lang, "common.btn_forget_yes"), callback_data=callbacks.encode("forget", "yes")),
                InlineKeyboardButton(t(lang, "common.btn_forget_no"), callback_data=callbacks.encode("forget", "no")),
            ]
        ]
    )
    await send(update, context, t(lang, "common.forget_confirm"), markup)


async def human(update: Update, context: BotContext) -> None:
    await handoff_handlers.request(update, context, "command")


async def non_text(update: Update, context: BotContext) -> None:
    if await handoff_handlers.intercept(update, context):  # a file for or from a consultant
        return
    await send(update, context, t(await user_language(update, context), "common.non_text"))


async def question(update: Update, context: BotContext) -> None:
    if await handoff_handlers.intercept(update, context):  # relayed, or the intake answer: the bot stays silent
        return
    text = update.effective_message.text or ""
    await ask(update, context, text)


async def edited(update: Update, context: BotContext) -> None:
    """An edited message, in any chat: never read again by the handlers of new messages (group EDITS_GROUP)."""
    await _edited(update, context)
    raise ApplicationHandlerStop


async def _edited(update: Update, context: BotContext) -> None:
    message = update.edited_message
    if message is None or message.from_user is None or update.effective_chat.type != ChatType.PRIVATE:
        return  # the consultants' group: consultants relay in their private chats, a group's edits are not read
    if await handoff_handlers.relay_edit(update, context):  # passed on as a correction, or the sender told why not
        return
    svc, user_id = context.services, update.effective_user.id
    media = handoff_handlers.incoming(message).media
    verdict = edits.verdict(message.text or "", media, message.date, message.edit_date)
    if verdict is edits.EditVerdict.ANSWER and (
        await asyncio.to_thread(svc.needs.is_active, user_id)
        or await asyncio.to_thread(svc.curation.editing, user_id) is not None
    ):
        verdict = edits.EditVerdict.NOT_READ  # a form or a draft in progress: its answers are not re-read
    log.info("edited message: %s", verdict.value)
    if verdict is edits.EditVerdict.ANSWER:
        await ask(update, context, message.text, reply_to=message.message_id)
        return
    key = "common.edit_command" if verdict is edits.EditVerdict.COMMAND else "common.edit_not_read"
    await send(update, context, t(await user_language(update, context), key), reply_to=message.message_id)


async def ask(update: Update, context: BotContext, text: str, reply_to: int | None = None) -> None:
    """Answer `text`; with `reply_to` (an edited question) the answer quotes it and says it answers the correction."""
    svc = context.services
    user_id = update.effective_user.id
    too_long = len(text) > MAX_CHARS
    text = text[:MAX_CHARS]
    # The question stored (unless over the rate limit) with the conversation before it, in one transaction; an
    # update handled again (its first replica died midway) finds the turns it stored then, and neither sees them
    # as history nor stores them twice.
    admission = await asyncio.to_thread(
        svc.store.admit, user_id, text, svc.settings.rate_limit_per_minute, update_id=update.update_id
    )
    history = admission.history
    # This message's language, else the conversation's, else the user's Telegram language.
    earlier = [t.text for t in reversed(history) if t.role == "user"]
    lang = language_of(update.effective_user, detect_language(text, earlier, default=None))
    if admission.message_id is None:
        await send(update, context, t(lang, "common.slow_down"), reply_to=reply_to)
        return
    if too_long:
        await send(update, context, t(lang, "common.too_long", n=MAX_CHARS), reply_to=reply_to)
    # "typing…" alongside the answer, not before it: the answer does not wait for one more round trip to Telegram.
    typing = asyncio.create_task(_typing(update))
    try:
        await _answer_question(update, context, text, history, lang, reply_to)
    finally:
        await typing  # long done by now; awaited so that no task outlives its update


async def _answer_question(update: Update, context: BotContext, text: str, history, lang: str, reply_to) -> None:
    svc = context.services
    user_id = update.effective_user.id
    started = time.perf_counter()

    def answer_and_store():
        # The answer and its storing on the same worker thread: one trip there instead of two for every question.
        answer = svc.engine.answer(text, history, lang)
        meta = {
            "kind": answer.kind,
            "confidence": answer.confidence,
            "sources": [s.doc_id for s in answer.sources],
            "topic": answer.topic,
            "titles": [s.title for s in answer.sources],
            "basis": render.basis_meta(answer),
        }
        return answer, svc.store.add_turn(user_id, "assistant", answer.answer, meta, update.update_id)

    answer, ref = await asyncio.to_thread(answer_and_store)
    if answer.kind == "handoff_request":
        await handoff_handlers.request(update, context, "wish")
        return
    has_buttons = answer.kind in ("answer", "abstain", "calculation")
    details = any(s.legal_basis or s.section for s in answer.sources)
    markup = render.answer_keyboard(ref, answer.language, basis=details) if has_buttons else None
    html = render.answer_html(answer)
    if reply_to is not None:
        html = t(answer.language, "common.edit_answer") + "\n" + html
    await send(update, context, html, markup, reply_to=reply_to)
    log.info(
        "answered kind=%s confidence=%.2f ms=%d",
        answer.kind,
        answer.confidence,
        (time.perf_counter() - started) * 1000,
    )
    await handoff_handlers.after_answer(update, context, answer)


async def _typing(update: Update) -> None:
    try:
        await update.effective_chat.send_action(ChatAction.TYPING)
    except TelegramError:
        pass  # only a hint: the answer follows anyway


async def callback(update: Update, context: BotContext) -> None:
    """The owner's buttons: feedback, a consultant, topics and their examples, /forget's confirmation."""
    query = update.callback_query
    press = callbacks.decode(query.data)
    svc = context.services
    user_id = update.effective_user.id
    lang = await user_language(update, context)  # before /forget deletes what it is read from
    if press is None:
        log.info("callback with data that is not ours")
        await _answer(query, t(lang, "common.stale_button"))
        return
    try:
        if press.kind == "feedback":
            value, ref = int(press[0]), int(press[1])
            if not await asyncio.to_thread(svc.store.add_feedback, user_id, ref, value):
                await _answer(query, t(lang, "common.stale_button"))
                return
            # 👍: a short toast is enough; 👎: the message below says what happens next.
            await _answer(query, t(lang, "common.thanks_up") if value == 1 else None)
            if value != 1:
                await send(update, context, t(lang, "common.thanks_down"))
                await handoff_handlers.after_feedback(update, context)
        elif press.kind == "basis":
            meta = await asyncio.to_thread(svc.store.answer_meta, user_id, int(press[0]))
            if not meta or not meta.get("basis"):
                await _answer(query, t(lang, "common.stale_button"))
                return
            await _answer(query)
            reply_to = query.message.message_id if query.message else None
            await send(update, context, render.basis_html(meta["basis"], lang), reply_to=reply_to)
        elif press.kind == "human":
            await _answer(query)
            await handoff_handlers.request(update, context, "button")
        elif press.kind == "topic":
            await _answer(query)
            await send(update, context, t(lang, "common.examples_prompt"), render.examples_keyboard(lang, press[0]))
        elif press.kind == "example":
            key, index, *rest = press.values  # buttons sent before the language part was added have none
            await _answer(query)
            examples = render.examples(str(rest[0]) if rest else "vi", str(key))
            if int(index) < len(examples) and not await handoff_handlers.relay_example(
                update, context, examples[int(index)]
            ):
                await ask(update, context, examples[int(index)])
        elif press.kind == "forget" and press[0] == "yes":
            count = await asyncio.to_thread(svc.store.forget, user_id)
            await handoff_handlers.forget(update, context)
            await _answer(query)
            await _edit(query, t(lang, "common.forgotten", n=count))
        elif press.kind == "forget":
            await _answer(query)
            await _edit(query, t(lang, "common.forget_cancelled"))
        else:
            await _answer(query, t(lang, "common.stale_button"))
    except BadRequest as exc:
        log.info("callback %s not handled: %s", press.kind, exc)
        await _answer(query)


async def _answer(query, text: str | None = None) -> None:
    """Answer a press; one answered twice or too late is harmless."""
    try:
        await query.answer(text, show_alert=False)
    except TelegramError as exc:
        log.debug("callback not answered: %s", exc)


async def _edit(query, text: str) -> None:
    try:
        await query.edit_message_text(text)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


ADMIN_ALERT_SECONDS = 60
RETRY_DELAYS = (2, 5, 10, 20, 30, 60)  # seconds: covers a database locked or a Bot API down for about two minutes


def transient(error: BaseException | None) -> bool:
    """A fault that passes by itself: a busy or unreachable database, the Bot API's network trouble or 5xx."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(error, OperationalError):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(error, (TimedOut, NetworkError)) and not isinstance(error, BadRequest)


async def _retry_update(context: BotContext) -> None:
    await context.application.update_queue.put(context.job.data)


async def on_error(update: object, context: BotContext) -> None:
    """A transient fault: handle the update again later, so the message is not lost. Otherwise log with
    context, tell the user, and tell the admins at most once a minute."""
    await _on_error(update, context)
    if isinstance(update, Update) and update.edited_message is not None:
        raise ApplicationHandlerStop  # an edit whose handler failed must not reach the handlers of new messages


async def _on_error(update: object, context: BotContext) -> None:
    if update is None and transient(context.error):
        # Polling or a job met a fault that passes by itself (the Bot API down for a while): python-telegram-bot
        # retries with backoff and the outbox keeps what is owed. A warning, not a stack and an admin alert.
        log.warning("Bot API or database unavailable: %s: %s", type(context.error).__name__, context.error)
        return
    if isinstance(update, Update) and transient(context.error) and context.application.job_queue is not None:
        tries = context.bot_data.retries
        if len(tries) > 10_000:  # ids of updates that went through on a retry are never removed one by one
            tries.clear()
        attempt = tries.get(update.update_id, 0)
        if attempt < len(RETRY_DELAYS):
            tries[update.update_id] = attempt + 1
            log.warning(
                "update %s hit %s; handled again in %s s",
                update.update_id,
                type(context.error).__name__,
                RETRY_DELAYS[attempt],
            )
            context.application.job_queue.run_once(_retry_update, RETRY_DELAYS[attempt], data=update)
            return
        tries.pop(update.update_id, None)
    kind = "callback" if isinstance(update, Update) and update.callback_query else "message"
    log.error("error while handling a %s update", kind, exc_info=context.error)
    if isinstance(update, Update) and update.callback_query:
        try:  # a pressed button must stop spinning even when its handler failed
            await update.callback_query.answer(t(language_of(update.effective_user), "common.error")[:190])
        except TelegramError:
            pass
    elif isinstance(update, Update) and update.effective_chat and update.effective_chat.type == "private":
        try:  # never post an apology into the consultants group
            await update.effective_chat.send_message(t(language_of(update.effective_user), "common.error"))
        except TelegramError:
            pass
    svc = context.services
    try:  # at most one alert a minute from all replicas together
        if not await asyncio.to_thread(svc.store.claim, "admin_error_alert", ADMIN_ALERT_SECONDS):
            return
    except Exception:  # noqa: BLE001 - the database may be what failed: fall back to this process's own clock
        now = time.monotonic()
        if now - context.bot_data.last_admin_alert < ADMIN_ALERT_SECONDS:
            return
        context.bot_data.last_admin_alert = now
    for admin in svc.settings.admin_ids:
        try:
            alert = t(STAFF, "admin.error_alert", kind=type(context.error).__name__, error=context.error)
            await context.bot.send_message(admin, alert[:4000])
        except TelegramError:
            pass
