"""SME size class per Decree 80/2021/ND-CP, Article 5, computed from the numbers in a question.

Article 5 as written: a class is met when the headcount is within its limit AND either the annual revenue or
the total capital is within its limit (one of the two is enough). A figure is asked for only when it could
change the answer; the class the known figures already give is said meanwhile. A household business (hộ kinh
doanh) is not an enterprise under the decree (Article 2), so it gets no class at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.i18n import t
from indexer.textnorm import fold

# (size, max employees, max revenue bn VND, max capital bn VND) per sector group
TABLE = {
    "production": [("micro", 10, 3, 3), ("small", 100, 50, 20), ("medium", 200, 200, 100)],
    "trade": [("micro", 10, 10, 3), ("small", 50, 100, 50), ("medium", 100, 300, 100)],
}
# Within this share of a limit, a small change in the figures changes the class: a consultant should look.
NEAR = 0.10
SECTOR_VI = {"production": "nông, lâm nghiệp, thủy sản; công nghiệp và xây dựng", "trade": "thương mại và dịch vụ"}

_NUM = r"(\d+(?:[.,]\d+)?)"
_TRIGGER = re.compile(
    r"(sieu nho|nho va vua|nho hay vua|dn nho|doanh nghiep (nho|vua)|dnnvv|quy mo|thuoc (loai|dien|nhom)|"
    r"la (doanh nghiep|dn|cty|cong ty) gi|micro|small|medium|sme)"
)
# Asks for a class or for the criteria themselves ("nhỏ hay vừa?", "thuộc loại nào", "thế nào là DN nhỏ"), as
# opposed to naming a class as a qualifier of something else ("DN siêu nhỏ được hỗ trợ bao nhiêu?").
_ASKS_CLASS = re.compile(
    r"(hay (sieu nho|nho|vua|lon)|quy mo|thuoc (loai|dien|nhom)|la (doanh nghiep|dn|cty|cong ty) gi|tieu chi|"
    r"the nao (la|thi duoc)|(co phai|con|van|duoc coi|duoc tinh|xep|tinh) (la )?(doanh nghiep|dn)|"
    r"(doanh nghiep|dn) (sieu nho|nho|vua)( la)? (gi|the nao)|bao nhieu (nguoi|lao dong)|dieu kien (la|de)|"
    r"which size|what size|counts? as|is (it|my|our|this)|classif|criteria|threshold)"
)
_HOUSEHOLD = re.compile(r"\b(ho kinh doanh|ho ca the|ho gia dinh kinh doanh|household business|hkd)\b")
_TRADE = re.compile(
    r"(thuong mai|dich vu|ban buon|ban le|buon ban|kinh doanh hang|nha hang|khach san|van tai|"
    r"logistics|phan phoi|phan mem|cua hang|shop|trade|trading|retail|wholesale|service|restaurant|hotel|software)"
)
_PRODUCTION = re.compile(
    r"(san xuat|che bien|nong nghiep|lam nghiep|thuy san|cong nghiep|xay dung|xay lap|nuoi|trong trot|"
    r"xuong|nha may|det may|may mac|co khi|manufactur|factory|agricultur|farm|fish|construction|industr|processing)"
)


@dataclass
class SizeFacts:
    employees: float | None = None
    revenue: float | None = None  # bn VND
    capital: float | None = None  # bn VND
    sector: str | None = None  # production | trade
    household: bool = False  # a household business (hộ kinh doanh), not an enterprise

    def merged(self, newer: SizeFacts) -> SizeFacts:
        """These facts updated with the figures a later message gives."""
        return SizeFacts(
            newer.employees if newer.employees is not None else self.employees,
            newer.revenue if newer.revenue is not None else self.revenue,
            newer.capital if newer.capital is not None else self.capital,
            newer.sector or self.sector,
            newer.household or self.household,
        )

    @property
    def any(self) -> bool:
        return self.household or self.sector is not None or self.figures

    @property
    def figures(self) -> bool:
        return any(v is not None for v in (self.employees, self.revenue, self.capital))


def _number(raw: str) -> float:
    raw = raw.replace(",", ".")
    if raw.count(".") > 1 or re.fullmatch(r"\d{1,3}\.\d{3}", raw):
        raw = raw.replace(".", "")
    return float(raw)


def _money(folded: str, words: str) -> float | None:
    m = re.search(rf"({words})\D{{0,25}}?{_NUM}\s*(ty|ti|billion|bn|trieu|million|m\b)?", folded)
    if m:
        raw, unit = m.group(2), m.group(3)
    else:  # the figure first, its unit named: "40 billion revenue", "60 tỷ doanh thu"
        m = re.search(rf"{_NUM}\s*(ty|ti|billion|bn|trieu|million)\s*(dong|vnd|vnđ)?\s*(of\s+)?({words})", folded)
        if not m:
            return None
        raw, unit = m.group(1), m.group(2)
    value = _number(raw)
    unit = unit or "ty"
    if unit in ("trieu", "million", "m"):
        value /= 1000
    return value


def extract(text: str) -> SizeFacts:
    f = fold(text)
    facts = SizeFacts()
    m = re.search(rf"{_NUM}\s*(nguoi|lao dong|nhan vien|nhan su|cong nhan|employees?|staff|workers?|people|ld\b)", f)
    if m:
        facts.employees = _number(m.group(1))
    facts.revenue = _money(f, r"doanh thu|revenue|turnover|doanh so")
    facts.capital = _money(f, r"nguon von|tong von|von dieu le|von|capital")
    facts.household = bool(_HOUSEHOLD.search(f))
    if _TRADE.search(f):
        facts.sector = "trade"
    elif _PRODUCTION.search(f):
        facts.sector = "production"
    return facts


def is_about_size(text: str) -> bool:
    """Names a size class, SME status or the size criteria."""
    return bool(_TRIGGER.search(fold(text)))


def class_words(text: str) -> set[str]:
    """The (folded) words of the size classes and SME status the text names ("sieu", "nho")."""
    return {w for m in _TRIGGER.finditer(fold(text)) for w in m.group(0).split()}


def asks_for_class(text: str) -> bool:
    """Asks which class a business is in, or what the criteria are, not only names a class."""
    return bool(_ASKS_CLASS.search(fold(text)))


def is_size_question(text: str) -> bool:
    """Names a size class (or SME status) and gives a figure, or asks about a household business's class."""
    f = fold(text)
    facts = extract(text)
    return bool(_TRIGGER.search(f)) and (facts.figures or facts.household)


@dataclass
class SizeResult:
    size: str | None  # micro | small | medium | None (not an SME, or not decided: see `missing`)
    missing: list[str]  # what to ask for when the class cannot be decided
    reasons: list[str]  # Vietnamese phrases of the criteria that decided it
    household: bool = False  # a household business: not an enterprise under the decree
    criteria: list[tuple[str, float, float]] = field(default_factory=list)  # (criterion, figure, limit) met
    at_least: str | None = None  # when a missing figure could only make it smaller: the class without it
    could_be: tuple[str, str, float] | None = None  # (smaller class, criterion, limit) the missing figure decides
    near: tuple[str, float] | None = None  # (criterion, limit) a deciding figure is close to


def classify(facts: SizeFacts) -> SizeResult:
    """Smallest class whose headcount AND (revenue OR capital) limits the figures meet."""
    if facts.household:
        return SizeResult(None, [], [], household=True)
    if facts.sector is None and facts.employees is not None and facts.figures:
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
    asked: list[str] = []
    could_be = None
    rows = TABLE[facts.sector]
    for n, (size, max_emp, max_rev, max_cap) in enumerate(rows):
        if facts.employees > max_emp:
            continue
        rev_ok = facts.revenue is not None and facts.revenue <= max_rev
        cap_ok = facts.capital is not None and facts.capital <= max_cap
        if rev_ok or cap_ok:
            criteria = [("employees", facts.employees, max_emp)]
            if rev_ok:
                criteria.append(("revenue", facts.revenue, max_rev))
            if cap_ok:
                criteria.append(("capital", facts.capital, max_cap))
            reasons = [_reason_vi(c, v, limit) for c, v, limit in criteria]
            result = SizeResult(size, [], reasons, criteria=criteria, near=_near(facts, rows, n))
            if asked:
                # A smaller class depends on the figure not given: say this class, and ask for that figure.
                return SizeResult(
                    None, asked, reasons, criteria=criteria, at_least=size, could_be=could_be, near=result.near
                )
            return result
        if (facts.revenue is None or facts.capital is None) and not asked:
            # The unknown figure might still meet this row: ask for it rather than guess.
            asked = ["capital" if facts.capital is None else "revenue"]
            could_be = (size, asked[0], max_cap if asked[0] == "capital" else max_rev)
    if asked:
        return SizeResult(None, asked, [], near=_near(facts, rows, len(rows)))
    return SizeResult(
        None, [], [f"vượt ngưỡng doanh nghiệp vừa của lĩnh vực {SECTOR_VI[facts.sector]}"], near=_near(facts, rows, 3)
    )


def _near(facts: SizeFacts, rows: list, decided: int) -> tuple[str, float] | None:
    """A limit of the deciding row, or of the row just below, that one of the figures is close to."""
    for index in (decided, decided - 1):
        if not 0 <= index < len(rows):
            continue
        _, max_emp, max_rev, max_cap = rows[index]
        for criterion, value, limit in (
            ("employees", facts.employees, max_emp),
            ("revenue", facts.revenue, max_rev),
            ("capital", facts.capital, max_cap),
        ):
            if value is not None and abs(value - limit) <= NEAR * limit:
                return criterion, limit
    return None


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}".replace(".", ",")


def _reason_vi(criterion: str, value: float, limit: float) -> str:
    return t("vi", f"engine.size_reason_{criterion}", n=_fmt(value), limit=_fmt(limit))


def render(result: SizeResult, facts: SizeFacts, lang: str) -> str:
    if result.household:
        return t(lang, "engine.household")
    reasons = "; ".join(t(lang, f"engine.size_reason_{c}", n=_fmt(v), limit=_fmt(lim)) for c, v, lim in result.criteria)
    sector = facts.sector or "trade"
    if result.missing:
        missing = "; ".join(t(lang, f"engine.size_need_{m}") for m in result.missing)
        ask = t(lang, "engine.size_ask", missing=missing)
        if result.at_least and result.could_be:
            smaller, criterion, limit = result.could_be
            return t(
                lang,
                "engine.size_unless",
                size=t(lang, f"engine.size_{result.at_least}"),
                sector=t(lang, f"engine.sector_{sector}"),
                reasons=reasons,
                criterion=t(lang, f"engine.criterion_{criterion}"),
                limit=_fmt(limit),
                smaller=t(lang, f"engine.size_{smaller}"),
            )
        return ask
    if result.size is None:
        reason = t(lang, "engine.size_reason_over", sector=t(lang, f"engine.sector_{sector}"))
        return t(lang, "engine.size_not_sme", reason=reason)
    size = t(lang, f"engine.size_{result.size}")
    if facts.sector is None:
        return t(lang, "engine.size_result_any_sector", size=size, reasons=reasons)
    return t(lang, "engine.size_result", size=size, sector=t(lang, f"engine.sector_{sector}"), reasons=reasons)


def near_note(result: SizeResult, lang: str) -> str:
    """The offer of a consultant when a figure is close to a limit ("" otherwise)."""
    if result.near is None or result.household:
        return ""
    criterion, limit = result.near
    return t(lang, "engine.size_near", limit=_fmt(limit), criterion=t(lang, f"engine.criterion_{criterion}"))
