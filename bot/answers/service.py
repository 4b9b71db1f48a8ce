"""AnswerService: propose, approve, edit, discard, retire and list curated answers; free of Telegram types.

Who may approve is the front end's decision (admins, `ADMIN_IDS`); the service records who did and when.
An approved answer joins the engine's curated set (`bot.answering.curated`) on the next question of every
replica: `version()` is one aggregate query the matcher runs per question.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import asdict, dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.answering.curated import CuratedEntry
from bot.answers.models import APPROVED, DISCARDED, DRAFT, PENDING, RETIRED, STATUSES, CuratedAnswer, now
from indexer.config import TOPICS
from indexer.textnorm import nfc

DOC_PREFIX = "answer-"
REVIEW_MONTHS = 12
MAX_QUESTION_CHARS = 300
MAX_ANSWER_CHARS = 1500


class AnswerError(ValueError):
    """A request the answers cannot take (unknown id, wrong state, empty text); the message says why."""


@dataclass(frozen=True)
class AnswerRecord:
    """A curated answer as the tools read it."""

    id: int
    question: str
    answer: str
    topic: str
    legal_basis: str
    status: str
    origin: str
    ticket_id: int | None
    proposed_by: int | None
    proposed_by_name: str
    approved_by: int | None
    approved_by_name: str
    approved_at: dt.datetime | None
    review_on: dt.date | None
    closed_by: int | None
    closed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def doc_id(self) -> str:
        return f"{DOC_PREFIX}{self.id}"

    @property
    def retired(self) -> bool:
        return self.status == RETIRED

    def stale(self, today: dt.date | None = None) -> bool:
        """Approved, but past its review date: no longer used until reviewed again."""
        return self.status == APPROVED and self.review_on is not None and self.review_on < (today or dt.date.today())

    def usable(self, today: dt.date | None = None) -> bool:
        return self.status == APPROVED and bool(self.question.strip()) and not self.stale(today)

    def to_json(self) -> dict:
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, (dt.date, dt.datetime)):
                out[key] = value.isoformat()
        out["doc_id"] = self.doc_id
        out["stale"] = self.stale()
        return out

    def entry(self) -> CuratedEntry:
        assert self.approved_at is not None
        return CuratedEntry(
            question=self.question,
            answer=self.answer,
            doc_id=self.doc_id,
            title=self.question,
            section=self.question,
            legal_basis=self.legal_basis,
            effective_to=self.review_on.isoformat() if self.review_on else "",
            topic=self.topic,
            approved_on=self.approved_at.date().isoformat(),
        )


def parse_id(text: str | int) -> int:
    """12, "12" or "answer-12"."""
    match = re.fullmatch(rf"(?:{DOC_PREFIX})?(\d+)", str(text).strip())
    if not match:
        raise AnswerError(f"not an answer id: {text!r} (a number, or answer-NUMBER)")
    return int(match.group(1))


def review_date(approved: dt.date, months: int = REVIEW_MONTHS) -> dt.date:
    """The same day `months` later (the month's last day when it has fewer days)."""
    month = approved.month - 1 + months
    year, month = approved.year + month // 12, month % 12 + 1
    return dt.date(year, month, min(approved.day, calendar.monthrange(year, month)[1]))


_VERSION = select(func.count(CuratedAnswer.id), func.coalesce(func.sum(CuratedAnswer.revision), 0))


class AnswerService:
    def __init__(self, store) -> None:
        self.session = store.session
        self.engine = store.engine

    # -- writing ---------------------------------------------------------------
    def propose(
        self,
        question: str,
        answer: str,
        topic: str = "other",
        *,
        origin: str = "consultant",
        ticket_id: int | None = None,
        proposed_by: int | None = None,
        proposed_by_name: str = "",
        owner_id: int | None = None,
        owner_text: str = "",
        legal_basis: str = "",
        status: str = PENDING,
    ) -> AnswerRecord:
        """A proposal waiting for an admin (status pending), or a draft its author still edits (`DRAFT`)."""
        row = CuratedAnswer(
            question=_text(question, MAX_QUESTION_CHARS, "question"),
            answer=_text(answer, MAX_ANSWER_CHARS, "answer"),
            topic=_topic(topic),
            legal_basis=nfc(legal_basis).strip(),
            status=status if status in (DRAFT, PENDING) else PENDING,
            origin=origin,
            ticket_id=ticket_id,
            proposed_by=proposed_by,
            proposed_by_name=proposed_by_name,
            owner_id=owner_id,
            owner_text=nfc(owner_text),
        )
        with self.session.begin() as s:
            s.add(row)
            s.flush()
            return _record(row)

    def add(
        self,
        question: str,
        answer: str,
        topic: str = "other",
        *,
        approved_by: int | None,
        approved_by_name: str = "",
        legal_basis: str = "",
        review_months: int = REVIEW_MONTHS,
        origin: str = "staff",
    ) -> AnswerRecord:
        """An answer staff write themselves (for example from /gaps): approved at once."""
        record = self.propose(
            question,
            answer,
            topic,
            origin=origin,
            proposed_by=approved_by,
            proposed_by_name=approved_by_name,
            legal_basis=legal_basis,
        )
        return self.approve(record.id, approved_by, approved_by_name, review_months=review_months)

    def edit(self, answer_id: int | str, *, question: str | None = None, answer: str | None = None) -> AnswerRecord:
        """Change a pending or approved answer's question or text."""
        with self.session.begin() as s:
            row = self._row(s, answer_id, (PENDING, APPROVED))
            if question is not None:
                row.question = _text(question, MAX_QUESTION_CHARS, "question")
            if answer is not None:
                row.answer = _text(answer, MAX_ANSWER_CHARS, "answer")
            _touch(row)
            return _record(row)

    def approve(
        self,
        answer_id: int | str,
        by: int | None,
        by_name: str = "",
        *,
        review_months: int = REVIEW_MONTHS,
        when: dt.datetime | None = None,
    ) -> AnswerRecord:
        """Approve a pending proposal; the owner's own words are dropped, the general question stays."""
        if review_months < 1:
            raise AnswerError("the review date must be at least a month away")
        when = when or now()
        with self.session.begin() as s:
            row = self._row(s, answer_id, (PENDING,))
            if not row.question.strip():
                raise AnswerError(f"answer-{row.id} has no question; edit it first")
            row.status = APPROVED
            row.approved_by, row.approved_by_name, row.approved_at = by, by_name, when
            row.review_on = review_date(when.date(), review_months)
            row.owner_id, row.owner_text = None, ""
            _touch(row)
            return _record(row)

    def discard(self, answer_id: int | str, by: int | None = None) -> AnswerRecord:
        return self._close(answer_id, DISCARDED, (PENDING,), by)

    def retire(self, answer_id: int | str, by: int | None = None) -> AnswerRecord:
        """An approved answer stops answering at once, on every replica."""
        return self._close(answer_id, RETIRED, (APPROVED,), by)

    def _close(self, answer_id: int | str, status: str, allowed: tuple[str, ...], by: int | None) -> AnswerRecord:
        with self.session.begin() as s:
            row = self._row(s, answer_id, allowed)
            row.status, row.closed_by, row.closed_at = status, by, now()
            _touch(row)
            return _record(row)

    def _row(self, s: Session, answer_id: int | str, allowed: tuple[str, ...]) -> CuratedAnswer:
        number = parse_id(answer_id)
        row = s.get(CuratedAnswer, number, with_for_update=True)
        if row is None:
            raise AnswerError(f"no answer answer-{number}")
        if row.status not in allowed:
            raise AnswerError(f"answer-{number} is {row.status}, not {' or '.join(allowed)}")
        return row

    # -- reading ---------------------------------------------------------------
    def get(self, answer_id: int | str) -> AnswerRecord | None:
        with self.session() as s:
            row = s.get(CuratedAnswer, parse_id(answer_id))
            return _record(row) if row else None

    def list(self, status: str | None = None, limit: int | None = None) -> list[AnswerRecord]:
        """Newest change first; `status` one of pending, approved, discarded, retired."""
        if status is not None and status not in STATUSES:
            raise AnswerError(f"unknown status {status!r}: {', '.join(STATUSES)}")
        query = select(CuratedAnswer).order_by(CuratedAnswer.updated_at.desc(), CuratedAnswer.id.desc())
        if status:
            query = query.where(CuratedAnswer.status == status)
        if limit:
            query = query.limit(limit)
        with self.session() as s:
            return [_record(r) for r in s.scalars(query)]

    def version(self) -> tuple:
        """Changes whenever a row is added, changed or deleted: (rows, sum of revisions)."""
        # Every question asks this: a plain connection costs a fifth of an ORM session (~0.1 ms on SQLite).
        with self.engine.connect() as connection:
            count, revisions = connection.execute(_VERSION).one()
            return (int(count), int(revisions))

    def curated_entries(self) -> list[CuratedEntry]:
        """Approved answers for the curated set; the matcher checks their review dates at every question."""
        return [r.entry() for r in self.list(APPROVED) if r.question.strip()]


def _text(value: str, limit: int, what: str) -> str:
    text = nfc(value or "").strip()
    if not text:
        raise AnswerError(f"the {what} is empty")
    if len(text) > limit:
        raise AnswerError(f"the {what} is longer than {limit} characters")
    return text


def _topic(topic: str) -> str:
    return topic if topic in TOPICS else "other"


def _touch(row: CuratedAnswer) -> None:
    row.revision = (row.revision or 0) + 1
    row.updated_at = now()


def _record(row: CuratedAnswer) -> AnswerRecord:
    return AnswerRecord(
        id=row.id,
        question=row.question,
        answer=row.answer,
        topic=row.topic,
        legal_basis=row.legal_basis or "",
        status=row.status,
        origin=row.origin,
        ticket_id=row.ticket_id,
        proposed_by=row.proposed_by,
        proposed_by_name=row.proposed_by_name or "",
        approved_by=row.approved_by,
        approved_by_name=row.approved_by_name or "",
        approved_at=_aware(row.approved_at),
        review_on=row.review_on,
        closed_by=row.closed_by,
        closed_at=_aware(row.closed_at),
        created_at=_aware(row.created_at),
        updated_at=_aware(row.updated_at),
    )


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes for what was stored as UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value
