"""Usage and service figures for a period: questions, answered vs abstained, handoffs, ratings, 👍/👎."""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from dataclasses import dataclass, field

from bot.reports import data
from bot.reports.data import Conversations, Period
from bot.storage import Store
from indexer.config import TOPICS


@dataclass
class Day:
    day: object  # datetime.date
    questions: int = 0
    answered: int = 0
    abstained: int = 0
    handoffs: int = 0
    thumbs_up: int = 0
    thumbs_down: int = 0
    topics: Counter = field(default_factory=Counter)


@dataclass
class Stats:
    period: Period
    days: list[Day]
    topics: Counter
    questions: int
    answered: int
    abstained: int
    users: int
    handoffs: int
    handoffs_from: str  # "tickets" (handoff feature installed) | "messages"
    median_claim_minutes: float | None
    median_duration_minutes: float | None
    average_rating: float | None
    ratings: int
    thumbs_up: int
    thumbs_down: int

    @property
    def answered_share(self) -> float | None:
        return self.answered / self.questions if self.questions else None

    @property
    def abstained_share(self) -> float | None:
        return self.abstained / self.questions if self.questions else None

    @property
    def helpful_share(self) -> float | None:
        votes = self.thumbs_up + self.thumbs_down
        return self.thumbs_up / votes if votes else None


def _median_minutes(pairs: list[tuple]) -> float | None:
    spans = [(end - start).total_seconds() / 60 for start, end in pairs if start and end and end >= start]
    return round(statistics.median(spans), 1) if spans else None


def compute(store: Store, period: Period) -> Stats:
    """Figures for the period; a question is a user message the bot answered or abstained on."""
    conv = Conversations(store, period.since, period.until)
    days = {d: Day(d) for d in period.days()}
    topics: Counter = Counter()
    users: set[int] = set()
    answered = abstained = 0
    message_handoffs = 0
    tickets = data.tickets(store, period)
    for reply in conv.assistant(period):
        day = days[period.day(reply.created_at)]
        if reply.kind in data.QUESTION_KINDS:
            topic = str(reply.meta.get("topic") or "other")
            day.questions += 1
            day.topics[topic] += 1
            topics[topic] += 1
            users.add(reply.user_id)
            if reply.kind == "abstain":
                day.abstained += 1
                abstained += 1
            else:
                day.answered += 1
                answered += 1
        elif reply.kind == data.HANDOFF_KIND:
            message_handoffs += 1
            if tickets is None:
                day.handoffs += 1

    claim = duration = None
    average = None
    ratings: list[float] = []
    if tickets is not None:
        for ticket in tickets:
            days[period.day(ticket["created_at"])].handoffs += 1
        claim = _median_minutes([(t["opened_at"], t["claimed_at"]) for t in tickets])
        duration = _median_minutes(
            [
                (t["opened_at"], t["closed_at"])
                for t in tickets
                if t["claimed_at"] is not None and str(t["status"] or "") != "cancelled"
            ]
        )
        ratings = [float(t["rating"]) for t in tickets if t["rating"] is not None]
        average = round(sum(ratings) / len(ratings), 2) if ratings else None

    up = down = 0
    for _, _, value, at in data.feedback(store, period):
        day = days[period.day(at)]
        if value > 0:
            up += 1
            day.thumbs_up += 1
        elif value < 0:
            down += 1
            day.thumbs_down += 1
    return Stats(
        period=period,
        days=list(days.values()),
        topics=topics,
        questions=answered + abstained,
        answered=answered,
        abstained=abstained,
        users=len(users),
        handoffs=len(tickets) if tickets is not None else message_handoffs,
        handoffs_from="tickets" if tickets is not None else "messages",
        median_claim_minutes=claim,
        median_duration_minutes=duration,
        average_rating=average,
        ratings=len(ratings),
        thumbs_up=up,
        thumbs_down=down,
    )


def to_csv(stats: Stats) -> bytes:
    """One row per day plus a total row; one column per topic."""
    out = io.StringIO()
    writer = csv.writer(out)
    keys = list(TOPICS)
    writer.writerow(
        [
            "date",
            "questions",
            "answered",
            "abstained",
            "handoffs",
            "thumbs_up",
            "thumbs_down",
            *[f"topic_{k}" for k in keys],
        ]
    )
    for d in stats.days:
        writer.writerow(
            [
                d.day.isoformat(),
                d.questions,
                d.answered,
                d.abstained,
                d.handoffs,
                d.thumbs_up,
                d.thumbs_down,
                *[d.topics.get(k, 0) for k in keys],
            ]
        )
    writer.writerow(
        [
            "total",
            stats.questions,
            stats.answered,
            stats.abstained,
            stats.handoffs,
            stats.thumbs_up,
            stats.thumbs_down,
            *[stats.topics.get(k, 0) for k in keys],
        ]
    )
    return out.getvalue().encode("utf-8-sig")


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _minutes(value: float | None) -> str:
    return "-" if value is None else f"{value:g} min"


def render_text(stats: Stats) -> str:
    """Plain-text summary for the command line."""
    s = stats
    topics = ", ".join(f"{k} {v}" for k, v in s.topics.most_common()) or "-"
    busiest = max(s.days, key=lambda d: d.questions)
    return "\n".join(
        [
            f"Period:            {s.period.start} .. {s.period.end} ({len(s.days)} days, {s.period.tz.key})",
            f"Questions:         {s.questions} from {s.users} user(s); busiest day {busiest.day} ({busiest.questions})",
            f"Answered:          {s.answered} ({_share(s.answered_share)})",
            f"Abstained:         {s.abstained} ({_share(s.abstained_share)})",
            f"Per topic:         {topics}",
            f"Handoffs:          {s.handoffs}"
            + ("" if s.handoffs_from == "tickets" else " (requests; no ticket data)"),
            f"Median to claim:   {_minutes(s.median_claim_minutes)}",
            f"Median ticket:     {_minutes(s.median_duration_minutes)}",
            f"Average rating:    {'-' if s.average_rating is None else f'{s.average_rating:g}/5'} ({s.ratings} rating(s))",
            f"Helpful / not:     {s.thumbs_up} / {s.thumbs_down} ({_share(s.helpful_share)} helpful)",
        ]
    )
