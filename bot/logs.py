"""Logging set-up: plain text or one JSON object per line, each record carrying the update, the user
(pseudonymised) and the ticket it belongs to.

The ids come from context variables bound where an update starts (bot.telegram.ordering) and where a ticket
is known (the handoff), so every line written while handling that update carries them without each call site
passing them. User ids are pseudonymised with the export key (the pseudonym of the CSV and XLSX exports), so
a log shipped to another system identifies nobody; message text is never logged at info level.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import sys
from collections.abc import Callable
from typing import Any

UPDATE: contextvars.ContextVar[int | None] = contextvars.ContextVar("update_id", default=None)
USER: contextvars.ContextVar[str] = contextvars.ContextVar("user", default="")
TICKET: contextvars.ContextVar[int | None] = contextvars.ContextVar("ticket", default=None)
NOISY = ("httpx", "chromadb", "sentence_transformers", "telegram.ext.Application", "bm25s")
_settings = None  # set by configure(); the key is read on first use, so a command that logs no user makes no salt
_pseudonym: Callable[[Any], str] | None = None


def bind(update_id: int | None = None, user_id: int | None = None, ticket: int | None = None) -> None:
    """Attach ids to every record logged from here on in this task (asyncio copies the context per task)."""
    if update_id is not None:
        UPDATE.set(update_id)
    if user_id is not None:
        USER.set(pseudonym(user_id))
    if ticket is not None:
        TICKET.set(ticket)


def detach() -> None:
    """Forget the ids bound in this context: a job's task may have inherited those of the update that scheduled it."""
    UPDATE.set(None)
    USER.set("")
    TICKET.set(None)


def pseudonym(user_id: Any) -> str:
    global _pseudonym
    if _pseudonym is None and _settings is not None:
        from bot.reports.export import pseudonymiser

        try:
            _pseudonym = pseudonymiser(_settings)
        except OSError:  # a read-only DATA_DIR: ids are left out rather than logged in clear
            return ""
    return _pseudonym(user_id) if _pseudonym is not None else ""


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.update_id = UPDATE.get()
        record.user = USER.get()
        record.ticket = TICKET.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("update_id", "user", "ticket"):
            value = getattr(record, key, None)
            if value not in (None, ""):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The usual line, with the ids in brackets when there are any."""

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(
            f"{name}={value}"
            for name, value in (
                ("update", getattr(record, "update_id", None)),
                ("user", getattr(record, "user", "")),
                ("ticket", getattr(record, "ticket", None)),
            )
            if value not in (None, "")
        )
        line = super().format(record)
        return f"{line} [{ids}]" if ids else line


def configure(settings, quiet: bool = False) -> None:
    """Once, at start: the level and format from the settings (LOG_LEVEL, LOG_FORMAT)."""
    global _settings, _pseudonym
    _settings, _pseudonym = settings, None
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING if quiet else getattr(logging, settings.log_level.upper(), logging.INFO))
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
