"""Answer -> Telegram HTML text and keyboards; splitting within Telegram's limits."""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.answering.engine import format_sources
from bot.answering.types import Answer
from indexer.config import TOPICS

LIMIT = 4096


def answer_html(answer: Answer) -> str:
    text = html.escape(answer.answer)
    if answer.sources:
        label = "Nguồn" if answer.language == "vi" else "Sources"
        text += f"\n\n<b>{label}:</b>\n" + html.escape(format_sources(answer.sources, answer.language))
    return text


def answer_keyboard(message_ref: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([
        [InlineKeyboardButton("👍 Hữu ích", callback_data=f"fb:1:{message_ref}"),
         InlineKeyboardButton("👎 Chưa đúng", callback_data=f"fb:-1:{message_ref}")],
        [InlineKeyboardButton("🧑‍💼 Hỏi chuyên gia", callback_data="human")],
    ])


def topics_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=f"topic:{key}")]
                                 for key, label in TOPICS.items() if key != "other"])


def split(text: str, limit: int = LIMIT) -> list[str]:
    """Split at paragraph, then line, then space boundaries; never inside an HTML tag or entity."""
    parts: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n\n", 0, limit), text.rfind("\n", 0, limit))
        if cut < limit // 2:
            cut = text.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        amp = text.rfind("&", 0, cut)
        if amp != -1 and ";" not in text[amp:cut]:
            cut = amp
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        parts.append(text)
    return parts
