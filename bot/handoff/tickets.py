"""The ticket state machine (bot/handoff/states.mmd): request, intake, open, claim, close, rate, cancel, SLA."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot import callbacks, i18n
from bot.handoff import cards, outbox
from bot.handoff.consultants import audit
from bot.handoff.core import Core, Outcome
from bot.handoff.models import CANCELLED, CLAIMED, CLOSED, INTAKE, OPEN, Ticket, TicketMessage, now, utc
from bot.handoff.routing import detect_topic

STATUS_WORDS = {  # Ticket.status -> how a consultant's toast names it
    CLOSED: "consultant.status_closed",
    CANCELLED: "consultant.status_cancelled",
    CLAIMED: "consultant.status_claimed",
    INTAKE: "consultant.status_intake",
    OPEN: "consultant.status_open",
}


class TicketFlow:
    """The ticket state machine's use cases over the shared `Core` (tickets, cards, outbox)."""

    def __init__(self, core: Core) -> None:
        self.core = core

    # -- owner side ------------------------------------------------------------
    def request(
        self,
        user_id: int,
        user_name: str,
        trigger: str = "command",
        origin_key: str | None = None,
        lang: str | None = None,
        *,
        topic: str | None = None,
        brief: str = "",
        intake: str = "",
    ) -> Outcome:
        """The owner asks for a consultant: a new ticket (intake question or straight to the queue).

        A caller that already knows the case (a technology-needs profile) gives its `topic`, a `brief` shown on
        the card instead of the conversation summary, and the `intake` line (company, province): no question.
        """
        if not self.core.group:
            with self.core.session.begin() as s:
                outbox.add(
                    s, user_id, "owner", "notice", i18n.t(lang or self.core.language(s, user_id), "handoff.unavailable")
                )
            return Outcome()
        try:
            return self._request(user_id, user_name, trigger, origin_key, lang, topic, brief, intake)
        except IntegrityError:  # a concurrent request of the same owner, or a redelivered update
            with self.core.session.begin() as s:
                t = self.core.active_ticket(s, user_id)
                if t is not None:
                    self._remind(s, t)
                return Outcome(ticket_id=t.id if t else None)

    def _request(self, user_id, user_name, trigger, origin_key, lang, topic=None, brief="", intake="") -> Outcome:
        with self.core.session.begin() as s:
            t = self.core.active_ticket(s, user_id)
            if t is not None:
                self._remind(s, t)
                return Outcome(ticket_id=t.id)
            known = intake[:300] or s.scalar(
                select(Ticket.intake)
                .where(Ticket.user_id == user_id, Ticket.intake != "")
                .order_by(Ticket.id.desc())
                .limit(1)
            )
            t = Ticket(
                user_id=user_id,
                active_owner=user_id,
                origin_key=origin_key,
                user_name=user_name[:128],
                language=lang or self.core.language(s, user_id),
                status=INTAKE,
                trigger=trigger,
                intake=known or "",
            )
            s.add(t)
            s.flush()
            self.core.sync_transcript(s, t, first=True)
            lines = self.core.lines(s, t.id)
            questions = [m.text for m in lines if m.role == "user"]
            t.topic = topic or detect_topic(
                [(m.meta or {}).get("topic", "") for m in lines if m.role == "bot"], questions
            )
            t.summary = brief or self._summary(t, lines)
            audit(s, user_id, "ticket_request", t.id, trigger=trigger)
            if known:
                return Outcome(ticket_id=t.id, announce_at=self._open(s, t))
            outbox.add(
                s,
                user_id,
                "owner",
                "notice",
                i18n.t(t.language, "handoff.intake"),
                ticket_id=t.id,
                buttons=[
                    [
                        [i18n.t(t.language, "handoff.skip"), callbacks.encode("skip_intake", t.id)],
                        [i18n.t(t.language, "handoff.cancel"), callbacks.encode("cancel", t.id)],
                    ]
                ],
            )
            return Outcome(ticket_id=t.id)

    @staticmethod
    def _summary(t: Ticket, lines: list[TicketMessage]) -> str:
        asked = [m for m in lines if m.role == "user"]
        if not asked:
            return i18n.t(i18n.STAFF, "consultant.summary_none")
        last = asked[-1].text.strip().replace("\n", " ")
        last = last if len(last) <= 160 else last[:160].rsplit(" ", 1)[0] + " …"
        unanswered = sum(1 for m in lines if m.role == "bot" and (m.meta or {}).get("kind") == "abstain")
        text = f"«{last}»"
        if len(asked) > 1:
            text += " — " + i18n.t(i18n.STAFF, "consultant.summary_asked", n=len(asked))
        if unanswered:
            text += ", " + i18n.t(i18n.STAFF, "consultant.summary_unanswered", n=unanswered)
        return text + "."

    def _remind(self, s, t: Ticket) -> None:
        if t.status == INTAKE:
            outbox.add(
                s,
                t.user_id,
                "owner",
                "notice",
                i18n.t(t.language, "handoff.intake"),
                ticket_id=t.id,
                buttons=[
                    [
                        [i18n.t(t.language, "handoff.skip"), callbacks.encode("skip_intake", t.id)],
                        [i18n.t(t.language, "handoff.cancel"), callbacks.encode("cancel", t.id)],
                    ]
                ],
            )
        elif t.status == OPEN:
            self.core.tell_owner(
                s,
                t,
                "handoff.waiting",
                self.core.cancel_button(t),
                pos=self.core.position(s, t),
                eta=self.core.eta(t.language),
            )
        else:
            self.core.tell_owner(
                s, t, "handoff.talking", name=cards.e(self.core.consultants.name_of(s, t.consultant_id))
            )

    def _open(self, s, t: Ticket) -> dt.datetime | None:
        """intake -> open: the card goes to the group, the owner learns their place and the expected wait."""
        at = now()
        if not self.core.move(
            s, t, (INTAKE,), status=OPEN, opened_at=at, next_announce_at=self.core.next_announcement(at, 0)
        ):
            return None
        self.core.post_card(s, t)
        self.core.tell_owner(
            s,
            t,
            "handoff.queued",
            self.core.cancel_button(t),
            topic=cards.e(cards.topic_label(t.topic, t.language)),
            pos=self.core.position(s, t),
            eta=self.core.eta(t.language, at),
        )
        return utc(t.next_announce_at)

    def intake_answer(self, user_id: int, text: str, chat_id: int, message_id: int) -> Outcome:
        """The owner's answer to the optional intake question; not handled when no intake is pending."""
        try:
            with self.core.session.begin() as s:
                t = self.core.active_ticket(s, user_id)
                if t is None or t.status != INTAKE:
                    return Outcome(handled=False)
                s.add(
                    TicketMessage(
                        ticket_id=t.id,
                        role="user",
                        author_id=user_id,
                        text=text[:1000],
                        relayed=True,
                        meta={"intake": True},
                        source_chat_id=chat_id,
                        source_message_id=message_id,
                    )
                )
                s.flush()
                t.intake = " ".join(text.split())[:300]
                return Outcome(ticket_id=t.id, announce_at=self._open(s, t))
        except IntegrityError:  # the same message again (redelivered after a restart)
            return Outcome()

    def skip_intake(self, user_id: int, ticket_id: int, message: tuple[int, int] | None = None) -> Outcome:
        with self.core.session.begin() as s:
            t = s.get(Ticket, ticket_id)
            if t is None or t.user_id != user_id or t.status != INTAKE:
                return Outcome(toast=i18n.t(t.language if t else None, "handoff.nothing"))
            self.core.drop_buttons(s, message)
            return Outcome(ticket_id=t.id, announce_at=self._open(s, t))

    def cancel(self, user_id: int, ticket_id: int | None = None, message: tuple[int, int] | None = None) -> Outcome:
        """The owner cancels while waiting, or ends a conversation with a consultant."""
        with self.core.session.begin() as s:
            t = self.core.active_ticket(s, user_id)
            if t is None or (ticket_id is not None and t.id != ticket_id):
                lang = t.language if t else self.core.language(s, user_id)
                if ticket_id is None:
                    outbox.add(s, user_id, "owner", "notice", i18n.t(lang, "handoff.nothing"))
                return Outcome(toast=i18n.t(lang, "handoff.nothing"))
            self.core.drop_buttons(s, message)
            if t.status == CLAIMED:
                if not self.core.move(s, t, (CLAIMED,), **self.core.ending(CLOSED, "owner_ended")):
                    return Outcome(toast=i18n.t(t.language, "handoff.nothing"))
                audit(s, user_id, "owner_ended", t.id)
                outbox.add(
                    s,
                    t.consultant_id,
                    "consultant",
                    "notice",
                    i18n.t(i18n.STAFF, "consultant.owner_ended", id=t.id),
                    ticket_id=t.id,
                )
                self.core.edit_cards(s, t, "closed", self.core.consultants.name_of(s, t.consultant_id))
                self.core.tell_owner(s, t, "handoff.ended", self.core.rating_buttons(t), purpose="rating")
                return Outcome(ticket_id=t.id)
            if not self.core.move(s, t, (INTAKE, OPEN), **self.core.ending(CANCELLED, "owner_cancelled")):
                return Outcome(toast=i18n.t(t.language, "handoff.nothing"))
            audit(s, user_id, "owner_cancelled", t.id)
            self.core.edit_cards(s, t, "cancelled")
            self.core.tell_owner(s, t, "handoff.cancelled")
            return Outcome(ticket_id=t.id)

    def rate(self, user_id: int, ticket_id: int, value: int, message: tuple[int, int] | None = None) -> Outcome:
        if not 1 <= value <= 5:
            return Outcome(toast="?")
        with self.core.session.begin() as s:
            got = s.execute(
                update(Ticket)
                .where(
                    Ticket.id == ticket_id, Ticket.user_id == user_id, Ticket.status == CLOSED, Ticket.rating.is_(None)
                )
                .values(rating=value, rated_at=now())
            ).rowcount
            t = s.get(Ticket, ticket_id)
            lang = t.language if t else "vi"
            if not got:
                return Outcome(toast=i18n.t(lang, "handoff.rated", n=t.rating if t and t.rating else value))
            thanks = i18n.t(lang, "handoff.rated", n=value)
            if message:
                outbox.add(
                    s, message[0], "owner", "edit", thanks, ticket_id=t.id, method="edit", edit_message_id=message[1]
                )
            if t.consultant_id:
                outbox.add(
                    s,
                    t.consultant_id,
                    "consultant",
                    "notice",
                    i18n.t(i18n.STAFF, "consultant.rating", id=t.id, n=value),
                    ticket_id=t.id,
                )
            return Outcome(toast=thanks, ticket_id=t.id)

    # -- consultant side -------------------------------------------------------
    def claim(self, ticket_id: int, consultant_id: int, card: tuple[int, int] | None = None) -> Outcome:
        """Exactly one consultant wins: an UPDATE conditional on the ticket still being open."""
        me = self.core.consultants.get(consultant_id)
        with self.core.session.begin() as s:
            if me is None:
                audit(s, consultant_id, "claim_refused", ticket_id)
                return Outcome(toast=i18n.t(i18n.STAFF, "consultant.not_consultant"), alert=True)
            got = s.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.status == OPEN)
                .values(status=CLAIMED, consultant_id=consultant_id, claimed_at=now(), next_announce_at=None)
            ).rowcount
            t = s.get(Ticket, ticket_id)
            if t is None:
                state = i18n.t(i18n.STAFF, "consultant.status_closed")
                return Outcome(toast=i18n.t(i18n.STAFF, "consultant.stale", id=ticket_id, state=state), alert=True)
            if not got:
                return self._claim_lost(s, t, consultant_id, card)
            audit(s, consultant_id, "claim", t.id, waited_s=int((now() - (utc(t.opened_at) or now())).total_seconds()))
            self.core.sync_transcript(s, t)
            self.core.edit_cards(s, t, "claimed", me.name, extra=card)
            self.core.send_transcript(s, t, consultant_id)
            self.core.tell_owner(s, t, "handoff.claimed", name=cards.e(me.name))
            return Outcome(toast=i18n.t(i18n.STAFF, "consultant.claimed_toast", id=t.id), ticket_id=t.id)

    def _claim_lost(self, s, t: Ticket, consultant_id: int, card) -> Outcome:
        if t.status == CLAIMED and t.consultant_id == consultant_id:
            return Outcome(toast=i18n.t(i18n.STAFF, "consultant.yours", id=t.id), ticket_id=t.id)
        audit(s, consultant_id, "claim_lost", t.id, status=t.status)
        if t.status == CLAIMED:
            name = self.core.consultants.name_of(s, t.consultant_id)
            return Outcome(toast=i18n.t(i18n.STAFF, "consultant.taken", id=t.id, name=name), alert=True, ticket_id=t.id)
        if card and t.status in (CLOSED, CANCELLED) and card not in outbox.sent_messages(s, t.id, "card"):
            # A card the outbox does not know (every known card was edited when the ticket ended).
            state = (
                "owner_blocked"
                if t.close_reason == "owner_blocked"
                else "cancelled"
                if t.status == CANCELLED
                else "closed"
            )
            self.core.edit_cards(
                s, t, state, self.core.consultants.name_of(s, t.consultant_id), extra=card, only_extra=True
            )
        state = i18n.t(i18n.STAFF, STATUS_WORDS[t.status]) if t.status in STATUS_WORDS else t.status
        return Outcome(toast=i18n.t(i18n.STAFF, "consultant.stale", id=t.id, state=state), alert=True, ticket_id=t.id)

    def close(
        self,
        consultant_id: int,
        ticket_id: int | None = None,
        reply_to: int | None = None,
        message: tuple[int, int] | None = None,
    ) -> Outcome:
        with self.core.session.begin() as s:
            t, mine = self.core.pick(s, consultant_id, ticket_id, reply_to)
            if t is None:
                self.core.choose(s, consultant_id, mine, "consultant.choose_close", "close", message)
                return Outcome(toast=i18n.t(i18n.STAFF, "consultant.stale_choice") if message else "")
            if not self.core.move(s, t, (CLAIMED,), consultant_id, **self.core.ending(CLOSED, "consultant")):
                return Outcome(toast=i18n.t(i18n.STAFF, "consultant.stale_choice"))
            audit(s, consultant_id, "close", t.id)
            name = self.core.consultants.name_of(s, consultant_id)
            self.core.edit_cards(s, t, "closed", name)
            ack = i18n.t(i18n.STAFF, "consultant.closed_ack", id=t.id)
            # What the consultant wrote can become a model answer (bot/answers/curation.py).
            save = [[[i18n.t(i18n.STAFF, "curation.save_button"), callbacks.encode("answer_save", t.id)]]]
            if message:
                outbox.add(
                    s,
                    message[0],
                    "consultant",
                    "edit",
                    ack,
                    ticket_id=t.id,
                    method="edit",
                    edit_message_id=message[1],
                    buttons=save,
                )
            else:
                outbox.add(s, consultant_id, "consultant", "notice", ack, ticket_id=t.id, buttons=save)
            self.core.tell_owner(
                s, t, "handoff.closed", self.core.rating_buttons(t), purpose="rating", name=cards.e(name)
            )
            return Outcome(toast=ack, ticket_id=t.id)

    # -- service level ---------------------------------------------------------
    def due(self) -> list[tuple[int, dt.datetime]]:
        """Open tickets and when each is to be announced again (to schedule jobs at start)."""
        with self.core.session() as s:
            rows = s.execute(
                select(Ticket.id, Ticket.next_announce_at).where(
                    Ticket.status == OPEN, Ticket.next_announce_at.is_not(None)
                )
            ).all()
            return [(r[0], utc(r[1])) for r in rows]

    def reannounce(self, ticket_id: int, at: dt.datetime | None = None) -> dt.datetime | None:
        """Announce an unclaimed ticket again and, the first time, tell the owner; returns the next time."""
        at = at or now()
        with self.core.session.begin() as s:
            t = s.get(Ticket, ticket_id)
            if t is None or t.status != OPEN or t.next_announce_at is None:
                return None
            due = utc(t.next_announce_at)
            if due > at:
                return due
            count, warned = t.announcements, t.owner_warned
            nxt = self.core.next_announcement(at, count + 1)
            if not self.core.hours.is_open(at):
                s.execute(
                    update(Ticket).where(Ticket.id == t.id).values(next_announce_at=self.core.hours.next_open(at))
                )
                return self.core.hours.next_open(at)
            got = s.execute(
                update(Ticket)
                .where(Ticket.id == t.id, Ticket.status == OPEN, Ticket.announcements == count)
                .values(announcements=count + 1, next_announce_at=nxt, owner_warned=True)
            ).rowcount
            if not got:  # another job or replica did it
                return None
            waited = self.core.waited_minutes(t, at)
            header = i18n.t(i18n.STAFF, "consultant.reannounce_header", id=t.id, minutes=waited)
            self.core.post_card(s, t, header)
            if not warned:
                self.core.tell_owner(
                    s, t, "handoff.waiting_long", self.core.cancel_button(t), eta=self.core.eta(t.language, at)
                )
            return nxt

    def queue(self, viewer_id: int) -> tuple[str, list]:
        """Open tickets (oldest first) and the viewer's own: HTML text and claim buttons."""
        at = now()
        with self.core.session() as s:
            open_ = list(s.scalars(select(Ticket).where(Ticket.status == OPEN).order_by(Ticket.opened_at).limit(20)))
            mine = self.core.claimed_by(s, viewer_id)
        lines = [i18n.t(i18n.STAFF, "consultant.queue_head", n=len(open_))]
        for t in open_:
            lines.append(
                i18n.t(
                    i18n.STAFF,
                    "consultant.queue_item",
                    id=t.id,
                    topic=cards.e(cards.topic_label(t.topic)),
                    owner=cards.e(t.user_name or str(t.user_id)),
                    minutes=self.core.waited_minutes(t, at),
                )
            )
        if mine:
            held = ", ".join(f"#{t.id} {cards.e(t.user_name or str(t.user_id))}" for t in mine)
            lines.append("\n" + i18n.t(i18n.STAFF, "consultant.queue_mine", tickets=held))
        # "hq", not "hc": claiming from this list must not turn the list message into a card.
        claim = i18n.t(i18n.STAFF, "consultant.claim_button")
        buttons = [[[f"{claim} #{t.id}", callbacks.encode("claim_listed", t.id)]] for t in open_[:10]]
        return "\n".join(lines), buttons
