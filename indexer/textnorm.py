"""Unicode normalisation and diacritic folding for Vietnamese text."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"[0-9a-z]+(?:[.,/][0-9]+)*")


# Invisible characters pasted from web pages and chat apps: inside a word they split it for search
# ("nh\u200bãn hiệu" matches nothing). The zero-width joiner is kept between emoji, where it builds one symbol.
_INVISIBLE = re.compile("[\u200b\u200c\u2060\ufeff\u00ad]|(?<=\\w)\u200d|\u200d(?=\\w)")


def nfc(text: str) -> str:
    """NFC-normalise text and drop invisible characters; every text entering the system passes here first."""
    return _INVISIBLE.sub("", unicodedata.normalize("NFC", text or ""))


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Lower-case and strip diacritics ("Đăng ký" -> "dang ky") for accent-insensitive matching."""
    text = nfc(text).lower().replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


def tokens(text: str) -> list[str]:
    """Folded word tokens for keyword search."""
    return _WORD.findall(fold(text))


def has_diacritics(text: str) -> bool:
    """True when the text carries Vietnamese diacritics (or đ)."""
    return fold(text) != nfc(text).lower()
