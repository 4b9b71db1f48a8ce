"""The two-way relay between an owner and the consultant who holds their ticket."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot import callbacks, i18n
from bot.handoff import cards, outbox
from bot.handoff.core import Core, Incoming, Outcome
from bot.handoff.models import CLAIMED, OPEN, Ticket, TicketMessage
from bot.textlen import visible_len

CAPTION_LIMIT = 1024  # UTF-16 code units of visible text, as Telegram counts them
CAPTIONED = {"photo", "document", "video", "audio", "voice", "animation"}


class Relay:
    """Messages between an owner and the consultant holding the ticket, over the shared `Core`."""

    def __init__(self, core: Core) -> None:
        self.core = core

    def relay_owner(self, msg: Incoming) -> Outcome:
        """An owner's message while a consultant holds the ticket goes to that consultant, and nowhere else."""
        try:
            with self.core.session.begin() as s:
                t = self.core.active_ticket(s, msg.user_id)
                if t is None or t.status != CLAIMED:
                    return Outcome(handled=False)
                self._record(s, t.id, "user", msg)
                self._relay(s, t, msg, t.consultant_id, "consultant", self.core.owner_label(t))
                return Outcome(ticket_id=t.id)
        except IntegrityError:  # this Telegram message was already taken (an update delivered twice)
            return Outcome()

    def relay_owner_text(self, user_id: int, text: str) -> Outcome:
        """A question the owner picked from a button (no message of theirs) while a consultant holds the ticket:
        it goes to the consultant; `handled=False` when no consultant holds a ticket of theirs."""
        with self.core.session.begin() as s:
            t = self.core.active_ticket(s, user_id)
            if t is None or t.status != CLAIMED:
                return Outcome(handled=False)
            s.add(TicketMessage(ticket_id=t.id, role="user", author_id=user_id, text=text, relayed=True))
            outbox.add(
                s,
                t.consultant_id,
                "consultant",
                "relay",
                f"{self.core.owner_label(t)}\n{cards.e(text)}",
                ticket_id=t.id,
            )
            return Outcome(ticket_id=t.id)

    def attach(self, msg: Incoming) -> Outcome:
        """A file sent while the ticket waits is kept for the consultant who takes it."""
        try:
            with self.core.session.begin() as s:
                t = self.core.active_ticket(s, msg.user_id)
                if t is None or t.status != OPEN:
                    return Outcome(handled=False)
                line = self._record(s, t.id, "user", msg)
                line.relayed = False
                self.core.tell_owner(s, t, "handoff.attached")
                return Outcome(ticket_id=t.id)
        except IntegrityError:
            return Outcome()

    def relay_consultant(self, msg: Incoming) -> Outcome:
        """A consultant's message goes to the owner of the ticket it replies to, or of their only ticket;
        with several tickets and no reply, the bot asks which."""
        try:
            with self.core.session.begin() as s:
                t, mine = self.core.pick(s, msg.user_id, None, msg.reply_to)
                if not mine:
                    return Outcome(handled=False)
                line = self._record(s, t.id if t else None, "consultant", msg)
                if t is not None:
                    self._relay(s, t, msg, t.user_id, "owner", self._consultant_label(s, t))
                    return Outcome(ticket_id=t.id)
                buttons = [
                    [[f"#{x.id} {x.user_name or x.user_id}"[:40], callbacks.encode("relay_choice", line.id, x.id)]]
                    for x in mine
                ]
                outbox.add(
                    s,
                    msg.user_id,
                    "consultant",
                    "notice",
                    i18n.t(i18n.STAFF, "consultant.choose", n=len(mine)),
                    buttons=buttons,
                )
                return Outcome()
        except IntegrityError:
            return Outcome()

    def choose_relay(
        self, consultant_id: int, line_id: int, ticket_id: int, message: tuple[int, int] | None = None
    ) -> Outcome:
        """The consultant picked the ticket for a message that waited for "which one?"."""
        stale = Outcome(toast=i18n.t(i18n.STAFF, "consultant.stale_choice"), alert=True)
        with self.core.session.begin() as s:
            t = s.get(Ticket, ticket_id)
            if t is None or t.status != CLAIMED or t.consultant_id != consultant_id:
                return stale
            got = s.execute(
                update(TicketMessage)
                .where(
                    TicketMessage.id == line_id,
                    TicketMessage.author_id == consultant_id,
                    TicketMessage.ticket_id.is_(None),
                )
                .values(ticket_id=t.id)
            ).rowcount
            line = s.get(TicketMessage, line_id)
            if not got or line is None:
                return stale
            msg = Incoming(
                line.source_chat_id or consultant_id,
                line.source_message_id or 0,
                consultant_id,
                "",
                line.text,
                line.media,
                (line.meta or {}).get("file_name", ""),
            )
            self._relay(s, t, msg, t.user_id, "owner", self._consultant_label(s, t))
            done = i18n.t(i18n.STAFF, "consultant.relayed", id=t.id)
            if message:
                outbox.add(
                    s, message[0], "consultant", "edit", done, ticket_id=t.id, method="edit", edit_message_id=message[1]
                )
            return Outcome(toast=done, ticket_id=t.id)

    def relay_edit(self, msg: Incoming, edit_date: int = 0) -> Outcome:
        """A message its sender edited: during a relay the corrected text goes to the other side as a correction
        (through the outbox, retried like any relayed message); an edit that cannot be passed on (a caption, a
        file) is refused with a word to its sender. `handled=False` when no relay takes it: the bot reads it.

        Relayed copies of texts are not mapped to the messages they came from, so the correction is a new
        message with a prefix, not a reply. `edit_date` tells a second delivery of the same edit from a new edit.
        """
        if not msg.media and msg.text.lstrip().startswith("/"):
            return Outcome(handled=False)  # an edited command is never relayed
        with self.core.session.begin() as s:
            original = s.scalar(
                select(TicketMessage).where(
                    TicketMessage.source_chat_id == msg.chat_id, TicketMessage.source_message_id == msg.message_id
                )
            )
            t = self.core.active_ticket(s, msg.user_id)
            if t is not None and t.status == CLAIMED and (original is None or original.role == "user"):
                if msg.media:
                    self.core.tell_owner(s, t, "handoff.edit_not_relayed")
                elif self._new_edit(s, t.id, "user", msg, edit_date):
                    prefix = i18n.t(i18n.STAFF, "consultant.edit_prefix")
                    text = f"{self.core.owner_label(t)}\n{prefix} {cards.e(msg.text)}"
                    outbox.add(s, t.consultant_id, "consultant", "relay", text, ticket_id=t.id)
                return Outcome(ticket_id=t.id)
            if original is None:
                return Outcome(handled=False)
            if original.role == "consultant":
                return self._consultant_edit(s, original, msg, edit_date)
            if t is not None and original.ticket_id == t.id:  # an intake answer, a file kept while waiting
                self.core.tell_owner(s, t, "handoff.edit_not_read")
                return Outcome(ticket_id=t.id)
            return Outcome(handled=False)  # it went with a ticket that has ended: the bot answers the edit

    def _consultant_edit(self, s, original: TicketMessage, msg: Incoming, edit_date: int) -> Outcome:
        if original.ticket_id is None and not msg.media:  # still waiting for "which ticket?": it goes corrected
            original.text = msg.text
            return Outcome()
        t = s.get(Ticket, original.ticket_id) if original.ticket_id is not None else None
        if t is None or t.status != CLAIMED or t.consultant_id != msg.user_id or msg.media:
            outbox.add(s, msg.user_id, "consultant", "notice", i18n.t(i18n.STAFF, "consultant.edit_not_relayed"))
            return Outcome()
        if self._new_edit(s, t.id, "consultant", msg, edit_date):
            prefix = i18n.t(t.language, "handoff.edit_prefix")
            text = f"{self._consultant_label(s, t)}\n{prefix} {cards.e(msg.text)}"
            outbox.add(s, t.user_id, "owner", "relay", text, ticket_id=t.id)
        return Outcome(ticket_id=t.id)

    @staticmethod
    def _new_edit(s, ticket_id: int, role: str, msg: Incoming, edit_date: int) -> bool:
        """Record a correction in the transcript; False if this very edit was recorded already (redelivered)."""
        lines = s.scalars(
            select(TicketMessage)
            .where(
                TicketMessage.ticket_id == ticket_id,
                TicketMessage.author_id == msg.user_id,
                TicketMessage.source_message_id.is_(None),
            )
            .order_by(TicketMessage.id.desc())
            .limit(50)
        )
        mark = {"edit_of": msg.message_id, "edit_date": edit_date}
        if any({k: (line.meta or {}).get(k) for k in mark} == mark for line in lines):
            return False
        s.add(
            TicketMessage(ticket_id=ticket_id, role=role, author_id=msg.user_id, text=msg.text, relayed=True, meta=mark)
        )
        return True

    # -- helpers ---------------------------------------------------------------
    @staticmethod
    def _record(s, ticket_id: int | None, role: str, msg: Incoming) -> TicketMessage:
        """The transcript line; the unique (chat, message) key makes a second delivery fail here."""
        line = TicketMessage(
            ticket_id=ticket_id,
            role=role,
            author_id=msg.user_id,
            text=msg.text,
            media=msg.media,
            meta={"file_name": msg.file_name} if msg.file_name else {},
            relayed=True,
            source_chat_id=msg.chat_id,
            source_message_id=msg.message_id,
        )
        s.add(line)
        s.flush()
        return line

    def _consultant_label(self, s, t: Ticket) -> str:
        return i18n.t(t.language, "handoff.consultant", name=cards.e(self.core.consultants.name_of(s, t.consultant_id)))

    @staticmethod
    def _relay(s, t: Ticket, msg: Incoming, to: int, role: str, label: str) -> None:
        if msg.media and msg.media not in CAPTIONED:  # stickers, locations...: the label goes first
            outbox.add(s, to, role, "relay", label, ticket_id=t.id)
            outbox.add(s, to, role, "relay", "", ticket_id=t.id, method="copy", copy_from=(msg.chat_id, msg.message_id))
        elif msg.media:
            fits = visible_len(label) + 1 + visible_len(msg.text) <= CAPTION_LIMIT
            caption = label + ("\n" + cards.e(msg.text) if msg.text and fits else "")
            outbox.add(
                s, to, role, "relay", caption, ticket_id=t.id, method="copy", copy_from=(msg.chat_id, msg.message_id)
            )
            if msg.text and not fits:  # Telegram would cut a long caption: the whole text follows as a message
                outbox.add(s, to, role, "relay", f"{label}\n{cards.e(msg.text)}", ticket_id=t.id)
        else:
            outbox.add(s, to, role, "relay", f"{label}\n{cards.e(msg.text)}", ticket_id=t.id)
