"""Telegram measures text limits (4096 per message, 1024 per caption) in UTF-16 code units of the visible text."""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>]*>")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: characters outside the BMP (most emoji) count twice."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def visible_len(html_text: str) -> int:
    """UTF-16 length of HTML once Telegram has parsed it (tags removed, entities decoded)."""
    return utf16_len(html.unescape(_TAG.sub("", html_text)))


def fit(text: str, units: int) -> int:
    """The largest n such that text[:n] takes at most `units` UTF-16 code units."""
    used = 0
    for n, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > units:
            return n
    return len(text)


def clip(text: str, units: int) -> str:
    return text[: fit(text, units)]
