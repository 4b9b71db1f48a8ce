"""What to do with a message the sender edited after sending it (free of Telegram types).

Outside a relay with a consultant, an edited question is answered anew; an edited command, a file's caption or
an old message is not re-read, and the sender is told to send it again. During a relay the handoff passes the
correction on (`bot.handoff.relay.Relay.relay_edit`); what is left for the bot is decided here.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

MAX_AGE = dt.timedelta(hours=48)  # an edit of an older message is not answered: the conversation has moved on


class EditVerdict(StrEnum):
    ANSWER = "answer"  # answer the corrected question as if it were new
    COMMAND = "command"  # an edited command is not run again: send it again
    NOT_READ = "not_read"  # a non-text message, an empty text or an old message: send the question again


def verdict(text: str, media: str, sent_at: dt.datetime, edited_at: dt.datetime | None = None) -> EditVerdict:
    """The bot's part of an edit that no relay took; `media` is "" for a text message."""
    edited_at = edited_at or dt.datetime.now(dt.UTC)
    if media or not text.strip():
        return EditVerdict.NOT_READ
    if edited_at - sent_at > MAX_AGE:
        return EditVerdict.NOT_READ
    if text.lstrip().startswith("/"):
        return EditVerdict.COMMAND
    return EditVerdict.ANSWER
