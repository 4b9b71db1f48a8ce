"""One typed codec for inline-button data (Telegram allows 1-64 bytes): every button the bot sends is encoded here,
and every press is decoded here before anything else looks at it.

A press is data from the network: `decode` returns None for anything that is not exactly a button this bot makes
(unknown prefix, wrong number of fields, a number out of range, a 40-digit id), so handlers never parse strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.config import TOPICS

MAX_BYTES = 64
MAX_ID = 2**53  # database ids and Telegram ids fit; a forged 40-digit number does not


@dataclass(frozen=True)
class Int:
    low: int
    high: int

    def parse(self, text: str) -> int | None:
        if not re.fullmatch(r"-?\d{1,16}", text):
            return None
        value = int(text)
        return value if self.low <= value <= self.high else None


@dataclass(frozen=True)
class Choice:
    options: tuple[str, ...]

    def parse(self, text: str) -> str | None:
        return text if text in self.options else None


@dataclass(frozen=True)
class Pattern:
    regex: str

    def parse(self, text: str) -> str | None:
        return text if re.fullmatch(self.regex, text) else None


Field = Int | Choice | Pattern
ID = Int(1, MAX_ID)
LANGS = Choice(("vi", "en"))

# kind -> (prefix, fields, how many trailing fields may be missing: buttons sent by older versions)
KINDS: dict[str, tuple[str, tuple[Field, ...], int]] = {
    "feedback": ("fb", (Choice(("1", "-1")), ID), 0),
    "human": ("human", (), 0),
    "basis": ("lb", (ID,), 0),  # the full legal basis of an answer's sources
    "topic": ("topic", (Choice(tuple(TOPICS)),), 0),
    "example": ("ex", (Choice(tuple(TOPICS)), Int(0, 50), LANGS), 1),
    "forget": ("forget", (Choice(("yes", "no")),), 0),
    "claim": ("hc", (ID,), 0),
    "claim_listed": ("hq", (ID,), 0),  # from a /queue list: that message is not a card
    "cancel": ("hx", (ID,), 0),
    "skip_intake": ("hs", (ID,), 0),
    "relay_choice": ("hr", (ID, ID), 0),
    "transfer_options": ("hT", (ID,), 0),
    "transfer": ("ht", (ID, Int(0, MAX_ID)), 0),  # consultant 0: back to the queue
    "close": ("hk", (ID,), 0),
    "rate": ("hv", (ID, Int(1, 5)), 0),
    "kb_remove": ("kbrm", (Pattern(r"[0-9a-f]{12}|no"),), 0),
    # Model answers (bot/answers/curation.py): save a closed ticket, edit/submit/drop a draft, admins decide.
    "answer_save": ("as", (ID,), 0),
    "answer_edit": ("ae", (ID, Choice(("q", "a"))), 0),
    "answer_submit": ("au", (ID,), 0),
    "answer_drop": ("ad", (ID,), 0),
    "answer_approve": ("aa", (ID,), 0),
    "answer_discard": ("ax", (ID,), 0),
    "answer_retire": ("ar", (ID,), 0),
    "gap_answer": ("ag", (ID,), 0),
}
_BY_PREFIX = {prefix: kind for kind, (prefix, _, _) in KINDS.items()}


@dataclass(frozen=True)
class Press:
    """A decoded button press: its kind and its typed values."""

    kind: str
    values: tuple[int | str, ...]

    def __getitem__(self, index: int) -> int | str:
        return self.values[index]


def encode(kind: str, *values: int | str) -> str:
    """The callback data of a button; raises ValueError for values its kind does not allow."""
    prefix, fields, _ = KINDS[kind]
    if len(values) != len(fields):
        raise ValueError(f"{kind} takes {len(fields)} values")
    parts = [str(v) for v in values]
    for field, part in zip(fields, parts, strict=True):
        if field.parse(part) is None:
            raise ValueError(f"{kind}: {part!r} is not allowed")
    data = ":".join([prefix, *parts])
    if len(data.encode("utf-8")) > MAX_BYTES:
        raise ValueError(f"{kind}: callback data over {MAX_BYTES} bytes")
    return data


def decode(data: str | None) -> Press | None:
    """The press a button's data stands for, or None when it is not a button this bot makes."""
    if not data or len(data.encode("utf-8")) > MAX_BYTES:
        return None
    prefix, *parts = data.split(":")
    kind = _BY_PREFIX.get(prefix)
    if kind is None:
        return None
    _, fields, optional = KINDS[kind]
    if not len(fields) - optional <= len(parts) <= len(fields):
        return None
    values = []
    for field, part in zip(fields, parts, strict=False):
        value = field.parse(part)
        if value is None:
            return None
        values.append(value)
    return Press(kind, tuple(values))


def pattern(*kinds: str) -> str:
    """A regular expression matching the data of these kinds (for python-telegram-bot's CallbackQueryHandler)."""
    prefixes = "|".join(re.escape(KINDS[k][0]) for k in kinds)
    return rf"^(?:{prefixes})(?::|$)"
