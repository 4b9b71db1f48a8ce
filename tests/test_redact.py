"""Drafted model answers keep no personal data from the conversation they came from."""

import pytest

from bot.answers.redact import redact
from indexer.textnorm import fold

CONVERSATIONS = [
    (
        (
            "Chào anh, em là Nguyễn Thị Lan ở Công ty TNHH Lúa Vàng, MST 0312345678, sđt 0912 345 678, "
            "email lan@luavang.vn. Hợp đồng chuyển giao công nghệ với đối tác trong nước có phải đăng ký không?"
        ),
        ["Nguyễn Thị Lan"],
        ["Nguyễn", "Lan", "Lúa Vàng", "0312345678", "0912", "345 678", "lan@luavang.vn"],
        "Hợp đồng chuyển giao công nghệ với đối tác trong nước có phải đăng ký không?",
    ),
    (
        "Cty CP Hùng Phát ở số 12 đường Lê Lợi, phường 3, Hà Nam muốn đăng ký nhãn hiệu thì mất bao lâu?",
        ["Hùng"],
        ["Hùng Phát", "12", "Lê Lợi", "phường 3"],
        "muốn đăng ký nhãn hiệu thì mất bao lâu?",
    ),
    (
        "toi ten la hung, cty hung phat, dt +84 912345678, ma so thue 0101234567-001 hoi ve dang ky sang che",
        ["Hùng"],
        ["hung", "912345678", "0101234567"],
        "hoi ve dang ky sang che",
    ),
    (
        "Chị Minh ơi, cho em hỏi phí gia hạn nhãn hiệu? Liên hệ em qua minh.tran@gmail.com hoặc 024 3823 4567",
        [],
        ["Minh", "minh.tran@gmail.com", "3823"],
        "cho em hỏi phí gia hạn nhãn hiệu?",
    ),
]


@pytest.mark.parametrize(("text", "known", "personal", "kept"), CONVERSATIONS)
def test_personal_details_are_removed_and_the_question_kept(text, known, personal, kept):
    cleaned = redact(text, known)
    for detail in personal:
        assert fold(detail) not in fold(cleaned), (detail, cleaned)
    assert kept in cleaned


def test_a_question_without_personal_details_is_unchanged():
    question = "Hợp đồng ký tháng 3/2026 giữa hai bên trong nước, giá trị 500 triệu, có cần đăng ký ở Sở KH&CN không?"
    assert redact(question) == question
    assert (
        redact("Nhãn hiệu được bảo hộ bao lâu? Gia hạn thế nào?") == "Nhãn hiệu được bảo hộ bao lâu? Gia hạn thế nào?"
    )
