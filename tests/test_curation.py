"""Model answers from closed conversations: drafting without personal data, who may do what, edits by reply."""

from __future__ import annotations

import pytest

from bot.answers.curation import Curation, NotAllowed
from bot.answers.models import APPROVED, DISCARDED, DRAFT, PENDING
from bot.answers.service import AnswerError, AnswerService
from bot.handoff.core import Incoming
from tests.support.handoff_env import ADMIN, HA, MINH, OWNER, OWNER2, STRANGER, claim, converse, open_ticket

QUESTION = (
    "Em là Nguyễn Thị Lan, Công ty TNHH Lúa Vàng, sđt 0912345678: hợp đồng chuyển giao công nghệ có phải đăng ký không?"
)
REPLY = "Chị Lan ơi, hợp đồng giữa hai doanh nghiệp trong nước không bắt buộc đăng ký, trừ trường hợp luật quy định."


@pytest.fixture
def closed(env):
    """A ticket Minh answered and closed, and the curation service."""
    svc, store, tg = env
    ticket_id, _ = open_ticket(svc, store, tg, OWNER, name="Nguyễn Thị Lan", question=QUESTION)
    claim(svc, tg, ticket_id)
    svc.on_owner_message(Incoming(OWNER, 501, OWNER, "Nguyễn Thị Lan", QUESTION))
    svc.on_consultant_message(Incoming(MINH, 601, MINH, "Minh", REPLY))
    svc.close(MINH, ticket_id)
    tg.flush()
    curation = Curation(store, AnswerService(store), [ADMIN])
    return curation, ticket_id, store


def test_the_close_notice_offers_to_save(env):
    svc, store, tg = env
    ticket_id, _ = open_ticket(svc, store, tg, OWNER)
    claim(svc, tg, ticket_id)
    svc.close(MINH, ticket_id)
    ack = [r for r in tg.flush() if r.chat_id == MINH and f"#{ticket_id}" in r.text][-1]
    assert any("Lưu" in label and data == f"as:{ticket_id}" for row in ack.buttons for label, data in row)


def test_a_draft_keeps_no_personal_data(closed):
    curation, ticket_id, _ = closed
    draft = curation.draft_from_ticket(ticket_id, MINH, "Minh")
    assert draft.status == DRAFT and draft.ticket_id == ticket_id and draft.proposed_by == MINH
    for personal in ("Nguyễn", "Lan", "Lúa Vàng", "0912345678", "Minh"):
        assert personal not in draft.question and personal not in draft.answer, personal
    assert "chuyển giao công nghệ" in draft.question and "không bắt buộc" in draft.answer
    assert curation.draft_from_ticket(ticket_id, MINH, "Minh").id == draft.id  # a second press: the same draft


def test_only_the_ticket_consultant_drafts_and_only_admins_decide(closed):
    curation, ticket_id, _ = closed
    for who in (HA, STRANGER, OWNER):
        with pytest.raises(NotAllowed):
            curation.draft_from_ticket(ticket_id, who)
    draft = curation.draft_from_ticket(ticket_id, MINH, "Minh")
    with pytest.raises(NotAllowed):
        curation.submit(draft.id, HA)
    with pytest.raises(NotAllowed):
        curation.start_edit(draft.id, STRANGER, "a")
    submitted = curation.submit(draft.id, MINH)
    assert submitted.status == PENDING and [r.id for r in curation.pending()] == [draft.id]
    for who in (MINH, STRANGER, OWNER):
        with pytest.raises(NotAllowed):
            curation.approve(draft.id, who)
    approved = curation.approve(draft.id, ADMIN, "Quản trị")
    assert approved.status == APPROVED and approved.approved_by == ADMIN and approved.review_on is not None
    with pytest.raises(AnswerError):  # pressed again: already decided
        curation.approve(draft.id, ADMIN)


def test_editing_by_reply_replaces_the_part_chosen(closed):
    curation, ticket_id, _ = closed
    draft = curation.draft_from_ticket(ticket_id, MINH, "Minh")
    assert curation.apply_edit(MINH, "not an edit") is None  # nobody is editing: the message is for the bot
    curation.start_edit(draft.id, MINH, "q")
    edited = curation.apply_edit(MINH, "Hợp đồng chuyển giao công nghệ trong nước có phải đăng ký không?")
    assert edited.question == "Hợp đồng chuyển giao công nghệ trong nước có phải đăng ký không?"
    assert curation.editing(MINH) is None  # one message, then the edit is over
    curation.submit(draft.id, MINH)
    curation.start_edit(draft.id, ADMIN, "a")  # admins edit a proposal too
    assert curation.apply_edit(ADMIN, "Không bắt buộc đăng ký.").answer == "Không bắt buộc đăng ký."
    assert curation.discard(draft.id, ADMIN).status == DISCARDED


def test_forget_removes_the_owners_words_from_drafts(closed):
    curation, ticket_id, store = closed
    draft = curation.draft_from_ticket(ticket_id, MINH, "Minh")
    store.forget(OWNER)
    again = curation.answers.get(draft.id)
    assert again.question == "" and curation.answers.get(draft.id).status == DRAFT
    with pytest.raises(AnswerError):  # nothing left to send for approval until the question is written again
        curation.submit(draft.id, MINH)


def test_an_admin_answers_a_gap_and_it_is_approved_at_once(env):
    _, store, _ = env
    converse(store, OWNER2, "xuong det nhuom cua toi 0987654321 can giay phep xa thai gi", kind="abstain")
    from sqlalchemy import select

    from bot.storage import Message

    with store.session() as s:
        message_id = s.scalars(select(Message.id).where(Message.user_id == OWNER2, Message.role == "user")).first()
    curation = Curation(store, AnswerService(store), [ADMIN])
    with pytest.raises(NotAllowed):
        curation.draft_from_gap(message_id, MINH)
    draft = curation.draft_from_gap(message_id, ADMIN, "Quản trị")
    assert "0987654321" not in draft.question and curation.editing(ADMIN) == (draft.id, "a")
    with pytest.raises(AnswerError):  # no answer yet
        curation.approve(draft.id, ADMIN)
    curation.apply_edit(ADMIN, "Cần giấy phép môi trường.")
    assert curation.approve(draft.id, ADMIN).status == APPROVED
