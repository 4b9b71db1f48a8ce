"""SME size class per Decree 80/2021/ND-CP, Article 5, computed from the numbers in a question."""

from __future__ import annotations

import re
from dataclasses import dataclass

from indexer.textnorm import fold

# (size, max employees, max revenue bn VND, max capital bn VND) per sector group
TABLE = {
    "production": [("micro", 10, 3, 3), ("small", 100, 50, 20), ("medium", 200, 200, 100)],
    "trade": [("micro", 10, 10, 3), ("small", 50, 100, 50), ("medium", 100, 300, 100)],
}
SIZE_VI = {"micro": "doanh nghiệp siêu nhỏ", "small": "doanh nghiệp nhỏ", "medium": "doanh nghiệp vừa"}
SIZE_EN = {"micro": "a micro enterprise", "small": "a small enterprise", "medium": "a medium-sized enterprise"}
SECTOR_VI = {"production": "nông, lâm nghiệp, thủy sản; công nghiệp và xây dựng", "trade": "thương mại và dịch vụ"}
SECTOR_EN = {"production": "agriculture, forestry, fishery, industry and construction", "trade": "trade and services"}

_NUM = r"(\d+(?:[.,]\d+)?)"
_TRIGGER = re.compile(
    r"(sieu nho|nho va vua|nho hay vua|dn nho|doanh nghiep (nho|vua)|dnnvv|quy mo|thuoc (loai|dien|nhom)|"
    r"la (doanh nghiep|dn|cty|cong ty) gi|micro|small|medium|sme)"
)
_TRADE = re.compile(
    r"(thuong mai|dich vu|ban buon|ban le|buon ban|kinh doanh hang|nha hang|khach san|van tai|"
    r"logistics|phan phoi|phan mem|cua hang|shop|trade|trading|retail|wholesale|service|restaurant|hotel|software)"
)
_PRODUCTION = re.compile(
    r"(san xuat|che bien|nong nghiep|lam nghiep|thuy san|cong nghiep|xay dung|nuoi|trong trot|"
    r"xuong|nha may|det may|co khi|manufactur|factory|agricultur|farm|fish|construction|industr)"
)


@dataclass
class SizeFacts:
    employees: float | None = None
    revenue: float | None = None  # bn VND
    capital: float | None = None  # bn VND
    sector: str | None = None  # production | trade


def _number(raw: str) -> float:
    raw = raw.replace(",", ".")
    if raw.count(".") > 1 or re.fullmatch(r"\d{1,3}\.\d{3}", raw):
        raw = raw.replace(".", "")
    return float(raw)


def _money(folded: str, words: str) -> float | None:
    m = re.search(rf"({words})\D{{0,25}}?{_NUM}\s*(ty|ti|billion|bn|trieu|million|m\b)?", folded)
    if not m:
        return None
    value = _number(m.group(2))
    unit = m.group(3) or "ty"
    if unit in ("trieu", "million", "m"):
        value /= 1000
    return value


def extract(text: str) -> SizeFacts:
    f = fold(text)
    facts = SizeFacts()
    m = re.search(rf"{_NUM}\s*(nguoi|lao dong|nhan vien|nhan su|cong nhan|employees?|staff|workers?|ld\b)", f)
    if m:
        facts.employees = _number(m.group(1))
    facts.revenue = _money(f, r"doanh thu|revenue|turnover|doanh so")
    facts.capital = _money(f, r"nguon von|tong von|von dieu le|von|capital")
    if _TRADE.search(f):
        facts.sector = "trade"
    elif _PRODUCTION.search(f):
        facts.sector = "production"
    return facts


def is_size_question(text: str) -> bool:
    f = fold(text)
    facts = extract(text)
    has_numbers = facts.employees is not None or facts.revenue is not None or facts.capital is not None
    return bool(_TRIGGER.search(f)) and has_numbers


@dataclass
class SizeResult:
    size: str | None  # micro | small | medium | None (not an SME)
    missing: list[str]  # what to ask for when the class cannot be decided
    reasons: list[str]  # Vietnamese phrases of the criteria that decided it


def classify(facts: SizeFacts) -> SizeResult:
    """Smallest class whose headcount AND (revenue OR capital) limits the figures meet."""
    if facts.sector is None and facts.employees is not None and (facts.revenue or facts.capital) is not None:
        # The sector only matters when the two sector tables disagree for these figures.
        both = [_classify(SizeFacts(facts.employees, facts.revenue, facts.capital, s)) for s in TABLE]
        if both[0].size == both[1].size and both[0].size and not both[0].missing:
            return both[0]
    return _classify(facts)


def _classify(facts: SizeFacts) -> SizeResult:
    missing = []
    if facts.sector is None:
        missing.append("sector")
    if facts.employees is None:
        missing.append("employees")
    if facts.revenue is None and facts.capital is None:
        missing.append("revenue_or_capital")
    if missing:
        return SizeResult(None, missing, [])
    for size, max_emp, max_rev, max_cap in TABLE[facts.sector]:
        if facts.employees > max_emp:
            continue
        rev_ok = facts.revenue is not None and facts.revenue <= max_rev
        cap_ok = facts.capital is not None and facts.capital <= max_cap
        if rev_ok or cap_ok:
            reasons = [f"{_fmt(facts.employees)} lao động ≤ {max_emp}"]
            if rev_ok:
                reasons.append(f"doanh thu {_fmt(facts.revenue)} tỷ đồng ≤ {max_rev} tỷ")
            if cap_ok:
                reasons.append(f"tổng nguồn vốn {_fmt(facts.capital)} tỷ đồng ≤ {max_cap} tỷ")
            return SizeResult(size, [], reasons)
        if facts.revenue is None or facts.capital is None:
            # The unknown figure might still meet this row: ask rather than guess.
            return SizeResult(None, ["capital" if facts.capital is None else "revenue"], [])
    return SizeResult(None, [], [f"vượt ngưỡng doanh nghiệp vừa của lĩnh vực {SECTOR_VI[facts.sector]}"])


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}".replace(".", ",")


def render(result: SizeResult, facts: SizeFacts, lang: str) -> str:
    if result.missing:
        ask_vi = {
            "sector": "lĩnh vực hoạt động chính (nông/lâm/thủy sản, công nghiệp, xây dựng hay thương mại, dịch vụ)",
            "employees": "số lao động tham gia bảo hiểm xã hội bình quân năm",
            "revenue_or_capital": "tổng doanh thu năm hoặc tổng nguồn vốn (tỷ đồng)",
            "revenue": "tổng doanh thu năm (tỷ đồng)",
            "capital": "tổng nguồn vốn (tỷ đồng)",
        }
        ask_en = {
            "sector": "your main sector (agriculture/industry/construction, or trade/services)",
            "employees": "your average number of employees paying social insurance",
            "revenue_or_capital": "your annual revenue or total capital (billion VND)",
            "revenue": "your annual revenue (billion VND)",
            "capital": "your total capital (billion VND)",
        }
        if lang == "en":
            return (
                "To tell your size under Decree 80/2021 (Article 5) I also need "
                + "; ".join(ask_en[m] for m in result.missing)
                + " [1]."
            )
        return (
            "Để xác định quy mô theo Điều 5 Nghị định 80/2021/NĐ-CP, bạn cho biết thêm: "
            + "; ".join(ask_vi[m] for m in result.missing)
            + " [1]."
        )
    if result.size is not None and facts.sector is None:
        if lang == "en":
            return (
                f"Under Decree 80/2021, Article 5, the business is {SIZE_EN[result.size]} in either sector group: "
                + "; ".join(result.reasons)
                + " [1]."
            )
        return (
            f"Theo Điều 5 Nghị định 80/2021/NĐ-CP, doanh nghiệp của bạn là {SIZE_VI[result.size]} "
            "dù thuộc lĩnh vực sản xuất hay thương mại, dịch vụ: " + "; ".join(result.reasons) + " [1]."
        )
    sector = facts.sector or "trade"
    if result.size is None:
        if lang == "en":
            return (
                f"With these figures the business exceeds the medium-sized threshold for {SECTOR_EN[sector]}, "
                "so it is not an SME under Decree 80/2021, Article 5 [1]."
            )
        return (
            f"Với các số liệu này, doanh nghiệp {result.reasons[0]}, nên không thuộc diện doanh nghiệp "
            "nhỏ và vừa theo Điều 5 Nghị định 80/2021/NĐ-CP [1]."
        )
    if lang == "en":
        return (
            f"Under Decree 80/2021, Article 5, the business is {SIZE_EN[result.size]} ({SECTOR_EN[sector]}): "
            + "; ".join(result.reasons)
            + ". Headcount must be met together with either revenue or capital [1]."
        )
    return (
        f"Theo Điều 5 Nghị định 80/2021/NĐ-CP, doanh nghiệp của bạn là {SIZE_VI[result.size]} "
        f"(lĩnh vực {SECTOR_VI[sector]}): "
        + "; ".join(result.reasons)
        + ". Tiêu chí số lao động phải đạt, cùng với tiêu chí doanh thu hoặc tổng nguồn vốn [1]."
    )
