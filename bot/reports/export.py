"""CSV export of conversations and tickets for a date range, user ids pseudonymised unless asked otherwise.

Pseudonyms are HMAC-SHA256 of the Telegram id under a secret: EXPORT_SECRET when set, else a random salt
kept in DATA_DIR/export_salt (created on first use). The same user gets the same pseudonym in every
export, so the centre can count returning users without learning who they are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from bot.config import Settings
from bot.reports import csvfile, data
from bot.reports.data import Period
from bot.storage import Feedback, Message, Store

SALT_FILE = "export_salt"
HANDOFF_TABLES = ("tickets", "ticket_messages")  # exported when the handoff feature is installed
# Columns that identify a person: pseudonymised (ids) or left empty (names, contacts, company).
_ID_COLUMN = re.compile(r"(^|_)(user|owner|author)(_id)?$|(^|_)(user|owner)_chat_id$|^(source_)?chat_id$")
_PERSONAL_COLUMN = re.compile(r"(^|_)(name|username|phone|email|intake)$")
_STAFF_COLUMN = re.compile(r"consultant|admin|staff")


def secret(settings: Settings) -> bytes:
    """EXPORT_SECRET, or the salt file under DATA_DIR (created with owner-only permissions)."""
    configured = settings.export_secret.get_secret_value()
    if configured:
        return configured.encode("utf-8")
    path = settings.data_dir / SALT_FILE
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    salt = secrets.token_bytes(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(salt.hex())
    return salt


def pseudonymiser(settings: Settings) -> Callable[[Any], str]:
    key = secret(settings)

    def pseudonym(user_id: Any) -> str:
        if user_id is None or user_id == "":
            return ""
        return "u_" + hmac.new(key, str(user_id).encode(), hashlib.sha256).hexdigest()[:16]

    return pseudonym


def _cell(value: Any, tz) -> Any:
    if isinstance(value, dt.datetime):
        return data.utc(value).astimezone(tz).isoformat(timespec="seconds")
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, default=str)
    return "" if value is None else value


def _write(header: list[str], rows: list[list[Any]]) -> bytes:
    return csvfile.to_bytes(header, rows)


def conversations_csv(store: Store, period: Period, pseudonym: Callable[[Any], str] | None) -> bytes:
    with store.session() as s:
        messages = (
            s.execute(
                select(Message)
                .where(Message.created_at >= period.since, Message.created_at < period.until)
                .order_by(Message.id)
            )
            .scalars()
            .all()
        )
        ids = [m.id for m in messages if m.role == "assistant"]
        votes: dict[int, int] = {}
        for start in range(0, len(ids), 500):
            for message_id, value in s.execute(
                select(Feedback.message_id, Feedback.value)
                .where(Feedback.message_id.in_(ids[start : start + 500]))
                .order_by(Feedback.id)
            ).all():
                votes[message_id] = value
    rows = []
    for m in messages:
        meta = m.meta or {}
        rows.append(
            [
                m.id,
                _cell(m.created_at, period.tz),
                pseudonym(m.user_id) if pseudonym else m.user_id,
                m.role,
                meta.get("kind", ""),
                meta.get("topic", ""),
                _cell(meta.get("confidence"), period.tz),
                " ".join(str(x) for x in meta.get("sources") or []),
                votes.get(m.id, ""),
                m.text,
            ]
        )
    return _write(
        ["message_id", "time", "user", "role", "kind", "topic", "confidence", "sources", "feedback", "text"], rows
    )


def table_csv(store: Store, table, period: Period, pseudonym: Callable[[Any], str] | None) -> bytes:
    """Every column of a handoff table for rows created in the period; people's ids and names protected."""
    created = table.c.get("created_at")
    query = select(table)
    if created is not None:
        query = query.where(created >= period.since, created < period.until).order_by(created)
    with store.session() as s:
        items = [dict(r._mapping) for r in s.execute(query).all()]
    names = [c.name for c in table.columns]
    id_columns = [n for n in names if _ID_COLUMN.search(n) and not _STAFF_COLUMN.search(n)]
    personal = [n for n in names if _PERSONAL_COLUMN.search(n) and not _STAFF_COLUMN.search(n)]
    rows = []
    for item in items:
        row = {n: _cell(item.get(n), period.tz) for n in names}
        if pseudonym:
            for n in personal:
                row[n] = ""
                value = str(item.get(n) or "").strip()
                if len(value) >= 3:  # a name copied into a summary
                    for other in names:
                        if other not in personal and isinstance(row[other], str):
                            row[other] = row[other].replace(value, "[…]")
            for n in id_columns:
                raw = str(item.get(n) or "")
                row[n] = pseudonym(item.get(n))
                if raw:  # the id may also appear inside a summary or a key
                    pattern = re.compile(rf"(?<!\d){re.escape(raw)}(?!\d)")
                    for other in names:
                        if other not in id_columns and isinstance(row[other], str):
                            row[other] = pattern.sub(row[n], row[other])
        rows.append([row[n] for n in names])
    return _write(names, rows)


def export(store: Store, settings: Settings, period: Period, raw: bool = False) -> dict[str, bytes]:
    """{file name: CSV bytes} for the period: conversations, and tickets when the handoff feature exists."""
    pseudonym = None if raw else pseudonymiser(settings)
    suffix = f"{period.start:%Y%m%d}-{period.end:%Y%m%d}" + ("-raw" if raw else "")
    files = {f"conversations-{suffix}.csv": conversations_csv(store, period, pseudonym)}
    for name in HANDOFF_TABLES:
        table = data.handoff_table(store, name)
        if table is not None:
            files[f"{name}-{suffix}.csv"] = table_csv(store, table, period, pseudonym)
    return files
