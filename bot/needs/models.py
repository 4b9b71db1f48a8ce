"""Tables of the technology-needs database: one profile per owner, every answer as given, consultants' notes."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from bot.storage import FORGET_HOOKS, Base

DRAFT = "draft"  # not submitted yet
WORKFLOW = ("new", "contacted", "matched", "done")  # after submission; consultants move it on


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class NeedsProfile(Base):
    __tablename__ = "needs_profiles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    user_name: Mapped[str] = mapped_column(String(128), default="")
    language: Mapped[str] = mapped_column(String(8), default="vi")
    data: Mapped[dict] = mapped_column(JSON, default=dict)  # bot.needs.profile.Profile.to_json()
    step: Mapped[str] = mapped_column(String(16), default="")  # the form's state; "" = not in the form
    active: Mapped[bool] = mapped_column(Boolean, default=False)  # typed text goes to the form
    editing: Mapped[bool] = mapped_column(Boolean, default=False)  # a field chosen from the review
    size_class: Mapped[str] = mapped_column(String(16), default="unknown")
    status: Mapped[str] = mapped_column(String(16), default=DRAFT, index=True)
    topic: Mapped[str] = mapped_column(String(32), default="")
    ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    consent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)


class NeedsAnswer(Base):
    """One answer as the owner gave it (typed text or the button pressed), with the value stored from it."""

    __tablename__ = "needs_answers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("needs_profiles.id"), index=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    step: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8))  # text | button
    raw: Mapped[str] = mapped_column(Text, default="")
    value: Mapped[dict] = mapped_column(JSON, default=dict)
    # The Telegram message or callback it came from: an update delivered again after a restart is ignored.
    source_key: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)


class NeedsNote(Base):
    __tablename__ = "needs_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("needs_profiles.id"), index=True)
    author_id: Mapped[int] = mapped_column(BigInteger)  # a consultant or an admin
    author_name: Mapped[str] = mapped_column(String(128), default="")
    text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="")  # the status set with this note, if any
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)


def forget(s: Session, user_id: int) -> None:
    """/forget: the owner's profile, answers and the notes about it go with the rest of their data."""
    ids = list(s.scalars(select(NeedsProfile.id).where(NeedsProfile.user_id == user_id)))
    if ids:
        s.execute(delete(NeedsNote).where(NeedsNote.profile_id.in_(ids)))
        s.execute(delete(NeedsAnswer).where(NeedsAnswer.profile_id.in_(ids)))
    s.execute(delete(NeedsAnswer).where(NeedsAnswer.user_id == user_id))
    s.execute(delete(NeedsProfile).where(NeedsProfile.user_id == user_id))


if forget not in FORGET_HOOKS:
    FORGET_HOOKS.append(forget)
