"""Follow-up questions: combine a short, context-dependent question with the previous subject."""

from __future__ import annotations

import re

from bot.answering.types import Turn
from indexer.textnorm import fold, tokens

_MARKERS = re.compile(
    r"^(con|the con|vay con|con ve|vay|the|con neu|neu|what about|how about|and|and for|same for|also)\b|"
    r"(thi sao|the nao|thi the nao|ra sao|thi co|nhu vay|cai do|cai nay|viec do|viec nay|truong hop do|"
    r"no|chung|ho|what about|how about|that one|this one|them|it)\W*$|\b(do|nay|no|it|that)\b"
)


def last_user_question(history: list[Turn]) -> str | None:
    for turn in reversed(history):
        if turn.role == "user" and turn.text.strip():
            return turn.text
    return None


def is_followup(question: str, history: list[Turn]) -> bool:
    if not last_user_question(history):
        return False
    folded = fold(question).strip()
    return bool(_MARKERS.search(folded)) or len(tokens(question)) <= 4


def combine(question: str, history: list[Turn]) -> str:
    previous = last_user_question(history) or ""
    return f"{question} {previous}".strip()


def last_answer(history: list[Turn]) -> Turn | None:
    """The latest assistant turn: the conversation state (kind, documents, topic) the last answer left."""
    for turn in reversed(history):
        if turn.role == "assistant":
            return turn
    return None
