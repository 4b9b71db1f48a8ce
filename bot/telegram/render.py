"""Answer -> Telegram HTML text and keyboards; splitting within Telegram's limits."""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.answering.engine import format_sources
from bot.answering.types import Answer
from bot.telegram import texts
from bot.textlen import fit, utf16_len
from indexer.config import TOPICS

LIMIT = 4096


def answer_html(answer: Answer) -> str:
    text = html.escape(answer.answer)
    if answer.sources:
        label = "Nguồn" if answer.language == "vi" else "Sources"
        text += f"\n\n<b>{label}:</b>\n" + html.escape(format_sources(answer.sources, answer.language))
    return text


def answer_keyboard(message_ref: int, lang: str = "vi") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(texts.text(lang, "BTN_UP"), callback_data=f"fb:1:{message_ref}"),
                InlineKeyboardButton(texts.text(lang, "BTN_DOWN"), callback_data=f"fb:-1:{message_ref}"),
            ],
            [InlineKeyboardButton(texts.text(lang, "BTN_HUMAN"), callback_data="human")],
        ]
    )


def topics_keyboard(lang: str = "vi") -> InlineKeyboardMarkup:
    labels = texts.TOPIC_LABELS_EN if lang == "en" else TOPICS
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(labels[key], callback_data=f"topic:{key}")] for key in TOPICS if key != "other"]
    )


def examples_keyboard(lang: str, key: str) -> InlineKeyboardMarkup:
    """Example questions of a topic; the callback carries the language, so a tap asks the question shown."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(q[:60], callback_data=f"ex:{key}:{i}:{lang}")]
            for i, q in enumerate(texts.examples(lang, key))
        ]
    )


def split(text: str, limit: int = LIMIT) -> list[str]:
    """Split at paragraph, then line, then space boundaries; never inside an HTML tag or entity.

    Sizes are UTF-16 code units, as Telegram counts them (an emoji takes two), of the HTML source:
    never less than the visible text the limit applies to.
    """
    parts: list[str] = []
    while utf16_len(text) > limit:
        end = fit(text, limit)
        cut = max(text.rfind("\n\n", 0, end), text.rfind("\n", 0, end))
        if cut < end // 2:
            cut = text.rfind(" ", 0, end)
        if cut < end // 2:
            cut = end
        amp = text.rfind("&", 0, cut)
        if amp > 0 and ";" not in text[amp:cut]:
            cut = amp
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts
