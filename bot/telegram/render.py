"""Answer -> Telegram HTML text and keyboards; splitting within Telegram's limits."""

from __future__ import annotations

import html

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.answering.engine import format_sources
from bot.answering.types import Answer
from bot.textlen import fit, utf16_len
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
