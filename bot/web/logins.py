"""One-time login links and sessions for the staff web console. Free of Telegram and of HTTP.

A link's token and a session's cookie are 256-bit random values; only their SHA-256 is stored, so a copy of
the database opens nothing. A token is consumed by one UPDATE guarded on `used_at IS NULL` and the expiry,
so two browsers (or two replicas) racing for the same link cannot both win. Every check also asks whether the
admin is still in ADMIN_IDS: one removed from it loses access at the next request.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import delete, select, update

from bot.web.models import WebLoginToken, WebSession, now

LINK_MINUTES = 10
SESSION_HOURS = 12


@dataclass(frozen=True)
class Redeemed:
    """What a login link gave: a session cookie, or why not (`unknown`, `used`, `expired`, `not_admin`)."""

    admin_id: int | None
    cookie: str | None = None
    refused: str = ""


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


class Logins:
    def __init__(self, store, admin_ids: Collection[int], base_url: str) -> None:
        self.session = store.session
        self.admin_ids = admin_ids  # the settings' list itself: checked at every request
        self.base_url = base_url.rstrip("/")

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admin_ids

    def issue_link(self, admin_id: int) -> str:
        """A login link for an admin, valid LINK_MINUTES, for one use."""
        if not self.is_admin(admin_id):
            raise PermissionError("only admins get a login link")
        token = secrets.token_urlsafe(32)
        moment = now()
        with self.session.begin() as s:
            self._purge(s, moment)
            s.add(
                WebLoginToken(
                    token_hash=digest(token),
                    admin_id=admin_id,
                    created_at=moment,
                    expires_at=moment + dt.timedelta(minutes=LINK_MINUTES),
                )
            )
        return f"{self.base_url}/login?{urlencode({'token': token})}"

    def redeem(self, token: str) -> Redeemed:
        """Consume a link's token and open a session; refused when unknown, used, expired or no longer an admin."""
        if not token or len(token) > 128:
            return Redeemed(None, refused="unknown")
        moment = now()
        hashed = digest(token)
        with self.session.begin() as s:
            taken = s.execute(
                update(WebLoginToken)
                .where(
                    WebLoginToken.token_hash == hashed,
                    WebLoginToken.used_at.is_(None),
                    WebLoginToken.expires_at > moment,
                )
                .values(used_at=moment)
            ).rowcount
            row = s.get(WebLoginToken, hashed)
            if row is None:
                return Redeemed(None, refused="unknown")
            admin_id = int(row.admin_id)
            if taken != 1:
                return Redeemed(admin_id, refused="used" if row.used_at is not None else "expired")
            if not self.is_admin(admin_id):
                return Redeemed(admin_id, refused="not_admin")  # removed from ADMIN_IDS since; the link is spent
            cookie = secrets.token_urlsafe(32)
            s.add(
                WebSession(
                    session_hash=digest(cookie),
                    admin_id=admin_id,
                    created_at=moment,
                    expires_at=moment + dt.timedelta(hours=SESSION_HOURS),
                )
            )
        return Redeemed(admin_id, cookie)

    def admin_for(self, cookie: str | None) -> int | None:
        """The admin a session cookie belongs to, while it is valid and they are still an admin."""
        if not cookie or len(cookie) > 128:
            return None
        with self.session() as s:
            admin_id = s.scalar(
                select(WebSession.admin_id).where(
                    WebSession.session_hash == digest(cookie), WebSession.expires_at > now()
                )
            )
        return int(admin_id) if self.is_admin(admin_id) else None

    def logout(self, cookie: str | None) -> None:
        if cookie:
            with self.session.begin() as s:
                s.execute(delete(WebSession).where(WebSession.session_hash == digest(cookie)))

    @staticmethod
    def _purge(s, moment: dt.datetime) -> None:
        """Expired links and sessions are of no use to anyone: removed whenever a link is issued."""
        s.execute(delete(WebLoginToken).where(WebLoginToken.expires_at <= moment - dt.timedelta(days=1)))
        s.execute(delete(WebSession).where(WebSession.expires_at <= moment))
