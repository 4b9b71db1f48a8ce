"""The LLM faithfulness guard's edge cases, and sentence splitting around abbreviations and legal numbers."""

import pytest

from bot.answering.llm import GuardError, check_faithful
from bot.answering.sentences import split_sentences
from bot.answering.types import Source


def _src(text, legal_basis="Luật Sở hữu trí tuệ 2005 (sửa đổi 07/2022/QH15), Điều 93"):
    return [Source("ip-term", "Thời hạn bảo hộ", "Nhãn hiệu", "ip/term.md", 1.0, legal_basis=legal_basis, text=text)]


SOURCES = _src("Nhãn hiệu được bảo hộ 10 năm kể từ ngày nộp đơn; phí thẩm định 550.000 đồng; hỗ trợ 50% chi phí.")


@pytest.mark.parametrize(
    "answer",
    [
        "Nhãn hiệu được bảo hộ 10 năm [1].",
        "Nhan hieu duoc bao ho 10 nam [1].",  # typed without diacritics: the same quantity
        "Theo Luật 07/2022/QH15, nhãn hiệu được bảo hộ 10 năm [1].",  # legal numbers are in the legal basis
        "Phí thẩm định là 550.000 đồng [1].",
        "Doanh nghiệp được hỗ trợ 50% chi phí [1].",
    ],
)
def test_a_faithful_answer_passes(answer):
    check_faithful(answer, SOURCES)


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("Nhãn hiệu được bảo hộ 20 năm [1].", "number"),  # a number the sources do not hold
        ("Nhãn hiệu được bảo hộ 10 tháng [1].", "10"),  # the right number with the wrong unit
        ("Phí thẩm định là 600.000 đồng [1].", "number"),
        ("Nhãn hiệu được bảo hộ 10 năm.", "citation"),  # no citation
        ("Nhãn hiệu được bảo hộ 10 năm [2].", "citation"),  # a citation to a source that does not exist
        ("Theo Nghị định 99/2013/NĐ-CP, nhãn hiệu được bảo hộ 10 năm [1].", "legal instrument"),  # an invented decree
    ],
)
def test_an_unfaithful_answer_is_refused(answer, why):
    with pytest.raises(GuardError, match=why):
        check_faithful(answer, SOURCES)


def test_citation_markers_are_not_numbers():
    check_faithful("Nhãn hiệu được bảo hộ 10 năm [1][1].", SOURCES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Trụ sở đặt tại TP. Hồ Chí Minh. Hồ sơ nộp trực tuyến.",
            ["Trụ sở đặt tại TP. Hồ Chí Minh.", "Hồ sơ nộp trực tuyến."],
        ),
        (
            "Mức hỗ trợ theo Nghị định 80/2021/NĐ-CP. Doanh nghiệp nhỏ được ưu tiên.",
            ["Mức hỗ trợ theo Nghị định 80/2021/NĐ-CP.", "Doanh nghiệp nhỏ được ưu tiên."],
        ),
        ("PGS. TS. Nguyễn Lan phụ trách. Liên hệ Trung tâm.", ["PGS. TS. Nguyễn Lan phụ trách.", "Liên hệ Trung tâm."]),
        ("Gồm tài liệu, bản vẽ v.v. Tất cả nộp một lần.", ["Gồm tài liệu, bản vẽ v.v. Tất cả nộp một lần."]),
        ("Thời hạn 10 năm. 20 năm với sáng chế.", ["Thời hạn 10 năm.", "20 năm với sáng chế."]),
    ],
)
def test_sentences_split_at_sentence_ends_only(text, expected):
    assert split_sentences(text) == expected


def test_a_yes_or_no_of_its_own_passage_answers_only_a_yes_no_question_and_only_first():
    from bot.answering.extractive import Unit, compose

    faq = Unit("Không. Thư viện số của Cục cho tra cứu miễn phí.", 1, 0, 0)
    rule = Unit("Có. Lệ phí nộp đơn là 150.000 đồng cho mỗi nhóm.", 0, 0, 0)
    numbering = {0: 1, 1: 2}
    # Asked "phí bao nhiêu": neither "Có." nor "Không." answers it.
    assert compose([rule, faq], numbering) == (
        "Lệ phí nộp đơn là 150.000 đồng cho mỗi nhóm [1]. Thư viện số của Cục cho tra cứu miễn phí [2]."
    )
    # Asked yes or no: the first sentence's own answer stands; a later one answered another question.
    assert compose([rule, faq], numbering, polar_lead=True).startswith("Có. Lệ phí")
    assert "Không." not in compose([rule, faq], numbering, polar_lead=True)
    # "Không bắt buộc …" is a statement, not a detached answer.
    statement = Unit("Không bắt buộc, trừ khi dùng vốn nhà nước.", 0, 0, 0)
    assert compose([statement], numbering) == "Không bắt buộc, trừ khi dùng vốn nhà nước [1]."
