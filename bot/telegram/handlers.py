"""Thin handlers: parse the update, call a service, render the reply."""

from __future__ import annotations

import asyncio
import logging
import time

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError, TimedOut

from bot.answering.language import detect_language
from bot.telegram import handoff_handlers, render, texts
from bot.telegram.context import BotContext
from bot.telegram.userlang import user_language

log = logging.getLogger(__name__)
MAX_CHARS = 1500


async def send(update: Update, text: str, markup=None) -> None:
    """Reply in HTML, split at Telegram's limit; a user who blocked the bot is logged, not retried."""
    chat = update.effective_chat
    parts = render.split(text)
    try:
        for n, part in enumerate(parts):
            last_markup = markup if n == len(parts) - 1 else None
            await _with_retries(
                lambda text=part, keys=last_markup: chat.send_message(
                    text, parse_mode=ParseMode.HTML, reply_markup=keys
                )
            )
    except Forbidden:
        log.info("user %s blocked the bot", chat.id)


async def _with_retries(call, attempts: int = 3):
    """Retry a send on network trouble (not on a request Telegram refused: BadRequest is final)."""
    for attempt in range(attempts):
        try:
            return await call()
        except (BadRequest, Forbidden):
            raise
        except (NetworkError, TimedOut) as exc:
            if attempt == attempts - 1:
                raise
            log.warning("network error while sending (attempt %d): %s", attempt + 1, exc)
            await asyncio.sleep(0.5 * (attempt + 1))


async def start(update: Update, context: BotContext) -> None:
    await asyncio.to_thread(context.services.store.record_consent, update.effective_user.id)
    lang = await user_language(update, context)
    await send(update, texts.text(lang, "START"), render.topics_keyboard(lang))


async def help_(update: Update, context: BotContext) -> None:
    await send(update, texts.text(await user_language(update, context), "HELP"))


async def topics(update: Update, context: BotContext) -> None:
    lang = await user_language(update, context)
    await send(update, texts.text(lang, "TOPICS_PROMPT"), render.topics_keyboard(lang))


async def privacy(update: Update, context: BotContext) -> None:
    await send(update, texts.text(await user_language(update, context), "PRIVACY"))


async def new(update: Update, context: BotContext) -> None:
    await asyncio.to_thread(context.services.store.new_context, update.effective_user.id)
    await send(update, texts.text(await user_language(update, context), "NEW"))


async def forget(update: Update, context: BotContext) -> None:
    lang = await user_language(update, context)
    markup = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(texts.text(lang, "BTN_FORGET_YES"), callback_data="forget:yes"),
                InlineKeyboardButton(texts.text(lang, "BTN_FORGET_NO"), callback_data="forget:no"),
            ]
        ]
    )
    await send(update, texts.text(lang, "FORGET_CONFIRM"), markup)


async def human(update: Update, context: BotContext) -> None:
    await handoff_handlers.request(update, context, "command")


async def non_text(update: Update, context: BotContext) -> None:
    if await handoff_handlers.intercept(update, context):  # a file for or from a consultant
        return
    await send(update, texts.text(await user_language(update, context), "NON_TEXT"))


async def question(update: Update, context: BotContext) -> None:
    if await handoff_handlers.intercept(update, context):  # relayed, or the intake answer: the bot stays silent
        return
    text = update.effective_message.text or ""
    await ask(update, context, text)


async def ask(update: Update, context: BotContext, text: str) -> None:
    svc = context.services
    user_id = update.effective_user.id
    too_long = len(text) > MAX_CHARS
    text = text[:MAX_CHARS]
    history = await asyncio.to_thread(svc.store.history, user_id)  # before this question is stored
    # This message's language, else the conversation's, else the user's Telegram language.
    earlier = [t.text for t in reversed(history) if t.role == "user"]
    lang = texts.language_of(update.effective_user, detect_language(text, earlier, default=None))
    admitted = await asyncio.to_thread(svc.store.admit_question, user_id, text, svc.settings.rate_limit_per_minute)
    if admitted is None:
        await send(update, texts.text(lang, "SLOW_DOWN"))
        return
    if too_long:
        await send(update, texts.text(lang, "TOO_LONG").format(n=MAX_CHARS))
    try:
        await update.effective_chat.send_action(ChatAction.TYPING)
    except TelegramError:
        pass
    started = time.perf_counter()
    answer = await asyncio.to_thread(svc.engine.answer, text, history, lang)
    ref = await asyncio.to_thread(
        svc.store.add_turn,
        user_id,
        "assistant",
        answer.answer,
        {
            "kind": answer.kind,
            "confidence": answer.confidence,
            "sources": [s.doc_id for s in answer.sources],
            "topic": answer.topic,
            "titles": [s.title for s in answer.sources],
        },
    )
    if answer.kind == "handoff_request":
        await handoff_handlers.request(update, context, "wish")
        return
    has_buttons = answer.kind in ("answer", "abstain", "calculation")
    markup = render.answer_keyboard(ref, answer.language) if has_buttons else None
    await send(update, render.answer_html(answer), markup)
    log.info(
        "answered user=%s kind=%s confidence=%.2f ms=%d",
        user_id,
        answer.kind,
        answer.confidence,
        (time.perf_counter() - started) * 1000,
    )
    await handoff_handlers.after_answer(update, context, answer)


async def callback(update: Update, context: BotContext) -> None:
    query = update.callback_query
    data = query.data or ""
    svc = context.services
    user_id = update.effective_user.id
    try:
        if data.startswith("fb:"):
            _, value, ref = data.split(":")
            await asyncio.to_thread(svc.store.add_feedback, user_id, int(ref), int(value))
            # 👍: a short toast is enough; 👎: the message below says what happens next.
            lang = await user_language(update, context)
            await query.answer(texts.text(lang, "THANKS_UP") if value == "1" else None, show_alert=False)
            if value != "1":
                await send(update, texts.text(lang, "THANKS_DOWN"))
                await handoff_handlers.after_feedback(update, context)
        elif data == "human":
            await query.answer()
            await handoff_handlers.request(update, context, "button")
        elif data.startswith("topic:"):
            key = data.split(":", 1)[1]
            lang = await user_language(update, context)
            await query.answer()
            await send(update, texts.text(lang, "EXAMPLES_PROMPT"), render.examples_keyboard(lang, key))
        elif data.startswith("ex:"):
            _, key, index, *rest = data.split(":")  # buttons sent before the language part was added have none
            await query.answer()
            examples = texts.examples(rest[0] if rest else "vi", key)
            if (
                index.isdigit()
                and int(index) < len(examples)
                and not await handoff_handlers.relay_example(update, context, examples[int(index)])
            ):
                await ask(update, context, examples[int(index)])
        elif data == "forget:yes":
            lang = await user_language(update, context)  # before the questions it is read from are deleted
            count = await asyncio.to_thread(svc.store.forget, user_id)
            await handoff_handlers.forget(update, context)
            await query.answer()
            await _edit(query, texts.text(lang, "FORGOTTEN").format(n=count))
        elif data == "forget:no":
            await query.answer()
            await _edit(query, texts.text(await user_language(update, context), "FORGET_CANCELLED"))
        else:
            await query.answer(texts.text(await user_language(update, context), "STALE_BUTTON"))
    except (ValueError, BadRequest) as exc:
        log.info("callback %r not handled: %s", data, exc)
        try:
            await query.answer()
        except TelegramError:
            pass


async def _edit(query, text: str) -> None:
    try:
        await query.edit_message_text(text)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


async def on_error(update: object, context: BotContext) -> None:
    """Log with context, tell the user, and tell the admins at most once a minute."""
    kind = "callback" if isinstance(update, Update) and update.callback_query else "message"
    log.error("error while handling a %s update", kind, exc_info=context.error)
    if isinstance(update, Update) and update.callback_query:
        try:  # a pressed button must stop spinning even when its handler failed
            await update.callback_query.answer(texts.for_user(update.effective_user, "ERROR")[:190])
        except TelegramError:
            pass
    elif isinstance(update, Update) and update.effective_chat and update.effective_chat.type == "private":
        try:  # never post an apology into the consultants group
            await update.effective_chat.send_message(texts.for_user(update.effective_user, "ERROR"))
        except TelegramError:
            pass
    svc = context.services
    now = time.monotonic()
    if now - context.bot_data.last_admin_alert < 60:
        return
    context.bot_data.last_admin_alert = now
    for admin in svc.settings.admin_ids:
        try:
            await context.bot.send_message(admin, f"Bot error: {type(context.error).__name__}: {context.error}"[:4000])
        except TelegramError:
            pass
