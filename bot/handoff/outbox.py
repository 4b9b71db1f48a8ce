"""The outbox: messages are written with the state change that causes them and sent afterwards.

A crash between the two loses nothing (pending rows are sent on the next drain). A row is leased
with a conditional UPDATE before sending, so two drains (or two replicas) never send it twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.handoff.models import ACTIVE, Outbox, Ticket, now, utc

# One send, including the rate limiter's wait for a 429 and the HTTP read timeout (30 s): a row still in flight
# is never taken by another drain.
LEASE_SECONDS = 45
BACKOFF_CAP = 5.0  # seconds between retries at most: once a fault ends, what waits goes out within seconds
GIVE_UP_AFTER = dt.timedelta(hours=24)  # a transient fault that lasts longer: the row is abandoned, with the error
KEEP_DAYS = 30  # sent (or abandoned) rows are deleted after this many days


@dataclass
class OutMessage:
    """A leased outbox row, detached from the database."""

    id: int
    chat_id: int
    role: str
    purpose: str
    method: str
    text: str
    buttons: list = field(default_factory=list)
    ticket_id: int | None = None
    copy_chat_id: int | None = None
    copy_message_id: int | None = None
    edit_message_id: int | None = None
    stale: bool = False  # the ticket left the state the row required: skip it
    targets: list = field(default_factory=list)  # "cards" rows: (chat_id, message_id) of the ticket's cards
    reply_to: int | None = None  # quote this message of the chat
    uncertain: bool = False  # an earlier try may have been delivered


def add(
    s: Session,
    chat_id: int,
    role: str,
    purpose: str,
    text: str = "",
    *,
    ticket_id: int | None = None,
    buttons: list | None = None,
    method: str = "send",
    copy_from: tuple[int, int] | None = None,
    edit_message_id: int | None = None,
    require_status: str = "",
    reply_to: int | None = None,
    origin: str | None = None,
) -> Outbox:
    row = Outbox(
        chat_id=chat_id,
        role=role,
        purpose=purpose,
        text=text,
        ticket_id=ticket_id,
        buttons=buttons or [],
        method=method,
        edit_message_id=edit_message_id,
        require_status=require_status,
        copy_chat_id=copy_from[0] if copy_from else None,
        copy_message_id=copy_from[1] if copy_from else None,
        reply_to_message_id=reply_to,
        origin=origin,
    )
    s.add(row)
    return row


def sent_messages(s: Session, ticket_id: int, purpose: str) -> list[tuple[int, int]]:
    """(chat_id, message_id) of the rows of a ticket already delivered for a purpose, e.g. its cards."""
    rows = s.execute(
        select(Outbox.chat_id, Outbox.sent_message_id)
        .where(Outbox.ticket_id == ticket_id, Outbox.purpose == purpose, Outbox.sent_message_id.is_not(None))
        .order_by(Outbox.id)
    ).all()
    return [(r[0], r[1]) for r in rows]


def in_flight(s: Session, ticket_id: int, purpose: str) -> bool:
    """Whether rows of a ticket for a purpose are still being delivered (maybe already seen, not yet recorded)."""
    return (
        s.scalar(
            select(Outbox.id)
            .where(Outbox.ticket_id == ticket_id, Outbox.purpose == purpose, Outbox.done.is_(False))
            .limit(1)
        )
        is not None
    )


def ticket_for_message(s: Session, chat_id: int, message_id: int) -> int | None:
    """The ticket a message the bot sent belongs to (a consultant replying to a relayed message)."""
    return s.scalar(
        select(Outbox.ticket_id).where(Outbox.chat_id == chat_id, Outbox.sent_message_id == message_id).limit(1)
    )


def forget(s: Session, user_id: int, ticket_ids: list[int]) -> None:
    """/forget: blank what the outbox kept of an owner (texts, captions, names in buttons).

    Pending rows of those tickets or to the owner are abandoned: their text is gone.
    """
    mine = or_(Outbox.chat_id == user_id, Outbox.ticket_id.in_(ticket_ids)) if ticket_ids else Outbox.chat_id == user_id
    s.execute(update(Outbox).where(mine, Outbox.done.is_(False)).values(done=True, error="forgotten", lease_until=None))
    s.execute(update(Outbox).where(mine).values(text="", buttons=[]))
    # "Which ticket?" choices sent to consultants carry no ticket id but name the owner in a label.
    suffixes = tuple(f":{i}" for i in ticket_ids)
    for row in s.scalars(select(Outbox).where(Outbox.ticket_id.is_(None), Outbox.role == "consultant")):
        if suffixes and any(data.endswith(suffixes) for line in row.buttons or [] for _, data in line):
            row.buttons = [
                [[label.split(" ", 1)[0] if data.endswith(suffixes) else label, data] for label, data in line]
                for line in row.buttons
            ]


def purge(s: Session, days: int = KEEP_DAYS) -> int:
    """Delete rows done more than `days` ago, except those of tickets still active (their cards are needed)."""
    before = now() - dt.timedelta(days=days)
    active = select(Ticket.id).where(Ticket.status.in_(ACTIVE))
    return s.execute(
        delete(Outbox)
        .where(
            Outbox.done.is_(True),
            Outbox.created_at < before,
            or_(Outbox.ticket_id.is_(None), Outbox.ticket_id.not_in(active)),
        )
        .execution_options(synchronize_session=False)
    ).rowcount


class OutboxRepo:
    def __init__(self, session_factory) -> None:
        self.session = session_factory

    def pending_chats(self) -> list[int]:
        """Chats with rows waiting to be sent (and not leased by another drain)."""
        moment = now()
        with self.session() as s:
            return list(
                s.scalars(
                    select(Outbox.chat_id)
                    .where(Outbox.done.is_(False), or_(Outbox.lease_until.is_(None), Outbox.lease_until < moment))
                    .distinct()
                )
            )

    def lease(self, chat_id: int, limit: int = 50) -> list[OutMessage]:
        """Take the oldest pending rows of one chat, in order; rows leased elsewhere are not taken."""
        with self.session.begin() as s:
            return self._lease(s, chat_id, limit)

    @staticmethod
    def _lease(s: Session, chat_id: int, limit: int) -> list[OutMessage]:
        moment = now()
        until = moment + dt.timedelta(seconds=LEASE_SECONDS)
        taken: list[OutMessage] = []
        rows = s.scalars(
            select(Outbox).where(Outbox.chat_id == chat_id, Outbox.done.is_(False)).order_by(Outbox.id).limit(limit)
        ).all()
        for row in rows:
            if row.lease_until is not None and utc(row.lease_until) >= moment:
                break  # an earlier row is in flight elsewhere: keep the chat's order
            got = s.execute(
                update(Outbox)
                .where(
                    Outbox.id == row.id,
                    Outbox.done.is_(False),
                    or_(Outbox.lease_until.is_(None), Outbox.lease_until < moment),
                )
                .values(lease_until=until, attempts=Outbox.attempts + 1)
                # No evaluation against the loaded rows: SQLite hands back naive times, `moment` is aware.
                .execution_options(synchronize_session=False)
            ).rowcount
            if not got:
                break
            stale = False
            if row.require_status and row.ticket_id is not None:
                status = s.scalar(select(Ticket.status).where(Ticket.id == row.ticket_id))
                stale = status != row.require_status
            targets = sent_messages(s, row.ticket_id, "card") if row.purpose == "cards" else []
            taken.append(
                OutMessage(
                    row.id,
                    row.chat_id,
                    row.role,
                    row.purpose,
                    row.method,
                    row.text,
                    list(row.buttons or []),
                    row.ticket_id,
                    row.copy_chat_id,
                    row.copy_message_id,
                    row.edit_message_id,
                    stale,
                    targets,
                    row.reply_to_message_id,
                    row.uncertain,
                )
            )
        return taken

    def reply(
        self, chat_id: int, text: str, buttons: list, reply_to: int | None = None, origin: str | None = None
    ) -> int:
        """A reply the bot owes in a chat (an answer, a command's result): sent like every other row.

        `origin` names what caused it (bot.telegram.ordering.reply_origin): a reply already queued under the same
        origin, by a replica that died before it could confirm the update, is not queued again."""
        try:
            with self.session.begin() as s:
                row = add(s, chat_id, "owner", "reply", text, buttons=buttons, reply_to=reply_to, origin=origin)
                s.flush()
                return row.id
        except IntegrityError:
            if origin is None:
                raise
            with self.session() as s:
                return s.scalar(select(Outbox.id).where(Outbox.origin == origin))

    def reply_and_lease(
        self, chat_id: int, text: str, buttons: list, reply_to: int | None = None, origin: str | None = None
    ) -> list[OutMessage]:
        """`reply`, then `lease(chat_id, 1)`, in one transaction for the usual case: the reply is stored (committed)
        before it can be sent all the same, and the one who stores it, about to send it, saves a round trip.

        The caller holds the chat's send order (the deliverer's lock for the chat): the row leased is the chat's
        oldest pending one, which is not always this reply."""
        try:
            with self.session.begin() as s:
                add(s, chat_id, "owner", "reply", text, buttons=buttons, reply_to=reply_to, origin=origin)
                s.flush()
                return self._lease(s, chat_id, 1)
        except IntegrityError:  # queued already under this origin (see reply): send what is pending
            if origin is None:
                raise
            return self.lease(chat_id, 1)

    def mark_sent(self, row_id: int, message_id: int | None) -> None:
        with self.session.begin() as s:
            s.execute(
                update(Outbox)
                .where(Outbox.id == row_id)
                .values(done=True, sent_at=now(), sent_message_id=message_id, lease_until=None)
            )

    def mark_sent_and_lease(self, row_id: int, message_id: int | None, chat_id: int) -> list[OutMessage]:
        """`mark_sent`, then `lease(chat_id, 1)` for the chat's next row, in one call of the deliverer (fewer hops to
        a thread). Two transactions: the row is recorded as sent even if taking the next one fails."""
        self.mark_sent(row_id, message_id)
        return self.lease(chat_id, 1)

    def mark_failed(self, row_id: int, error: str) -> None:
        with self.session.begin() as s:
            s.execute(update(Outbox).where(Outbox.id == row_id).values(done=True, error=error[:200], lease_until=None))

    def retry_later(self, row_id: int, error: str, *, uncertain: bool = False, wait: float | None = None) -> bool:
        """A transient failure: try again after a short backoff (or Telegram's `wait`); False when given up.

        `uncertain`: the connection broke after the request was sent, so Telegram may have carried it out. The
        row is marked: the deliverer sends it again only once the Bot API answers again (one resend, not one per
        try during the fault), and the delivery figures count it as a possible duplicate.
        """
        with self.session.begin() as s:
            row = s.get(Outbox, row_id)
            if row is None:
                return False
            if utc(row.created_at) < now() - GIVE_UP_AFTER:
                row.done, row.error, row.lease_until = True, f"gave up: {error}"[:200], None
                return False
            delay = wait if wait is not None else min(2.0 ** max(0, row.attempts - 1), BACKOFF_CAP)
            row.lease_until = now() + dt.timedelta(seconds=delay)
            row.error = error[:200]
            row.uncertain = row.uncertain or uncertain
            return True

    def delivery(self, since: dt.datetime) -> dict[str, int]:
        """Rows created since `since`: sent, sent again after an unknown outcome (possible duplicates: the rate
        reported by the health check), given up, still pending."""

        def count(*where) -> int:
            return s.scalar(select(func.count(Outbox.id)).where(Outbox.created_at >= since, *where)) or 0

        with self.session() as s:
            return {
                "sent": count(Outbox.sent_at.is_not(None)),
                "resent_after_unknown_outcome": count(Outbox.sent_at.is_not(None), Outbox.uncertain.is_(True)),
                "abandoned": count(Outbox.done.is_(True), Outbox.sent_at.is_(None), Outbox.error.startswith("gave up")),
                "pending": count(Outbox.done.is_(False)),
            }

    def release(self, row_ids: list[int]) -> None:
        """Give leased rows back (an earlier row of the chat must be retried first)."""
        if row_ids:
            with self.session.begin() as s:
                s.execute(update(Outbox).where(Outbox.id.in_(row_ids), Outbox.done.is_(False)).values(lease_until=None))

    def release_all(self) -> int:
        """At start of the only process (SQLite): rows leased by a previous run that died are sent again."""
        with self.session.begin() as s:
            return s.execute(
                update(Outbox).where(Outbox.done.is_(False), Outbox.lease_until.is_not(None)).values(lease_until=None)
            ).rowcount

    def purge(self, days: int = KEEP_DAYS) -> int:
        with self.session.begin() as s:
            return purge(s, days)

    def count_pending(self) -> int:
        with self.session() as s:
            return len(s.scalars(select(Outbox.id).where(Outbox.done.is_(False))).all())
