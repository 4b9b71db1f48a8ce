"""Abbreviations owners type on phones are written out before the question is read (bot/answering/abbreviations)."""

import pytest

from bot.answering.abbreviations import expand


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        # Without diacritics the expansion has none either, so the whole question is still restored.
        ("dn sieu nho dk shtt dc ho tro ko", "doanh nghiep sieu nho dang ky so huu tri tue duoc ho tro khong"),
        ("hop dong cgcn voi cty nuoc ngoai", "hop dong chuyen giao cong nghe voi cong ty nuoc ngoai"),
        ("Bộ KH&CN hợp nhất với bộ nào", "Bộ khoa học và công nghệ hợp nhất với bộ nào"),
        ("DNNVV được hỗ trợ gì theo NĐ 80", "doanh nghiệp nhỏ và vừa được hỗ trợ gì theo nghị định 80"),
    ],
)
def test_abbreviations_are_written_out_in_the_questions_own_spelling(typed, read):
    assert expand(typed) == read


@pytest.mark.parametrize(
    "typed",
    [
        "Nghị định 80/2021/NĐ-CP",  # part of a decree's number
        "nộp trên dichvucong.gov.vn",  # part of an address
        "spa của tôi, dnnvvx, shtt2",  # inside longer words
        "hd và đk thì sao",  # more than one meaning: left as typed
    ],
)
def test_what_is_not_an_abbreviation_stays_as_typed(typed):
    assert expand(typed) == typed
