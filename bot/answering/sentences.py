"""Splitting Vietnamese guidance text into sentences without breaking abbreviations and legal numbers."""

from __future__ import annotations

import re

_END = re.compile(r"(?<=[.!?;])\s+(?=[A-ZÀ-Ỹ0-9\"“(«])")
# Words that end with a full stop without ending a sentence: "TP. Hồ Chí Minh", "PGS. TS. Lan", "v.v. và".
_ABBREVIATION = re.compile(
    r"(?:^|[\s(])(?:TP|Tp|tp|Q|P|X|H|TX|TT|GS|PGS|TS|ThS|KS|BS|CN|Th\.S|St|Mr|Mrs|Ms|Dr|No|Số|v\.v|tr|Tr|Đ|K)\.$"
)


def split_sentences(text: str) -> list[str]:
    """Sentences of `text`; a piece that ends with an abbreviation is joined to the next one."""
    pieces = _END.split(text)
    sentences: list[str] = []
    for piece in pieces:
        if sentences and _ABBREVIATION.search(sentences[-1]):
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            sentences.append(piece)
    return sentences
