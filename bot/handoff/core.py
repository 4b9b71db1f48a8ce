"""Shared pieces of the handoff service: configuration, ticket look-ups, cards, transcript, owner notices.

Every method that changes state takes an open session `s`, so the change and the messages it causes
(outbox rows) commit together. Nothing here knows about Telegram.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bot import callbacks, i18n
from bot.handoff import cards, outbox
from bot.handoff.consultants import ConsultantRegistry
from bot.handoff.hours import WorkingHours
from bot.handoff.models import CLAIMED, OPEN, Consultant, Ticket, TicketMessage, now, utc
from bot.handoff.outbox import OutboxRepo
from bot.handoff.routing import matching
from bot.storage import Message, UserState, written_language

TRANSCRIPT_TURNS = 12  # bot conversation copied into a new ticket
MAX_BACKOFF = 8  # re-announcements slow down to at most 8 x REANNOUNCE_MINUTES
STATE_LINES = {  # what a card says once the ticket moved on
    "claimed": "consultant.state_claimed",
    "transferred": "consultant.state_transferred",
    "closed": "consultant.state_closed",
    "cancelled": "consultant.state_cancelled",
    "owner_blocked": "consultant.state_owner_blocked",
    "requeued": "consultant.state_requeued",
}


@dataclass
class Outcome:
    """What a handler needs besides the outbox: a callback answer, whether a message was consumed."""

    toast: str = ""
    alert: bool = False
    handled: bool = True
    ticket_id: int | None = None
    announce_at: dt.datetime | None = None  # (re)schedule the ticket's re-announcement


@dataclass
class Incoming:
    """A message from an owner or a consultant, free of Telegram types."""

    chat_id: int
    message_id: int
    user_id: int
    name: str
    text: str = ""  # the text, or the caption of a photo/document
    media: str = ""  # "" for text; photo | document | other
    file_name: str = ""
    reply_to: int | None = None


class Core:
    def __init__(self, settings, store) -> None:
        self.settings = settings
        self.session = store.session
        self.consultants = ConsultantRegistry(store.session)
        self.outbox = OutboxRepo(store.session)
        self.hours = WorkingHours.parse(settings.working_hours, settings.working_days, settings.timezone)
        self.group = settings.consultants_chat_id
        self.interval = dt.timedelta(minutes=float(settings.reannounce_minutes))

    # -- look-ups --------------------------------------------------------------
    @staticmethod
    def active_ticket(s: Session, user_id: int) -> Ticket | None:
        return s.scalar(select(Ticket).where(Ticket.active_owner == user_id))

    @staticmethod
    def claimed_by(s: Session, consultant_id: int) -> list[Ticket]:
        return list(
            s.scalars(
                select(Ticket)
                .where(Ticket.status == CLAIMED, Ticket.consultant_id == consultant_id)
                .order_by(Ticket.id)
            )
        )

    @staticmethod
    def position(s: Session, ticket: Ticket) -> int:
        """1-based place of an open ticket in the queue (by the time it was opened)."""
        return int(
            s.scalar(
                select(func.count())
                .select_from(Ticket)
                .where(Ticket.status == OPEN, Ticket.opened_at <= ticket.opened_at)
            )
            or 1
        )

    def language(self, s: Session, user_id: int) -> str:
        return written_language(s, user_id) or "vi"

    def eta(self, lang: str, at: dt.datetime | None = None) -> str:
        at = at or now()
        hours = self.hours.describe(lang)
        if self.hours.is_open(at):
            return i18n.t(lang, "handoff.eta_open", hours=hours, minutes=self.settings.handoff_response_minutes)
        return i18n.t(lang, "handoff.eta_closed", hours=hours, next=self.hours.describe_next(at, lang))

    def next_announcement(self, at: dt.datetime, count: int) -> dt.datetime:
        """After `count` announcements: wait REANNOUNCE_MINUTES x 2^count (capped), within working time."""
        return self.hours.next_open(at + self.interval * min(2**count, MAX_BACKOFF))

    # -- transcript ------------------------------------------------------------
    def sync_transcript(self, s: Session, t: Ticket, first: bool = False) -> None:
        """Copy the bot conversation into the ticket: the current context at creation, later turns after."""
        query = select(Message).where(Message.user_id == t.user_id, Message.id > t.snapshot_message_id)
        if first:
            epoch = s.scalar(select(UserState.context_epoch).where(UserState.user_id == t.user_id)) or 0
            query = query.where(Message.context_epoch == epoch)
        rows = list(s.scalars(query.order_by(Message.id.desc()).limit(TRANSCRIPT_TURNS if first else 200)))
        for row in reversed(rows):
            meta = row.meta or {}
            titles = meta.get("titles") or meta.get("sources") or []
            s.add(
                TicketMessage(
                    ticket_id=t.id,
                    role="user" if row.role == "user" else "bot",
                    author_id=t.user_id,
                    text=row.text,
                    relayed=True,
                    meta={"titles": titles, "kind": meta.get("kind", ""), "topic": meta.get("topic", "")},
                    created_at=row.created_at,
                )
            )
            t.snapshot_message_id = max(t.snapshot_message_id, row.id)
        s.flush()

    @staticmethod
    def lines(s: Session, ticket_id: int) -> list[TicketMessage]:
        return list(
            s.scalars(
                select(TicketMessage)
                .where(TicketMessage.ticket_id == ticket_id)
                .order_by(TicketMessage.created_at, TicketMessage.id)
            )
        )

    def send_transcript(self, s: Session, t: Ticket, consultant_id: int, header: str = "") -> None:
        for part in cards.transcript(t, self.lines(s, t.id), header):
            outbox.add(s, consultant_id, "consultant", "transcript", part, ticket_id=t.id)
        # Files the owner attached while waiting follow the transcript.
        for line in self.lines(s, t.id):
            if line.role == "user" and line.media and line.source_message_id:
                outbox.add(
                    s,
                    consultant_id,
                    "consultant",
                    "relay",
                    self.owner_label(t),
                    ticket_id=t.id,
                    method="copy",
                    copy_from=(line.source_chat_id, line.source_message_id),
                )
                line.relayed = True

    def pick(self, s, consultant_id: int, ticket_id: int | None, reply_to: int | None) -> tuple[Ticket | None, list]:
        """The consultant's ticket meant by an id, a reply to a relayed message, or the only one they hold."""
        mine = self.claimed_by(s, consultant_id)
        if ticket_id is None and reply_to is not None:
            ticket_id = outbox.ticket_for_message(s, consultant_id, reply_to)
        if ticket_id is not None:
            return next((t for t in mine if t.id == ticket_id), None), mine
        return (mine[0] if len(mine) == 1 else None), mine

    def choose(self, s, consultant_id: int, mine: list, key: str, kind: str, message) -> None:
        if message:  # a stale choice button: nothing to ask again
            return
        if not mine:
            outbox.add(s, consultant_id, "consultant", "notice", i18n.t(i18n.STAFF, "consultant.none_active"))
            return
        buttons = [[[f"#{t.id} {t.user_name or t.user_id}"[:40], callbacks.encode(kind, t.id)]] for t in mine]
        outbox.add(s, consultant_id, "consultant", "notice", i18n.t(i18n.STAFF, key), buttons=buttons)

    # -- cards -----------------------------------------------------------------
    def card_body(self, s: Session, t: Ticket) -> str:
        lines = self.lines(s, t.id)
        questions = [m.text for m in lines if m.role == "user" and not m.media and not (m.meta or {}).get("intake")]
        titles: list[str] = []
        for m in lines:
            for title in (m.meta or {}).get("titles") or []:
                if title not in titles:
                    titles.append(title)
        experts = matching([c for c in s.scalars(select(Consultant).where(Consultant.active.is_(True)))], t.topic)
        return cards.card(t, questions[-3:], titles, experts)

    def post_card(self, s: Session, t: Ticket, header: str = "") -> None:
        body = self.card_body(s, t)
        outbox.add(
            s,
            self.group,
            "group",
            "card",
            (header + "\n" if header else "") + body,
            ticket_id=t.id,
            buttons=[[[i18n.t(i18n.STAFF, "consultant.claim_button"), callbacks.encode("claim", t.id)]]],
            require_status=OPEN,
        )

    def edit_cards(
        self,
        s: Session,
        t: Ticket,
        state: str,
        name: str = "",
        extra: tuple[int, int] | None = None,
        only_extra: bool = False,
    ) -> None:
        """Show on every card of the ticket who took it (or that it ended); buttons go away.

        One "cards" row: which cards exist is decided when it is sent, after every card queued before it
        (same chat, sent in order), so a card still on its way is edited too.
        """
        when = dt.datetime.now(self.hours.tz).strftime("%H:%M")
        line = i18n.t(i18n.STAFF, STATE_LINES[state], name=cards.e(name), time=when)
        text = self.card_body(s, t) + "\n\n" + line
        if not only_extra:
            outbox.add(s, self.group, "group", "cards", text, ticket_id=t.id, method="edit")
        # The pressed message needs its own edit unless the "cards" row covers it: a card already recorded
        # as sent, or one still being recorded (pressed the moment it arrived; the row above waits for it).
        covered = not only_extra and (
            extra in outbox.sent_messages(s, t.id, "card")
            or (extra is not None and extra[0] == self.group and outbox.in_flight(s, t.id, "card"))
        )
        if extra and not covered:
            outbox.add(s, extra[0], "group", "edit", text, ticket_id=t.id, method="edit", edit_message_id=extra[1])

    # -- owner -----------------------------------------------------------------
    def tell_owner(
        self, s: Session, t: Ticket, key: str, buttons: list | None = None, purpose: str = "notice", **values: object
    ) -> None:
        text = i18n.t(t.language, key, id=t.id, **values)
        outbox.add(s, t.user_id, "owner", purpose, text, ticket_id=t.id, buttons=buttons)

    @staticmethod
    def drop_buttons(s: Session, message: tuple[int, int] | None) -> None:
        """Remove the inline keyboard of a message whose choice has been made."""
        if message:
            outbox.add(s, message[0], "owner", "edit", "", method="markup", edit_message_id=message[1])

    @staticmethod
    def owner_label(t: Ticket) -> str:
        return i18n.t(i18n.STAFF, "consultant.relay_label", name=cards.e(t.user_name or str(t.user_id)), id=t.id)

    def cancel_button(self, t: Ticket) -> list:
        return [[[i18n.t(t.language, "handoff.cancel"), callbacks.encode("cancel", t.id)]]]

    @staticmethod
    def rating_buttons(t: Ticket) -> list:
        return [[[f"{n} ⭐", callbacks.encode("rate", t.id, n)] for n in range(1, 6)]]

    @staticmethod
    def move(s: Session, t: Ticket, expected: tuple[str, ...], holder: int | None = None, **values: object) -> bool:
        """A state change that happens only if the ticket is still in `expected` (and held by `holder`):
        one atomic conditional UPDATE, so of two concurrent changes exactly one wins."""
        where = [Ticket.id == t.id, Ticket.status.in_(expected)]
        if holder is not None:
            where.append(Ticket.consultant_id == holder)
        got = s.execute(
            update(Ticket).where(*where).values(**values).execution_options(synchronize_session=False)
        ).rowcount
        s.refresh(t)
        return bool(got)

    @staticmethod
    def ending(status: str, reason: str) -> dict:
        return {
            "status": status,
            "close_reason": reason,
            "closed_at": now(),
            "active_owner": None,
            "next_announce_at": None,
        }

    @staticmethod
    def waited_minutes(t: Ticket, at: dt.datetime) -> int:
        return max(0, int((at - (utc(t.opened_at) or at)).total_seconds() // 60))
