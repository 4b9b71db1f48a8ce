"""HandoffService: the one object front ends use, composed of parts that share one `Core`.

The use cases live in tickets.py (the ticket state machine), moves.py (transfers, unreachable people, /forget)
and relay.py (messages both ways); each part holds the core and none knows the others, so this class is the
only place where a message is routed between them.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot import i18n
from bot.handoff import outbox
from bot.handoff.core import Core, Incoming, Outcome
from bot.handoff.models import CLAIMED, INTAKE, OPEN, TicketMessage, now, utc
from bot.handoff.moves import Moves
from bot.handoff.relay import Relay
from bot.handoff.tickets import TicketFlow
from bot.storage import Feedback, Message

INTAKE_TIMEOUT = dt.timedelta(minutes=10)  # an unanswered intake question no longer takes the next message


class HandoffService(Core):
    """Tickets, routing, relay and service level over the bot's database (see states.mmd)."""

    def __init__(self, settings, store) -> None:
        super().__init__(settings, store)
        self.tickets, self.moves, self.relay = TicketFlow(self), Moves(self), Relay(self)
        # The parts' use cases, offered under their own names: front ends do not need to know the parts.
        t, m, r = self.tickets, self.moves, self.relay
        self.request, self.intake_answer, self.skip_intake, self.cancel = (
            t.request,
            t.intake_answer,
            t.skip_intake,
            t.cancel,
        )
        self.rate, self.claim, self.close, self.due, self.reannounce, self.queue = (
            t.rate,
            t.claim,
            t.close,
            t.due,
            t.reannounce,
            t.queue,
        )
        self.transfer_options, self.transfer, self.requeue = m.transfer_options, m.transfer, m.requeue
        self.unreachable, self.group_unreachable, self.forget_owner = m.unreachable, m.group_unreachable, m.forget_owner
        self.relay_owner, self.relay_owner_text, self.attach = r.relay_owner, r.relay_owner_text, r.attach
        self.relay_consultant, self.choose_relay, self.relay_edit = r.relay_consultant, r.choose_relay, r.relay_edit

    def on_private_message(self, msg: Incoming) -> tuple[Outcome, Outcome]:
        """`on_owner_message`, then `on_consultant_message` unless the first took the message: (first, last).

        Most private messages are questions for the bot from someone with no ticket who holds none: what both
        need to know is read in one session, and the message is routed on only when there is something to do
        (the bot's busy process spends less CPU on every question than with one look-up per side)."""
        with self.session() as s:
            if self.seen(s, msg):
                return Outcome(), Outcome()
            ticket = self.active_ticket(s, msg.user_id)
            busy = ticket is None and bool(self.claimed_by(s, msg.user_id))
        if ticket is None and not busy:
            return Outcome(handled=False), Outcome(handled=False)
        first = self._owner_message(msg, ticket) if ticket is not None else Outcome(handled=False)
        if first.handled:
            return first, first
        return first, self.on_consultant_message(msg)

    def on_owner_message(self, msg: Incoming) -> Outcome:
        """Route a private message of someone with an active ticket; `handled=False` lets the bot answer."""
        with self.session() as s:
            if self.seen(s, msg):
                return Outcome()
            t = self.active_ticket(s, msg.user_id)
        return self._owner_message(msg, t)

    def _owner_message(self, msg: Incoming, t) -> Outcome:
        status = t.status if t else None
        stale_intake = status == INTAKE and utc(t.created_at) < now() - INTAKE_TIMEOUT
        if status == CLAIMED:
            return self.relay_owner(msg)
        if stale_intake:  # the intake question is long past: it is skipped and the message is for the bot
            opened = self.skip_intake(msg.user_id, t.id)
            return Outcome(handled=False, ticket_id=opened.ticket_id, announce_at=opened.announce_at)
        if status == INTAKE and not msg.media:
            return self.intake_answer(msg.user_id, msg.text, msg.chat_id, msg.message_id)
        if status == OPEN and msg.media:
            return self.attach(msg)
        return Outcome(handled=False)

    def on_consultant_message(self, msg: Incoming) -> Outcome:
        """A consultant's private message while they hold tickets goes to an owner."""
        with self.session() as s:
            if self.seen(s, msg):
                return Outcome()
            busy = bool(self.claimed_by(s, msg.user_id))
        return self.relay_consultant(msg) if busy else Outcome(handled=False)

    def remove_consultant(self, telegram_id: int, actor_id: int | None = None) -> bool:
        """Deactivate a consultant; their open conversations go back to the queue, not into limbo."""
        removed = self.consultants.remove(telegram_id, actor_id)
        with self.session() as s:
            ids = [t.id for t in self.claimed_by(s, telegram_id)]
        for ticket_id in ids:
            self.requeue(None, ticket_id, reason="consultant_removed")
        return removed

    @staticmethod
    def seen(s, msg: Incoming) -> bool:
        """This Telegram message was already taken by the handoff (its update is delivered again)."""
        return (
            s.scalar(
                select(TicketMessage.id).where(
                    TicketMessage.source_chat_id == msg.chat_id, TicketMessage.source_message_id == msg.message_id
                )
            )
            is not None
        )

    def is_consultant(self, user_id: int) -> bool:
        return self.consultants.get(user_id) is not None

    def has_active(self, user_id: int) -> bool:
        with self.session() as s:
            return self.active_ticket(s, user_id) is not None

    # -- offers ----------------------------------------------------------------
    def offer_due(self, user_id: int, after: str) -> bool:
        """True right after the second abstention (after='abstain') or second 👎 (after='feedback') in a row."""
        if not self.group:
            return False
        with self.session() as s:
            if self.active_ticket(s, user_id) is not None:
                return False
            if after == "abstain":
                metas = s.scalars(
                    select(Message.meta)
                    .where(Message.user_id == user_id, Message.role == "assistant")
                    .order_by(Message.id.desc())
                    .limit(3)
                ).all()
                kinds = [(m or {}).get("kind") for m in metas]
                return kinds[:2] == ["abstain", "abstain"] and (len(kinds) < 3 or kinds[2] != "abstain")
            rows = s.execute(
                select(Feedback.message_id, Feedback.value)
                .where(Feedback.user_id == user_id)
                .order_by(Feedback.id.desc())
                .limit(6)
            ).all()
            latest: dict[int, int] = {}
            for message_id, value in rows:  # one vote per answer, the latest
                latest.setdefault(message_id, value)
            values = list(latest.values())
            return values[:2] == [-1, -1] and (len(values) < 3 or values[2] != -1)

    def offer(self, user_id: int, lang: str | None = None, origin: str | None = None) -> None:
        """Offer (do not force) a consultant, with a button whose label contains "chuyên gia".

        `origin`: as for `outbox.reply`, an update handled again (its first replica died) does not offer twice."""
        try:
            with self.session.begin() as s:
                lang = lang or self.language(s, user_id)
                outbox.add(
                    s,
                    user_id,
                    "owner",
                    "notice",
                    i18n.t(lang, "handoff.offer"),
                    buttons=[[[i18n.t(lang, "handoff.offer_button"), "human"]]],
                    origin=origin,
                )
        except IntegrityError:
            if origin is None:
                raise  # not a second queuing of the same offer


__all__ = ["HandoffService", "Incoming", "Outcome"]
