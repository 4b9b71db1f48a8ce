"""Unicode normalisation and diacritic folding for Vietnamese text."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"[0-9a-z]+(?:[.,/][0-9]+)*")


def nfc(text: str) -> str:
    """NFC-normalise text; every text entering the system passes here first."""
    return unicodedata.normalize("NFC", text or "")


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
