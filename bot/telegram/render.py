"""Answer -> Telegram HTML text and keyboards; splitting within Telegram's limits."""

from __future__ import annotations

import html
import re

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import MessageLimit

from bot import callbacks
from bot.answering.texts import basis_block, short_source_line
from bot.answering.types import Answer
from bot.i18n import items, t
from bot.textlen import fit, utf16_len
from indexer.config import TOPICS

LIMIT = MessageLimit.MAX_TEXT_LENGTH  # 4096 UTF-16 units
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)[^>]*>")


def answer_html(answer: Answer) -> str:
    """The answer and, on a phone's width, each source's title and main legal instrument; the full legal basis
    (section, every instrument and article, dates in force) is one tap away (basis_html)."""
    text = html.escape(answer.answer)
    if answer.sources:
        label = t(answer.language, "common.sources")
        lines = "\n".join(short_source_line(n, s) for n, s in enumerate(answer.sources, 1))
        text += f"\n\n<b>{label}:</b>\n" + html.escape(lines)
    return text


def basis_meta(answer: Answer) -> list[list[str]]:
    """What the legal-basis button shows later, stored with the answer: [title, section, basis, from, to]."""
    return [[s.title, s.section, s.legal_basis, s.effective_from, s.effective_to] for s in answer.sources]


def basis_html(basis: list, lang: str = "vi") -> str:
    labels = {"section": t(lang, "common.basis_section"), "none": t(lang, "common.basis_none")}
    blocks = [basis_block(n, *map(str, row[:5]), lang=lang, labels=labels) for n, row in enumerate(basis, 1)]
    return f"<b>{html.escape(t(lang, 'common.basis_title'))}:</b>\n" + html.escape("\n\n".join(blocks))


def answer_keyboard(message_ref: int, lang: str = "vi", basis: bool = False) -> InlineKeyboardMarkup:
    """Feedback, a consultant, and with `basis` the full legal basis of the sources."""
    last = [InlineKeyboardButton(t(lang, "common.btn_human"), callback_data=callbacks.encode("human"))]
    if basis:
        last.append(
            InlineKeyboardButton(t(lang, "common.btn_basis"), callback_data=callbacks.encode("basis", message_ref))
        )
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t(lang, "common.btn_up"), callback_data=callbacks.encode("feedback", 1, message_ref)
                ),
                InlineKeyboardButton(
                    t(lang, "common.btn_down"), callback_data=callbacks.encode("feedback", -1, message_ref)
                ),
            ],
            last,
        ]
    )


def topics_keyboard(lang: str = "vi") -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(t(lang, f"topics.{key}"), callback_data=callbacks.encode("topic", key))]
            for key in TOPICS
            if key != "other"
        ]
    )


def examples(lang: str, topic: str) -> list[str]:
    """A topic's example questions (none for a topic key that is not in design.md: old or forged buttons)."""
    return items(lang, f"topics.examples_{topic}") if topic in TOPICS else []


def examples_keyboard(lang: str, key: str) -> InlineKeyboardMarkup:
    """Example questions of a topic; the callback carries the language, so a tap asks the question shown."""
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(q[:60], callback_data=callbacks.encode("example", key, i, lang))]
            for i, q in enumerate(examples(lang, key))
        ]
    )


def split(text: str, limit: int = LIMIT) -> list[str]:
    """Split Telegram HTML into messages of at most `limit` UTF-16 units, each valid on its own.

    Cuts fall at a paragraph, then a line, then a space; never inside a tag or an entity. Tags open at a cut
    are closed at the end of that part and opened again at the start of the next, so every part parses.
    When nesting leaves no room for text (a tiny limit), the rest goes out without tags rather than not at all.
    Sizes are counted on the HTML source, never less than the visible text Telegram's limit applies to.
    """
    parts: list[str] = []
    reopened = 0  # length of the tags re-opened at the start of `text`
    while utf16_len(text) > limit:
        budget, head, cut, stack = limit, "", 0, []
        while budget > 0:
            cut = _cut(text, budget)
            stack = _open_tags(text[:cut])
            link = next((at for name, _, at in stack if name == "a"), -1)
            if link > max(reopened, fit(text, budget) // 3):  # a mention or link is kept whole when it can be
                cut = link
                stack = _open_tags(text[:cut])
            head = text[:cut].rstrip() + "".join(f"</{name}>" for name, _, _ in reversed(stack))
            if utf16_len(head) <= limit:
                break
            budget -= utf16_len(head) - limit  # room for the closing tags
        if budget <= 0 or cut <= reopened:
            return parts + _plain(_TAG.sub("", text), limit)
        parts.append(head)
        opening = "".join(tag for _, tag, _ in stack)
        text, reopened = opening + text[cut:].lstrip(), len(opening)
    if text.strip():
        parts.append(text)
    return parts


def _plain(text: str, limit: int) -> list[str]:
    parts = []
    while utf16_len(text) > limit:
        cut = _cut(text, limit)
        parts.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*parts, text] if text.strip() else parts


def _cut(text: str, budget: int) -> int:
    end = fit(text, budget)
    cut = max(text.rfind("\n\n", 0, end), text.rfind("\n", 0, end))
    if cut < end // 2:
        cut = text.rfind(" ", 0, end)
    if cut < end // 2:
        cut = end
    for opener, closer in (("<", ">"), ("&", ";")):
        start = text.rfind(opener, 0, cut)
        if start >= 0 and closer not in text[start:cut]:
            cut = start  # the cut would fall inside a tag or an entity: cut before it
    return cut if cut > 0 else max(1, end)


def _open_tags(html_text: str) -> list[tuple[str, str, int]]:
    """(name, opening tag, its position) of the tags still open at the end of `html_text`."""
    stack: list[tuple[str, str, int]] = []
    for match in _TAG.finditer(html_text):
        closing, name = match.group(1), match.group(2).lower()
        if closing:
            for n in range(len(stack) - 1, -1, -1):
                if stack[n][0] == name:
                    del stack[n:]
                    break
        elif not match.group(0).endswith("/>"):
            stack.append((name, match.group(0), match.start()))
    return stack
