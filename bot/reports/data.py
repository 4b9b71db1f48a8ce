"""Reading what the reports need: periods in local days, messages paired with replies, tickets if present."""

from __future__ import annotations

import datetime as dt
import importlib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Table, inspect, select

from bot.storage import Base, Feedback, Message, Store

# Replies that mean the user asked something the knowledge base should cover.
ANSWERED_KINDS = ("answer", "calculation", "clarify")
QUESTION_KINDS = ANSWERED_KINDS + ("abstain",)
HANDOFF_KIND = "handoff_request"
HANDOFF_MODULE = "bot.handoff.models"
# Ticket columns under the names the handoff feature may use; the first one present wins.
TICKET_FIELDS = {
    "id": ("id",),
    "user_id": ("user_id", "owner_id"),
    "topic": ("topic",),
    "status": ("status",),
    "consultant_id": ("consultant_id", "claimed_by"),
    "created_at": ("created_at",),
    "opened_at": ("opened_at", "created_at"),  # when consultants were told (after an optional intake step)
    "claimed_at": ("claimed_at",),
    "closed_at": ("closed_at", "resolved_at", "ended_at"),
    "rating": ("rating",),
}


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """Aware UTC; SQLite hands back naive datetimes that were written as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


EARLIEST, LATEST = dt.date(1970, 1, 1), dt.date(9998, 12, 31)


@dataclass(frozen=True)
class Period:
    """Whole local days [start, end] in the centre's time zone."""

    start: dt.date
    end: dt.date
    tz: ZoneInfo

    @classmethod
    def last_days(cls, days: int, timezone: str, today: dt.date | None = None) -> Period:
        tz = ZoneInfo(timezone)
        end = today or dt.datetime.now(tz).date()
        return cls(end - dt.timedelta(days=max(1, days) - 1), end, tz)

    @classmethod
    def between(cls, start: dt.date, end: dt.date, timezone: str) -> Period:
        if end < start:
            raise ValueError("the end date is before the start date")
        if start < EARLIEST or end > LATEST:  # outside, the period's bounds overflow datetime in some time zones
            raise ValueError(f"dates must lie between {EARLIEST} and {LATEST}")
        return cls(start, end, ZoneInfo(timezone))

    @property
    def since(self) -> dt.datetime:
        return dt.datetime.combine(self.start, dt.time(), self.tz).astimezone(dt.UTC)

    @property
    def until(self) -> dt.datetime:
        return dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), self.tz).astimezone(dt.UTC)

    def contains(self, when: dt.datetime | None) -> bool:
        return when is not None and self.since <= utc(when) < self.until

    def day(self, when: dt.datetime) -> dt.date:
        return utc(when).astimezone(self.tz).date()

    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days + 1)]


@dataclass
class Row:
    id: int
    user_id: int
    role: str
    text: str
    meta: dict
    created_at: dt.datetime
    epoch: int

    @property
    def kind(self) -> str:
        return str((self.meta or {}).get("kind") or "")


class Conversations:
    """Messages of a period (plus a margin before it), indexed per user, for pairing replies with questions."""

    MARGIN = dt.timedelta(days=1)

    def __init__(self, store: Store, since: dt.datetime, until: dt.datetime) -> None:
        with store.session() as s:
            rows = s.execute(
                select(
                    Message.id,
                    Message.user_id,
                    Message.role,
                    Message.text,
                    Message.meta,
                    Message.created_at,
                    Message.context_epoch,
                )
                .where(Message.created_at >= since - self.MARGIN, Message.created_at < until)
                .order_by(Message.id)
            ).all()
        self.rows = [Row(r[0], r[1], r[2], r[3], r[4] or {}, utc(r[5]), r[6]) for r in rows]
        self.by_id = {r.id: r for r in self.rows}
        self._per_user: dict[int, list[Row]] = defaultdict(list)
        for row in self.rows:
            self._per_user[row.user_id].append(row)
        self._reply: dict[int, Row] = {}
        self._question: dict[int, Row] = {}
        for items in self._per_user.values():
            last_user: Row | None = None
            for row in items:
                if row.role == "user":
                    last_user = row
                elif row.role == "assistant" and last_user is not None:
                    self._question[row.id] = last_user
                    self._reply.setdefault(last_user.id, row)

    def assistant(self, period: Period | None = None) -> list[Row]:
        return [r for r in self.rows if r.role == "assistant" and (period is None or period.contains(r.created_at))]

    def reply_to(self, question_id: int) -> Row | None:
        """The assistant message that answered a user message."""
        return self._reply.get(question_id)

    def question_for(self, assistant_id: int) -> Row | None:
        """The user message an assistant message answered."""
        return self._question.get(assistant_id)

    def substantive_before(self, user_id: int, when: dt.datetime, window: dt.timedelta) -> Row | None:
        """The user's latest real question (not a greeting or a request for a human) before `when`."""
        for row in reversed(self._per_user.get(user_id, [])):
            if row.role != "user" or row.created_at > when:
                continue
            if when - row.created_at > window:
                return None
            reply = self._reply.get(row.id)
            if reply is not None and reply.kind in QUESTION_KINDS:
                return row
        return None


def handoff_table(store: Store, name: str) -> Table | None:
    """A table of the handoff feature when that feature is installed and the table exists."""
    try:
        importlib.import_module(HANDOFF_MODULE)
    except ImportError:
        return None
    table = Base.metadata.tables.get(name)
    if table is None or not inspect(store.engine).has_table(table.name):
        return None
    return table


def tickets_table(store: Store) -> Table | None:
    return handoff_table(store, "tickets")


def column(table: Table, field: str):
    for name in TICKET_FIELDS.get(field, (field,)):
        if name in table.c:
            return table.c[name]
    return None


def tickets(store: Store, period: Period | None = None) -> list[dict[str, Any]] | None:
    """Tickets created in the period as dicts with the TICKET_FIELDS keys; None without a tickets table."""
    table = tickets_table(store)
    if table is None:
        return None
    created = column(table, "created_at")
    query = select(table)
    if created is not None and period is not None:
        query = query.where(created >= period.since, created < period.until)
    with store.session() as s:
        raw = [dict(r._mapping) for r in s.execute(query).all()]
    out = []
    for item in raw:
        row: dict[str, Any] = {}
        for field in TICKET_FIELDS:
            col = column(table, field)
            value = item.get(col.name) if col is not None else None
            row[field] = utc(value) if isinstance(value, dt.datetime) else value
        if period is None or period.contains(row["created_at"]):
            out.append(row)
    return out


def feedback(store: Store, period: Period) -> list[tuple[int, int, int, dt.datetime]]:
    """(user_id, message_id, value, at): the latest vote of each user on each answer in the period."""
    with store.session() as s:
        rows = s.execute(
            select(Feedback.user_id, Feedback.message_id, Feedback.value, Feedback.created_at)
            .where(Feedback.created_at >= period.since, Feedback.created_at < period.until)
            .order_by(Feedback.id)
        ).all()
    latest: dict[tuple[int, int], tuple[int, int, int, dt.datetime]] = {}
    for user_id, message_id, value, at in rows:
        latest[(user_id, message_id)] = (user_id, message_id, value, utc(at))
    return list(latest.values())
