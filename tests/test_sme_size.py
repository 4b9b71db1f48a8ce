"""SME size class per Decree 80/2021, Article 5: the boundary of every row."""

import pytest

from bot.answering import sme_size
from bot.answering.sme_size import TABLE, SizeFacts, classify, extract

NEXT = {"micro": "small", "small": "medium", "medium": None}


@pytest.mark.parametrize("sector", ["production", "trade"])
@pytest.mark.parametrize("row", range(3))
def test_boundaries(sector, row):
    size, emp, rev, cap = TABLE[sector][row]
    assert classify(SizeFacts(emp, rev, None, sector)).size == size  # revenue at the limit
    assert classify(SizeFacts(emp, None, cap, sector)).size == size  # capital at the limit
    assert classify(SizeFacts(emp, rev + 0.5, cap, sector)).size == size  # either test is enough
    over = classify(SizeFacts(emp, rev + 0.5, cap + 0.5, sector)).size  # both over: next class
    assert over == NEXT[size] or (NEXT[size] and over != size)
    assert classify(SizeFacts(emp + 1, rev, cap, sector)).size != size  # headcount is required


def test_not_an_sme():
    result = classify(SizeFacts(250, 500, 500, "production"))
    assert result.size is None and not result.missing


def test_missing_figures_are_asked_for():
    assert classify(SizeFacts(30, None, None, "trade")).missing == ["revenue_or_capital"]
    assert "employees" in classify(SizeFacts(None, 10, None, "trade")).missing
    # 40 trade employees with revenue over the small limit: capital could still make it small.
    assert classify(SizeFacts(40, 150, None, "trade")).missing == ["capital"]


def test_sector_not_needed_when_both_agree():
    assert classify(SizeFacts(8, None, 2, None)).size == "micro"


def test_extract_numbers_from_text():
    facts = extract("Xưởng may 150 lao động, doanh thu năm ngoái 120 tỷ, vốn 800 triệu")
    assert (facts.employees, facts.revenue, facts.capital, facts.sector) == (150, 120, 0.8, "production")
    facts = extract("trading company, 45 employees, revenue 90 billion")
    assert (facts.employees, facts.revenue, facts.sector) == (45, 90, "trade")


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("cty minh la dn nho hay vua", True),
        ("Doanh nghiệp siêu nhỏ là gì?", True),
        ("the nao la doanh nghiep vua", True),
        ("co con duoc tinh la dn nho khong", True),
        ("What counts as a small enterprise?", True),
        ("DN siêu nhỏ được hỗ trợ bao nhiêu?", False),
        ("doanh nghiep vua thi sao", False),
        ("small businesses get how much for consulting?", False),
    ],
)
def test_asking_for_a_class_is_told_from_naming_one(text, asks):
    assert sme_size.asks_for_class(text) is asks
    assert sme_size.class_words(text)  # every one names a class


@pytest.mark.parametrize(
    ("text", "employees", "revenue"),
    [
        ("We are a trading company with 30 staff and 40 billion revenue", 30, 40),
        ("cty minh 12 nguoi, 8 ty doanh thu moi nam", 12, 8),
        ("doanh thu 60 tỷ, 45 công nhân", 45, 60),
    ],
)
def test_a_figure_is_read_before_or_after_what_it_measures(text, employees, revenue):
    facts = extract(text)
    assert (facts.employees, facts.revenue) == (employees, revenue)
