"""The table of curated answers written by the centre's consultants and staff (design.md: approved answers)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Date, DateTime, Integer, String, Text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.storage import FORGET_HOOKS, Base

PENDING, APPROVED, DISCARDED, RETIRED = "pending", "approved", "discarded", "retired"
DRAFT = "draft"  # a consultant's, still being edited (bot/answers/curation.py); admins see it once submitted
STATUSES = (DRAFT, PENDING, APPROVED, DISCARDED, RETIRED)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CuratedAnswer(Base):
    """One question and its answer; only an approved one, before its review date, answers owners.

    `revision` grows with every change, so (count, sum of revisions) tells every replica that the set changed
    without reading it, whatever the replicas' clocks say.
    """

    __tablename__ = "curated_answers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    question: Mapped[str] = mapped_column(Text, default="")  # general: no personal data once approved
    answer: Mapped[str] = mapped_column(Text, default="")
    topic: Mapped[str] = mapped_column(String(32), default="other")
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default=PENDING, index=True)
    origin: Mapped[str] = mapped_column(String(16), default="staff")  # staff | consultant | gap
    ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    proposed_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    proposed_by_name: Mapped[str] = mapped_column(String(128), default="")
    # The owner whose question led to the proposal and their words, until approval; /forget clears both.
    owner_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    owner_text: Mapped[str] = mapped_column(Text, default="")
    approved_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    approved_by_name: Mapped[str] = mapped_column(String(128), default="")
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    review_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)  # no longer used after this day
    closed_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # who discarded or retired it
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)


def forget(s: Session, user_id: int) -> None:
    """/forget: the owner's words leave every proposal; a proposal not yet approved also loses the question
    drafted from them (approved questions were checked for personal data by an admin)."""
    s.execute(
        update(CuratedAnswer)
        .where(CuratedAnswer.owner_id == user_id, CuratedAnswer.status.in_((DRAFT, PENDING)))
        .values(question="", owner_id=None, owner_text="", revision=CuratedAnswer.revision + 1, updated_at=now())
    )
    s.execute(
        update(CuratedAnswer)
        .where(CuratedAnswer.owner_id == user_id)
        .values(owner_id=None, owner_text="", revision=CuratedAnswer.revision + 1, updated_at=now())
    )


if forget not in FORGET_HOOKS:
    FORGET_HOOKS.append(forget)
