"""Handoff tables: consultants, tickets with their transcript, the outbox of messages to send, the audit log."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage import Base

# Ticket states; see bot/handoff/states.mmd.
INTAKE, OPEN, CLAIMED, CLOSED, CANCELLED = "intake", "open", "claimed", "closed", "cancelled"
ACTIVE = (INTAKE, OPEN, CLAIMED)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite returns naive datetimes; everything stored is UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


class Consultant(Base):
    __tablename__ = "consultants"
    telegram_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(128))
    topics: Mapped[list] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    added_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None: the command line
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)


class Ticket(Base):
    __tablename__ = "tickets"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    # Equals user_id while the ticket is active and NULL afterwards: the unique index allows one active
    # ticket per owner even when two requests race.
    active_owner: Mapped[int | None] = mapped_column(BigInteger, unique=True, nullable=True)
    # Identifies the update that created the ticket, so a redelivered update creates nothing new.
    origin_key: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    user_name: Mapped[str] = mapped_column(String(128), default="")
    language: Mapped[str] = mapped_column(String(8), default="vi")
    status: Mapped[str] = mapped_column(String(16), index=True)
    topic: Mapped[str] = mapped_column(String(32), default="other")
    trigger: Mapped[str] = mapped_column(String(32), default="command")
    intake: Mapped[str] = mapped_column(Text, default="")  # company / province, optional
    summary: Mapped[str] = mapped_column(Text, default="")
    snapshot_message_id: Mapped[int] = mapped_column(Integer, default=0)  # last messages.id copied
    consultant_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    opened_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    claimed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    close_reason: Mapped[str] = mapped_column(String(32), default="")
    announcements: Mapped[int] = mapped_column(Integer, default=0)
    next_announce_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True, index=True)
    owner_warned: Mapped[bool] = mapped_column(Boolean, default=False)
    rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TicketMessage(Base):
    """One line of a ticket's transcript: the bot conversation copied at creation, then the relay.

    A consultant's message waiting for "which ticket?" is stored with ticket_id NULL (a draft).
    """

    __tablename__ = "ticket_messages"
    __table_args__ = (UniqueConstraint("source_chat_id", "source_message_id", name="uq_ticket_message_source"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), nullable=True, index=True)
    role: Mapped[str] = mapped_column(String(16))  # user | bot | consultant
    author_id: Mapped[int] = mapped_column(BigInteger)
    text: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[str] = mapped_column(String(16), default="")  # "", photo, document, other
    meta: Mapped[dict] = mapped_column(JSON, default=dict)  # sources, file name
    # The Telegram message this line came from (NULL for the bot transcript): redelivery is a no-op.
    source_chat_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    source_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    relayed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)


class Outbox(Base):
    """A message to send, written in the same transaction as the state change that caused it."""

    __tablename__ = "handoff_outbox"
    __table_args__ = (Index("ix_handoff_outbox_origin", "origin", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    role: Mapped[str] = mapped_column(String(16))  # owner | consultant | group: who is unreachable on 403
    purpose: Mapped[str] = mapped_column(String(16))  # card | cards (edit them all) | notice | relay | ...
    method: Mapped[str] = mapped_column(String(8), default="send")  # send | copy | edit
    text: Mapped[str] = mapped_column(Text, default="")  # HTML; the caption for copies
    buttons: Mapped[list] = mapped_column(JSON, default=list)  # [[label, callback_data], ...] rows
    copy_chat_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    copy_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    edit_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    reply_to_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # quote it (an edited question)
    require_status: Mapped[str] = mapped_column(String(16), default="")  # skip unless the ticket is in it
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    lease_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # The connection died after the request left: Telegram may have carried it out. Sent again once at most.
    uncertain: Mapped[bool] = mapped_column(Boolean, default=False)
    done: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    # What caused a reply ("<update id>:<n>", its n-th reply): an update handled again after a replica died
    # midway finds its replies already queued instead of queuing them twice.
    origin: Mapped[str | None] = mapped_column(String(48), nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    sent_message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[str] = mapped_column(String(200), default="")


class AuditLog(Base):
    __tablename__ = "handoff_audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
