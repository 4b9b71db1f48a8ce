"""The guided form: the state machine on its own, then through NeedsService on a real SQLite file — resumed by a
new Services on the same database, every answer stored as given, /huy, edits, the ticket and /forget."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from bot.app import build_services
from bot.config import Settings
from bot.handoff.models import Outbox, Ticket
from bot.needs import form
from bot.needs.models import NeedsAnswer, NeedsNote, NeedsProfile
from bot.needs.profile import Profile

OWNER, OTHER, ADMIN, CONSULTANT = 1001, 1002, 9001, 2001
GROUP = -1001234567890
KEYS = itertools.count(1)


# -- the state machine alone --------------------------------------------------------------------
def test_steps_in_order_and_capital_only_when_needed():
    p = Profile()
    order = []
    step = form.STEPS[0]
    while step != form.REVIEW:
        order.append(step)
        step = form.after(step, p, editing=False, size_decided=True)
    assert "capital" not in order and order == [s for s in form.STEPS if s != "capital"]
    assert form.after("revenue", p, editing=False, size_decided=False) == "capital"
    assert form.after("capital", p, editing=False, size_decided=False) == "tech"
    assert form.after("employees", p, editing=True, size_decided=False) == "capital"
    assert form.after("capital", p, editing=True, size_decided=False) == form.REVIEW
    assert form.after("urgency", p, editing=True, size_decided=True) == form.REVIEW


@pytest.mark.parametrize(
    ("step", "kind", "raw", "changes"),
    [
        ("company", "text", "  Công ty   Lúa Vàng ", {"company": "Công ty Lúa Vàng"}),
        ("province", "button", "0", {"province": "Hà Nội"}),
        ("province", "text", "tinh nam dinh", {"province": "Ninh Bình"}),
        ("sector", "text", "c", {"sector": "C"}),
        ("employees", "text", "khoảng 25 người", {"employees": 25.0, "employees_range": ""}),
        ("employees", "button", "51-100", {"employees": None, "employees_range": "51-100"}),
        ("employees", "button", form.UNKNOWN, {"employees": None, "employees_range": ""}),
        ("revenue", "text", "800 triệu", {"revenue_billion_vnd": 0.8, "revenue_range": ""}),
        ("capital", "text", "1,5 tỷ", {"capital_billion_vnd": 1.5, "capital_range": ""}),
        ("description", "button", form.SKIP, {"status": ""}),
        ("urgency", "button", "now", {"urgency": "now"}),
        ("contact", "button", form.TELEGRAM, {"contact": ""}),
        ("contact", "text", "0912 345 678", {"contact": "0912 345 678"}),
        ("consent", "button", "all", {"consent_contact": True, "consent_share": True}),
        ("consent", "button", "contact", {"consent_contact": True, "consent_share": False}),
        ("consent", "button", "none", {"consent_contact": False, "consent_share": False}),
    ],
)
def test_answers_accepted(step, kind, raw, changes):
    result = form.accept(step, kind, raw, Profile())
    assert (result.changes, result.done, result.error) == (changes, True, "")


@pytest.mark.parametrize(
    ("step", "kind", "raw", "error"),
    [
        ("company", "text", "x", "error_text"),
        ("province", "text", "Atlantis", "error_province"),
        ("province", "button", "99", "error_province"),
        ("sector", "text", "Z", "error_sector"),
        ("employees", "text", "nhiều lắm", "error_count"),
        ("revenue", "text", "không biết", "error_money"),
        ("urgency", "text", "gấp", "error_button"),
        ("tech", "text", "máy cũ", "error_checklist"),
        ("needs", "button", form.DONE, "error_needs"),
        ("consent", "button", "maybe", "error_button"),
    ],
)
def test_answers_refused(step, kind, raw, error):
    result = form.accept(step, kind, raw, Profile())
    assert (result.done, result.error) == (False, error)


def test_checklist_toggles_keep_the_order_of_ticking():
    p = Profile()
    for item in ("ip", "technology", "ip", "digital"):
        result = form.accept("needs", "button", f"t:{item}", p)
        assert not result.done
        p.needs = result.changes["needs"]
    assert p.needs == ["technology", "digital"]
    assert form.accept("needs", "button", form.DONE, p).done


# -- through the service, on the database --------------------------------------------------------
@pytest.fixture
def settings(tmp_path):
    return Settings(
        _env_file=None,
        data_dir=tmp_path,
        consultants_chat_id=GROUP,
        admin_ids=[ADMIN],
        working_hours="00:00-24:00",
        working_days="1-7",
    )


def text(svc, user, answer):
    return svc.needs.on_text(user, answer, f"m:{user}:{next(KEYS)}")


def press(svc, user, data, lang="vi"):
    return svc.needs.on_button(user, "Lan", data, lang, f"q:{next(KEYS)}")


def step_of(svc, user) -> str:
    with svc.store.session() as s:
        return s.scalar(select(NeedsProfile.step).where(NeedsProfile.user_id == user))


def pid_of(svc, user) -> int:
    with svc.store.session() as s:
        return s.scalar(select(NeedsProfile.id).where(NeedsProfile.user_id == user))


def fill_to_review(svc, user, pid):
    assert "nf:" in str(text(svc, user, "thai binh").buttons)  # province typed, with an old name
    press(svc, user, f"nf:{pid}:sector:C")
    text(svc, user, "25")
    screen = text(svc, user, "12 tỷ")  # decides the class: no capital question
    assert "Hiện trạng công nghệ" in screen.text and step_of(svc, user) == "tech"
    assert press(svc, user, f"nf:{pid}:tech:t:eq_old").edit
    press(svc, user, f"nf:{pid}:tech:{form.DONE}")
    press(svc, user, f"nf:{pid}:needs:t:technology")
    press(svc, user, f"nf:{pid}:needs:t:ip")
    press(svc, user, f"nf:{pid}:needs:{form.DONE}")
    text(svc, user, "Máy đóng gói cũ, muốn tự động hóa")
    press(svc, user, f"nf:{pid}:urgency:soon")
    text(svc, user, "0912 345 678")
    return press(svc, user, f"nf:{pid}:consent:all")


def test_the_form_resumes_after_a_restart_and_keeps_every_answer(settings):
    svc = build_services(settings)
    first = svc.needs.start(OWNER, "Lan", "vi")
    assert "Đăng ký nhu cầu công nghệ" in first.text and "Câu 1/12" in first.text
    pid = pid_of(svc, OWNER)
    assert "Câu 2/12" in text(svc, OWNER, "Công ty TNHH Lúa Vàng").text
    svc.close()

    svc = build_services(settings)  # a restart: a new process on the same database
    assert svc.needs.is_active(OWNER)
    review = fill_to_review(svc, OWNER, pid)
    assert "Kiểm tra hồ sơ" in review.text and "Hưng Yên" in review.text and "12 tỷ đồng" in review.text
    svc.close()

    svc = build_services(settings)  # and again before submitting
    assert "Tiếp tục" in svc.needs.start(OWNER, "Lan", "vi").text
    done = press(svc, OWNER, f"nd:{pid}:submit")
    assert f"#{pid}" in done.text and "doanh nghiệp nhỏ [1]" in done.text
    assert "[1] Nghị định 80/2021/NĐ-CP, Điều 5" in done.text
    assert "Hỗ trợ tư vấn chuyển giao công nghệ" in done.text and "cần kiểm tra" in done.text
    assert any("nd:" in data and data.endswith(":send") for row in done.buttons for _, data in row)
    assert not svc.needs.is_active(OWNER)
    assert svc.needs.on_text(OWNER, "câu hỏi cho bot", "m:x:1") is None  # the bot answers again
    with svc.store.session() as s:
        row = s.get(NeedsProfile, pid)
        answers = s.scalars(select(NeedsAnswer).where(NeedsAnswer.profile_id == pid).order_by(NeedsAnswer.id)).all()
    assert (row.status, row.size_class, row.topic, row.consent_at is not None) == (
        "new",
        "small",
        "tech_transfer",
        True,
    )
    assert [a.raw for a in answers if a.kind == "text"][:3] == ["Công ty TNHH Lúa Vàng", "thai binh", "25"]
    assert [a.raw for a in answers if a.step == "needs"] == ["t:technology", "t:ip", form.DONE]
    assert answers[1].value == {"province": "Hưng Yên"}


def test_a_redelivered_update_counts_once(settings):
    svc = build_services(settings)
    svc.needs.start(OWNER, "Lan", "vi")
    assert svc.needs.on_text(OWNER, "Công ty A", "m:1:77").text
    assert svc.needs.on_text(OWNER, "Công ty A", "m:1:77").text == ""  # the same message again: nothing moves
    assert step_of(svc, OWNER) == "province"


def test_stale_buttons_and_errors_reprompt(settings):
    svc = build_services(settings)
    svc.needs.start(OWNER, "Lan", "vi")
    pid = pid_of(svc, OWNER)
    assert press(svc, OWNER, f"nf:{pid}:sector:C").toast  # not the current step
    assert press(svc, OWNER, f"nf:{pid + 1}:company:x").toast  # someone else's profile
    text(svc, OWNER, "Công ty A")
    again = text(svc, OWNER, "Atlantis")
    assert "chưa nhận ra" in again.text and again.buttons and step_of(svc, OWNER) == "province"


def test_huy_leaves_and_nhucau_resumes(settings):
    svc = build_services(settings)
    svc.needs.start(OWNER, "Lan", "vi")
    text(svc, OWNER, "Công ty A")
    assert "Đã dừng" in svc.needs.leave(OWNER, "vi").text
    assert svc.needs.on_text(OWNER, "nhãn hiệu bảo hộ bao lâu", "m:1:5") is None
    assert "không đang điền" in svc.needs.leave(OWNER, "vi").text
    resumed = svc.needs.start(OWNER, "Lan", "vi")
    assert "Tiếp tục" in resumed.text and "tỉnh/thành" in resumed.text


def test_capital_is_asked_when_revenue_does_not_decide(settings):
    svc = build_services(settings)
    svc.needs.start(OWNER, "Lan", "vi")
    pid = pid_of(svc, OWNER)
    for answer in ("Công ty A", "Hà Nội"):
        text(svc, OWNER, answer)
    press(svc, OWNER, f"nf:{pid}:sector:A")
    press(svc, OWNER, f"nf:{pid}:employees:51-100")
    assert "Tổng nguồn vốn" in press(svc, OWNER, f"nf:{pid}:revenue:50-100").text
    press(svc, OWNER, f"nf:{pid}:capital:3-20")
    assert step_of(svc, OWNER) == "tech"


def test_a_submitted_profile_can_be_edited(settings):
    svc = build_services(settings)
    svc.needs.start(OWNER, "Lan", "vi")
    pid = pid_of(svc, OWNER)
    text(svc, OWNER, "Công ty A")
    fill_to_review(svc, OWNER, pid)
    press(svc, OWNER, f"nd:{pid}:submit")
    existing = svc.needs.start(OWNER, "Lan", "vi")
    assert "Công ty A" in existing.text and any(d == f"nd:{pid}:menu" for row in existing.buttons for _, d in row)
    menu = press(svc, OWNER, f"nd:{pid}:menu")
    assert any(d == f"nd:{pid}:edit:employees" for row in menu.buttons for _, d in row)
    press(svc, OWNER, f"nd:{pid}:edit:employees")
    assert svc.needs.is_active(OWNER)
    review = text(svc, OWNER, "150")  # now medium: back to the review, no other question
    assert "Kiểm tra hồ sơ" in review.text and "150 người" in review.text
    assert "doanh nghiệp vừa" in press(svc, OWNER, f"nd:{pid}:submit").text
    with svc.store.session() as s:
        assert s.get(NeedsProfile, pid).size_class == "medium"


def test_english_form(settings):
    svc = build_services(settings)
    first = svc.needs.start(OTHER, "Ann", "en")
    assert "Register your technology needs" in first.text
    assert "Which province" in text(svc, OTHER, "Green Farm Ltd").text


def test_send_to_consultants_puts_the_profile_on_the_card(settings):
    svc = build_services(settings)
    svc.handoff.consultants.add(CONSULTANT, "Minh", "tech_transfer", None)
    svc.needs.start(OWNER, "Lan", "vi")
    pid = pid_of(svc, OWNER)
    text(svc, OWNER, "Công ty TNHH Lúa Vàng")
    fill_to_review(svc, OWNER, pid)
    press(svc, OWNER, f"nd:{pid}:submit")
    screen = svc.needs.send_to_consultants(OWNER, "Lan", "q:send1")
    assert screen.outcome.ticket_id
    with svc.store.session() as s:
        ticket = s.get(Ticket, screen.outcome.ticket_id)
        card = s.scalar(select(Outbox.text).where(Outbox.chat_id == GROUP, Outbox.purpose == "card"))
        assert s.get(NeedsProfile, pid).ticket_id == ticket.id
    assert (ticket.status, ticket.topic, ticket.trigger) == ("open", "tech_transfer", "needs")  # no intake question
    assert f"Hồ sơ nhu cầu công nghệ #{pid}" in card and "Lúa Vàng" in card and "Hưng Yên" in card
    assert "Đổi mới công nghệ" in card and "0912 345 678" in card and "Minh" in card
    assert f"/needs_note {pid}" in card

    assert "Đã ghi chú" in svc.needs.add_note(pid, CONSULTANT, "Minh", "Đã gọi, hẹn khảo sát")
    assert "đã liên hệ" in svc.needs.add_note(pid, CONSULTANT, "Minh", "", "contacted")
    assert "Cú pháp: /needs_status" in svc.needs.add_note(pid, CONSULTANT, "Minh", "", "bogus")
    shown = svc.needs.show(pid)
    assert "Đã gọi, hẹn khảo sát" in shown and "đã liên hệ" in shown
    assert "Không có hồ sơ" in svc.needs.show(pid + 99)


def test_no_ticket_without_consent_to_share(settings):
    svc = build_services(settings)
    svc.needs.start(OWNER, "Lan", "vi")
    pid = pid_of(svc, OWNER)
    text(svc, OWNER, "Công ty A")
    fill_to_review(svc, OWNER, pid)
    press(svc, OWNER, f"nd:{pid}:edit:consent")
    press(svc, OWNER, f"nf:{pid}:consent:contact")
    done = press(svc, OWNER, f"nd:{pid}:submit")
    assert not any(d.endswith(":send") for row in done.buttons for _, d in row)
    refused = svc.needs.send_to_consultants(OWNER, "Lan", "q:x")
    assert refused.outcome is None and "chưa đồng ý chia sẻ" in refused.text
    with svc.store.session() as s:
        assert s.scalar(select(Ticket.id)) is None


def test_forget_deletes_the_profile(settings):
    svc = build_services(settings)
    svc.needs.start(OWNER, "Lan", "vi")
    svc.needs.start(OTHER, "Hùng", "vi")
    pid = pid_of(svc, OWNER)
    text(svc, OWNER, "Công ty A")
    svc.needs.add_note(pid, CONSULTANT, "Minh", "ghi chú")
    svc.store.forget(OWNER)
    with svc.store.session() as s:
        assert s.scalar(select(NeedsProfile.id).where(NeedsProfile.user_id == OWNER)) is None
        assert s.scalars(select(NeedsAnswer).where(NeedsAnswer.user_id == OWNER)).all() == []
        assert s.scalars(select(NeedsNote)).all() == []
        assert s.scalar(select(NeedsProfile.id).where(NeedsProfile.user_id == OTHER)) is not None
    assert "Câu 1/12" in svc.needs.start(OWNER, "Lan", "vi").text  # a fresh form
