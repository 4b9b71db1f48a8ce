"""The console's tables: one-time login links and staff sessions, both stored as SHA-256 hashes only.

In the database rather than in memory so that any replica can honour a link another one issued, and a restart
logs nobody out.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage import Base


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class WebLoginToken(Base):
    """A login link sent by /web: valid until `expires_at`, for one use (`used_at` set atomically)."""

    __tablename__ = "web_login_tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    admin_id: Mapped[int] = mapped_column(BigInteger, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebSession(Base):
    """A logged-in browser: the cookie's hash, whose admin it is, until when."""

    __tablename__ = "web_sessions"
    session_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    admin_id: Mapped[int] = mapped_column(BigInteger, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
