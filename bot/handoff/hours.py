"""Consultants' working time (WORKING_HOURS, WORKING_DAYS, TIMEZONE): is it now, and when does it resume."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.i18n import items


def _minutes(text: str) -> int:
    hours, _, minutes = text.strip().partition(":")
    value = int(hours) * 60 + int(minutes or 0)
    if not 0 <= value <= 24 * 60:
        raise ValueError(f"bad time of day: {text!r}")
    return value


def _days(text: str) -> set[int]:
    """'1-5' or '1,3,5' or '1-5,7' -> ISO weekdays (1 = Monday)."""
    days: set[int] = set()
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        first, _, last = part.partition("-")
        days.update(range(int(first), int(last or first) + 1))
    if not days or not days <= set(range(1, 8)):
        raise ValueError(f"bad working days: {text!r}")
    return days


@dataclass(frozen=True)
class WorkingHours:
    start: int  # minutes after midnight
    end: int
    days: frozenset[int]
    tz: ZoneInfo
    label_hours: str
    label_days: str

    @classmethod
    def parse(cls, hours: str, days: str, timezone: str) -> WorkingHours:
        first, _, last = hours.partition("-")
        start, end = _minutes(first), _minutes(last)
        if end <= start:
            raise ValueError(f"bad working hours: {hours!r}")
        return cls(start, end, frozenset(_days(days)), ZoneInfo(timezone), hours.strip(), days.strip())

    def is_open(self, when: dt.datetime) -> bool:
        local = when.astimezone(self.tz)
        minute = local.hour * 60 + local.minute
        return local.isoweekday() in self.days and self.start <= minute < self.end

    def next_open(self, when: dt.datetime) -> dt.datetime:
        """`when` itself during working time, otherwise the start of the next working period (UTC)."""
        if self.is_open(when):
            return when
        local = when.astimezone(self.tz)
        for offset in range(8):
            day = (local + dt.timedelta(days=offset)).date()
            start = dt.datetime.combine(day, dt.time(self.start // 60, self.start % 60), self.tz)
            if dt.date.isoweekday(day) in self.days and start > local:
                return start.astimezone(dt.UTC)
        return when  # unreachable with at least one working day

    def describe_next(self, when: dt.datetime, lang: str) -> str:
        """'08:00 Thứ Hai 12/5' — when consultants are back."""
        local = self.next_open(when).astimezone(self.tz)
        names = items(lang, "handoff.weekdays")  # Monday first
        return f"{local:%H:%M} {names[local.weekday()]} {local.day}/{local.month}"

    def describe(self, lang: str) -> str:
        """'08:00-17:00, Thứ Hai–Thứ Sáu' for the owner."""
        names = items(lang, "handoff.weekdays")  # Monday first
        ordered = sorted(self.days)
        if ordered == list(range(ordered[0], ordered[-1] + 1)) and len(ordered) > 1:
            days = f"{names[ordered[0] - 1]}–{names[ordered[-1] - 1]}"
        else:
            days = ", ".join(names[d - 1] for d in ordered)
        return f"{self.label_hours}, {days}"
