"""From a consultant's closed conversation (or an admin's reply to a knowledge gap) to a model answer.

The steps, each a state of `CuratedAnswer.status`: the consultant saves a closed ticket as a draft (the
owner's question made general, the consultant's messages as the answer, personal details removed), edits
either part by replying, and submits it (pending); an admin approves (approved: it answers owners at once),
edits, or discards it. Free of Telegram types: the front end passes ids and text, and gets records back.

Who may do what is checked here, inside the transaction, because button data comes from the network: only
the consultant who held the ticket drafts from it and edits or submits that draft; only admins decide.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, Integer, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from bot.answers.models import APPROVED, DISCARDED, DRAFT, PENDING, CuratedAnswer, now
from bot.answers.redact import redact
from bot.answers.service import MAX_ANSWER_CHARS, MAX_QUESTION_CHARS, AnswerError, AnswerRecord, AnswerService
from bot.handoff.models import CLOSED, Ticket, TicketMessage
from bot.storage import FORGET_HOOKS, Base, Message

FIELDS = ("q", "a")  # which part a reply replaces: the question or the answer
EDIT_TIMEOUT = dt.timedelta(hours=2)  # an edit nobody finished no longer takes the person's next message


class AnswerEdit(Base):
    """Who is editing which part of which answer: their next private message is the new text."""

    __tablename__ = "curated_answer_edits"
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    answer_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(1))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=now)


def _forget(s, user_id: int) -> None:
    s.execute(delete(AnswerEdit).where(AnswerEdit.user_id == user_id))


if _forget not in FORGET_HOOKS:
    FORGET_HOOKS.append(_forget)


class NotAllowed(AnswerError):
    """The person may not do this to this answer (not their draft, not an admin)."""


class Curation:
    def __init__(self, store, answers: AnswerService, admin_ids) -> None:
        self.session = store.session
        self.answers = answers
        self.admin_ids = frozenset(admin_ids)

    # -- the consultant ------------------------------------------------------------------------------
    def draft_from_ticket(self, ticket_id: int, consultant_id: int, consultant_name: str = "") -> AnswerRecord:
        """A draft from a closed ticket the consultant held; pressing twice returns the same draft."""
        with self.session() as s:
            t = s.get(Ticket, ticket_id)
            if t is None or t.consultant_id != consultant_id or t.status != CLOSED:
                raise NotAllowed(f"ticket {ticket_id} is not a closed ticket of yours")
            existing = s.scalars(
                select(CuratedAnswer).where(CuratedAnswer.ticket_id == ticket_id, CuratedAnswer.origin == "consultant")
            ).first()
            if existing is not None:
                return self.answers.get(existing.id)
            lines = list(
                s.scalars(select(TicketMessage).where(TicketMessage.ticket_id == ticket_id).order_by(TicketMessage.id))
            )
            known = [t.user_name, consultant_name, *[part.strip() for part in (t.intake or "").split(",")]]
            question, answer = _question_and_answer(lines)
            owner_id, topic = t.user_id, t.topic
        if not answer:
            raise AnswerError("the conversation has no message of the consultant to save")
        return self.answers.propose(
            _clip(redact(question, known), MAX_QUESTION_CHARS) or "?",
            _clip(redact(answer, known), MAX_ANSWER_CHARS),
            topic,
            origin="consultant",
            ticket_id=ticket_id,
            proposed_by=consultant_id,
            proposed_by_name=consultant_name,
            owner_id=owner_id,
            owner_text=question,
            status=DRAFT,
        )

    def submit(self, answer_id: int, user_id: int) -> AnswerRecord:
        """The consultant sends their draft to the admins (pending)."""
        with self.session.begin() as s:
            row = self._row(s, answer_id)
            if row.status != DRAFT or row.proposed_by != user_id:
                raise NotAllowed(f"answer-{answer_id} is not a draft of yours")
            if not row.question.strip() or row.question.strip() == "?":
                raise AnswerError("the question is empty; edit it first")
            row.status = PENDING
            row.revision, row.updated_at = (row.revision or 0) + 1, now()
            s.execute(delete(AnswerEdit).where(AnswerEdit.answer_id == answer_id))
        return self.answers.get(answer_id)

    def drop_draft(self, answer_id: int, user_id: int) -> AnswerRecord:
        with self.session.begin() as s:
            row = self._row(s, answer_id)
            if row.status != DRAFT or row.proposed_by != user_id:
                raise NotAllowed(f"answer-{answer_id} is not a draft of yours")
            row.status = DISCARDED
            row.closed_by, row.closed_at = user_id, now()
            row.owner_id, row.owner_text = None, ""
            row.revision, row.updated_at = (row.revision or 0) + 1, now()
            s.execute(delete(AnswerEdit).where(AnswerEdit.answer_id == answer_id))
        return self.answers.get(answer_id)

    # -- editing by reply ----------------------------------------------------------------------------
    def start_edit(self, answer_id: int, user_id: int, field: str) -> AnswerRecord:
        """The person's next private message replaces the question (`q`) or the answer (`a`)."""
        if field not in FIELDS:
            raise AnswerError(f"unknown part {field!r}")
        record = self.answers.get(answer_id)
        if record is None or not self._may_edit(record, user_id):
            raise NotAllowed(f"answer-{answer_id} cannot be edited by {user_id}")
        with self.session.begin() as s:
            s.merge(AnswerEdit(user_id=user_id, answer_id=answer_id, field=field, started_at=now()))
        return record

    def editing(self, user_id: int) -> tuple[int, str] | None:
        with self.session() as s:
            edit = s.get(AnswerEdit, user_id)
            if edit is None:
                return None
            started = edit.started_at if edit.started_at.tzinfo else edit.started_at.replace(tzinfo=dt.UTC)
            if started < now() - EDIT_TIMEOUT:
                return None
            return edit.answer_id, edit.field

    def apply_edit(self, user_id: int, text: str) -> AnswerRecord | None:
        """The message of someone editing; None when they are not (the message is for something else)."""
        current = self.editing(user_id)
        if current is None:
            return None
        answer_id, field = current
        with self.session.begin() as s:
            s.execute(delete(AnswerEdit).where(AnswerEdit.user_id == user_id))
        record = self.answers.get(answer_id)
        if record is None or not self._may_edit(record, user_id):
            raise NotAllowed(f"answer-{answer_id} can no longer be edited")
        if record.status == DRAFT:
            with self.session.begin() as s:  # AnswerService edits pending and approved answers only
                row = self._row(s, answer_id)
                if field == "q":
                    row.question = _checked(text, MAX_QUESTION_CHARS, "question")
                else:
                    row.answer = _checked(text, MAX_ANSWER_CHARS, "answer")
                row.revision, row.updated_at = (row.revision or 0) + 1, now()
            return self.answers.get(answer_id)
        if field == "q":
            return self.answers.edit(answer_id, question=text)
        return self.answers.edit(answer_id, answer=text)

    def cancel_edit(self, user_id: int) -> bool:
        with self.session.begin() as s:
            return bool(s.execute(delete(AnswerEdit).where(AnswerEdit.user_id == user_id)).rowcount)

    # -- admins ----------------------------------------------------------------------------------------
    def approve(self, answer_id: int, admin_id: int, admin_name: str = "") -> AnswerRecord:
        self._admin(admin_id)
        record = self.answers.get(answer_id)
        if record is not None and record.status == DRAFT and record.proposed_by == admin_id:
            if record.answer.strip() in ("", "…"):
                raise AnswerError("the answer is empty; send it first")
            self.submit(answer_id, admin_id)  # an admin's own draft (a reply to a gap) needs no second person
        return self.answers.approve(answer_id, admin_id, admin_name)

    def discard(self, answer_id: int, admin_id: int) -> AnswerRecord:
        self._admin(admin_id)
        return self.answers.discard(answer_id, admin_id)

    def retire(self, answer_id: int, admin_id: int) -> AnswerRecord:
        self._admin(admin_id)
        return self.answers.retire(answer_id, admin_id)

    def gap_question(self, message_id: int, admin_id: int) -> str:
        """The general form of an unanswered owner question (a `messages` row), for an admin's answer."""
        self._admin(admin_id)
        with self.session() as s:
            row = s.get(Message, message_id)
            if row is None or row.role != "user":
                raise AnswerError(f"question {message_id} is gone")
            return _clip(redact(row.text), MAX_QUESTION_CHARS)

    def draft_from_gap(self, message_id: int, admin_id: int, admin_name: str = "") -> AnswerRecord:
        """An admin answers a knowledge gap: a draft with the general question; their next message is the answer."""
        question = self.gap_question(message_id, admin_id)
        with self.session() as s:
            reply = s.scalars(
                select(Message)
                .where(Message.id > message_id, Message.role == "assistant")
                .order_by(Message.id)
                .limit(1)
            ).first()
            topic = str((reply.meta or {}).get("topic") or "other") if reply is not None else "other"
        record = self.answers.propose(
            question or "?",
            "…",
            topic,
            origin="gap",
            proposed_by=admin_id,
            proposed_by_name=admin_name,
            status=DRAFT,
        )
        self.start_edit(record.id, admin_id, "a")
        return record

    def answer_gap(self, question: str, answer: str, topic: str, admin_id: int, admin_name: str = "") -> AnswerRecord:
        """An admin's own answer to a knowledge gap: approved at once."""
        self._admin(admin_id)
        return self.answers.add(
            question, answer, topic, approved_by=admin_id, approved_by_name=admin_name, origin="gap"
        )

    def summary(self) -> tuple[int, int, list[AnswerRecord]]:
        """For /kb: approved answers in use, proposals waiting, and approved ones past their review date."""
        approved = self.answers.list(APPROVED)
        stale = [r for r in approved if r.stale()]
        return len(approved) - len(stale), len(self.answers.list(PENDING)), stale

    def pending(self) -> list[AnswerRecord]:
        return self.answers.list(PENDING)

    def recent(self, limit: int = 10) -> list[AnswerRecord]:
        return self.answers.list(APPROVED, limit=limit)

    # -- helpers -----------------------------------------------------------------------------------------
    def _admin(self, user_id: int) -> None:
        if user_id not in self.admin_ids:
            raise NotAllowed("only admins decide on model answers")

    def _may_edit(self, record: AnswerRecord, user_id: int) -> bool:
        if record.status == DRAFT:
            return record.proposed_by == user_id
        return record.status in (PENDING, APPROVED) and user_id in self.admin_ids

    @staticmethod
    def _row(s, answer_id: int) -> CuratedAnswer:
        row = s.get(CuratedAnswer, answer_id)
        if row is None:
            raise AnswerError(f"answer-{answer_id} does not exist")
        return row


def _question_and_answer(lines: list[TicketMessage]) -> tuple[str, str]:
    """The owner's question the consultant answered (the last one before the consultant's first reply, else the
    last one), and the consultant's text messages in order."""
    first_reply = next((n for n, m in enumerate(lines) if m.role == "consultant" and m.text.strip()), len(lines))
    asked = [
        m.text
        for m in lines[:first_reply]
        if m.role == "user" and m.text.strip() and not m.media and not (m.meta or {}).get("intake")
    ]
    if not asked:
        asked = [m.text for m in lines if m.role == "user" and m.text.strip() and not (m.meta or {}).get("intake")]
    answer = "\n".join(m.text.strip() for m in lines if m.role == "consultant" and m.text.strip())
    return (asked[-1].strip() if asked else ""), answer


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _checked(text: str, limit: int, what: str) -> str:
    from indexer.textnorm import nfc

    value = nfc(text or "").strip()
    if not value:
        raise AnswerError(f"the {what} is empty")
    if len(value) > limit:
        raise AnswerError(f"the {what} is longer than {limit} characters")
    return value
