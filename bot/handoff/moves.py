"""Tickets changing hands: transfer, back to the queue, an unreachable side, an owner's /forget."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select

from bot import callbacks, i18n
from bot.handoff import cards, outbox
from bot.handoff.consultants import audit
from bot.handoff.core import Core, Outcome
from bot.handoff.models import ACTIVE, CANCELLED, CLAIMED, CLOSED, OPEN, AuditLog, Ticket, TicketMessage, now, utc
from bot.handoff.routing import rank_consultants

ADMIN_ALERT_EVERY = dt.timedelta(hours=1)  # an unreachable consultants' group is reported at most this often
REQUEUE_HEADERS = {  # why a ticket went back to the queue without its consultant asking
    "consultant_unreachable": "consultant.consultant_unreachable",
    "consultant_removed": "consultant.consultant_removed",
}


class Moves:
    """Transfers, re-queueing, unreachable people and /forget, over the shared `Core`."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def transfer_options(
        self,
        consultant_id: int,
        ticket_id: int | None = None,
        reply_to: int | None = None,
        message: tuple[int, int] | None = None,
    ) -> Outcome:
        """Ask the consultant whom to hand the ticket to (experts of its topic first), or back to the queue."""
        with self.core.session.begin() as s:
            t, mine = self.core.pick(s, consultant_id, ticket_id, reply_to)
            if t is None:
                self.core.choose(s, consultant_id, mine, "consultant.choose_transfer", "transfer_options", message)
                return Outcome(toast=i18n.t(i18n.STAFF, "consultant.stale_choice") if message else "")
            others = [
                c for c in rank_consultants(self.core.consultants.list(), t.topic) if c.telegram_id != consultant_id
            ]
            buttons = [
                [[f"{c.name} ({', '.join(c.topics)})"[:40], callbacks.encode("transfer", t.id, c.telegram_id)]]
                for c in others[:12]
            ]
            buttons.append([[i18n.t(i18n.STAFF, "consultant.requeue_button"), callbacks.encode("transfer", t.id, 0)]])
            text = i18n.t(i18n.STAFF, "consultant.transfer_to", id=t.id)
            if message:
                outbox.add(
                    s,
                    message[0],
                    "consultant",
                    "edit",
                    text,
                    ticket_id=t.id,
                    buttons=buttons,
                    method="edit",
                    edit_message_id=message[1],
                )
            else:
                outbox.add(s, consultant_id, "consultant", "notice", text, ticket_id=t.id, buttons=buttons)
            return Outcome(ticket_id=t.id)

    def transfer(
        self, consultant_id: int, ticket_id: int, target_id: int, message: tuple[int, int] | None = None
    ) -> Outcome:
        """Hand a claimed ticket to another registered consultant (target 0: back to the queue)."""
        if target_id == 0:
            return self.requeue(consultant_id, ticket_id, message)
        target = self.core.consultants.get(target_id)
        with self.core.session.begin() as s:
            t = s.get(Ticket, ticket_id)
            if t is None or target is None or target_id == consultant_id:
                return Outcome(toast=i18n.t(i18n.STAFF, "consultant.stale_choice"), alert=True)
            if not self.core.move(s, t, (CLAIMED,), consultant_id, consultant_id=target_id, claimed_at=now()):
                return Outcome(toast=i18n.t(i18n.STAFF, "consultant.stale_choice"), alert=True)
            audit(s, consultant_id, "transfer", t.id, to=target_id)
            old = self.core.consultants.name_of(s, consultant_id)
            self.core.sync_transcript(s, t)
            self.core.edit_cards(s, t, "transferred", target.name)
            ack = i18n.t(i18n.STAFF, "consultant.transferred_ack", id=t.id, name=cards.e(target.name))
            self._ack(s, consultant_id, t, ack, message)
            header = i18n.t(i18n.STAFF, "consultant.transferred_in", old=cards.e(old), id=t.id)
            self.core.send_transcript(s, t, target_id, header)
            self.core.tell_owner(s, t, "handoff.transferred", name=cards.e(target.name))
            return Outcome(
                toast=i18n.t(i18n.STAFF, "consultant.transferred_ack", id=t.id, name=target.name), ticket_id=t.id
            )

    def requeue(
        self, consultant_id: int | None, ticket_id: int, message: tuple[int, int] | None = None, reason: str = "requeue"
    ) -> Outcome:
        """claimed -> open: the ticket goes back to the queue with a new card; the owner is told."""
        with self.core.session.begin() as s:
            t = s.get(Ticket, ticket_id)
            if t is None:
                return Outcome(toast=i18n.t(i18n.STAFF, "consultant.stale_choice"), alert=True)
            holder = t.consultant_id
            at = now()
            if not self.core.move(
                s,
                t,
                (CLAIMED,),
                consultant_id if consultant_id is not None else holder,
                status=OPEN,
                consultant_id=None,
                opened_at=at,
                next_announce_at=self.core.next_announcement(at, 0),
            ):
                return Outcome(toast=i18n.t(i18n.STAFF, "consultant.stale_choice"), alert=True)
            audit(s, consultant_id if consultant_id is not None else holder, reason, t.id)
            name = self.core.consultants.name_of(s, holder)
            self.core.edit_cards(s, t, "requeued", name)
            if reason == "requeue":
                self._ack(s, holder, t, i18n.t(i18n.STAFF, "consultant.requeued_ack", id=t.id), message)
                header = i18n.t(i18n.STAFF, "consultant.requeue_header", name=cards.e(name), id=t.id)
            else:
                header = i18n.t(i18n.STAFF, REQUEUE_HEADERS[reason], name=cards.e(name), id=t.id)
            self.core.sync_transcript(s, t)
            self.core.post_card(s, t, header)
            self.core.tell_owner(s, t, "handoff.released")
            return Outcome(ticket_id=t.id, announce_at=t.next_announce_at)

    def _ack(self, s, consultant_id: int, t: Ticket, text: str, message: tuple[int, int] | None) -> None:
        if message:
            outbox.add(
                s, message[0], "consultant", "edit", text, ticket_id=t.id, method="edit", edit_message_id=message[1]
            )
        else:
            outbox.add(s, consultant_id, "consultant", "notice", text, ticket_id=t.id)

    def unreachable(self, chat_id: int, role: str, ticket_id: int | None = None) -> list[Outcome]:
        """A send failed because the person blocked the bot (or never started it): free the tickets involved."""
        if role == "consultant":
            with self.core.session() as s:
                ids = [t.id for t in self.core.claimed_by(s, chat_id) if ticket_id in (None, t.id)]
            return [self.requeue(None, i, reason="consultant_unreachable") for i in ids]
        if role != "owner":
            return []
        with self.core.session.begin() as s:
            t = self.core.active_ticket(s, chat_id)
            if t is None or (ticket_id is not None and t.id != ticket_id):
                return []
            holder = t.consultant_id
            status = CLOSED if t.status == CLAIMED else CANCELLED
            if not self.core.move(s, t, ACTIVE, **self.core.ending(status, "owner_blocked")):
                return []
            audit(s, None, "owner_unreachable", t.id)
            self.core.edit_cards(s, t, "owner_blocked")
            if holder and status == CLOSED:
                outbox.add(
                    s,
                    holder,
                    "consultant",
                    "notice",
                    i18n.t(
                        i18n.STAFF, "consultant.owner_blocked", name=cards.e(t.user_name or str(t.user_id)), id=t.id
                    ),
                    ticket_id=t.id,
                )
            return [Outcome(ticket_id=t.id)]

    def group_unreachable(self, error: str) -> bool:
        """The consultants' group cannot be written to (bot removed, wrong CONSULTANTS_CHAT_ID): tell the owners
        waiting on it (once per ticket) and the admins (at most once an hour). True when the admins are told."""
        with self.core.session.begin() as s:
            for t in s.scalars(select(Ticket).where(Ticket.status == OPEN).order_by(Ticket.id)):
                told = s.scalar(
                    select(AuditLog.id)
                    .where(AuditLog.ticket_id == t.id, AuditLog.action == "group_down_owner")
                    .limit(1)
                )
                if told is None:
                    audit(s, None, "group_down_owner", t.id)
                    self.core.tell_owner(s, t, "handoff.group_down", self.core.cancel_button(t))
            last = s.scalar(
                select(AuditLog.created_at)
                .where(AuditLog.action == "group_down_admins")
                .order_by(AuditLog.id.desc())
                .limit(1)
            )
            if last is not None and utc(last) > now() - ADMIN_ALERT_EVERY:
                return False
            audit(s, None, "group_down_admins", None, error=error[:200])
            text = i18n.t(i18n.STAFF, "admin.group_down", chat=self.core.group, error=cards.e(error[:200]))
            for admin in self.core.settings.admin_ids:
                outbox.add(s, admin, "admin", "notice", text)
            return True

    def forget_owner(self, user_id: int) -> int:
        """/forget: end the owner's active ticket and delete what the tickets kept of the conversation."""
        with self.core.session.begin() as s:
            ids = list(s.scalars(select(Ticket.id).where(Ticket.user_id == user_id)))
            if ids:
                s.execute(delete(TicketMessage).where(TicketMessage.ticket_id.in_(ids)))
            outbox.forget(s, user_id, ids)
            for ticket in s.scalars(select(Ticket).where(Ticket.user_id == user_id)):
                ticket.user_name, ticket.intake, ticket.summary = "", "", ""
            t = self.core.active_ticket(s, user_id)
            if t is not None:
                holder, claimed = t.consultant_id, t.status == CLAIMED
                if self.core.move(s, t, ACTIVE, **self.core.ending(CLOSED if claimed else CANCELLED, "owner_forgot")):
                    self.core.edit_cards(
                        s, t, "closed" if claimed else "cancelled", self.core.consultants.name_of(s, holder)
                    )
                    if claimed:
                        outbox.add(
                            s,
                            holder,
                            "consultant",
                            "notice",
                            i18n.t(i18n.STAFF, "consultant.owner_ended", id=t.id),
                            ticket_id=t.id,
                        )
            return len(ids)
