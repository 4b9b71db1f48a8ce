"""The lists the form offers as buttons: provinces, VSIC sections, ranges, checklists, needs, urgency, consent.

Labels that differ by language live in `bot/locales/*/needs.yaml` (key `needs.<group>_<key>`); province names
are proper nouns and stay as written here.
"""

from __future__ import annotations

import re

from indexer.textnorm import fold

# The 34 province-level units since 1/7/2025 (Nghị quyết 202/2025/QH15): 6 centrally-run cities, 28 provinces.
PROVINCES: tuple[str, ...] = (
    "Hà Nội",
    "Huế",
    "Hải Phòng",
    "Đà Nẵng",
    "TP. Hồ Chí Minh",
    "Cần Thơ",
    "An Giang",
    "Bắc Ninh",
    "Cà Mau",
    "Cao Bằng",
    "Đắk Lắk",
    "Điện Biên",
    "Đồng Nai",
    "Đồng Tháp",
    "Gia Lai",
    "Hà Tĩnh",
    "Hưng Yên",
    "Khánh Hòa",
    "Lai Châu",
    "Lâm Đồng",
    "Lạng Sơn",
    "Lào Cai",
    "Nghệ An",
    "Ninh Bình",
    "Phú Thọ",
    "Quảng Ngãi",
    "Quảng Ninh",
    "Quảng Trị",
    "Sơn La",
    "Tây Ninh",
    "Thái Nguyên",
    "Thanh Hóa",
    "Tuyên Quang",
    "Vĩnh Long",
)
# Owners still write the provinces merged on 1/7/2025: the unit each one became part of.
FORMER_PROVINCES: dict[str, str] = {
    "Hà Giang": "Tuyên Quang",
    "Yên Bái": "Lào Cai",
    "Bắc Kạn": "Thái Nguyên",
    "Vĩnh Phúc": "Phú Thọ",
    "Hòa Bình": "Phú Thọ",
    "Bắc Giang": "Bắc Ninh",
    "Thái Bình": "Hưng Yên",
    "Hải Dương": "Hải Phòng",
    "Hà Nam": "Ninh Bình",
    "Nam Định": "Ninh Bình",
    "Quảng Bình": "Quảng Trị",
    "Quảng Nam": "Đà Nẵng",
    "Kon Tum": "Quảng Ngãi",
    "Bình Định": "Gia Lai",
    "Ninh Thuận": "Khánh Hòa",
    "Đắk Nông": "Lâm Đồng",
    "Bình Thuận": "Lâm Đồng",
    "Phú Yên": "Đắk Lắk",
    "Bà Rịa - Vũng Tàu": "TP. Hồ Chí Minh",
    "Vũng Tàu": "TP. Hồ Chí Minh",
    "Bình Dương": "TP. Hồ Chí Minh",
    "Bình Phước": "Đồng Nai",
    "Long An": "Tây Ninh",
    "Sóc Trăng": "Cần Thơ",
    "Hậu Giang": "Cần Thơ",
    "Bến Tre": "Vĩnh Long",
    "Trà Vinh": "Vĩnh Long",
    "Tiền Giang": "Đồng Tháp",
    "Bạc Liêu": "Cà Mau",
    "Kiên Giang": "An Giang",
    "Thừa Thiên Huế": "Huế",
    "Sài Gòn": "TP. Hồ Chí Minh",
    "Hồ Chí Minh": "TP. Hồ Chí Minh",
    "HCM": "TP. Hồ Chí Minh",
    "Hanoi": "Hà Nội",
}

# VSIC 2018 sections (Quyết định 27/2018/QĐ-TTg); labels in the catalogs as needs.sector_<letter>.
SECTORS: tuple[str, ...] = tuple("ABCDEFGHIJKLMNOPQRSTU")

# Ranges as (key, low, high): a value v is in the range when low < v <= high (high None: no upper end). The
# ends are the thresholds of Decree 80/2021, Article 5, so a range decides the size class as an exact
# figure would (tests/test_needs_matcher.py checks this against bot.answering.sme_size.TABLE).
EMPLOYEE_RANGES: tuple[tuple[str, float, float | None], ...] = (
    ("0-10", 0, 10),
    ("11-50", 10, 50),
    ("51-100", 50, 100),
    ("101-200", 100, 200),
    ("200+", 200, None),
)
REVENUE_RANGES: tuple[tuple[str, float, float | None], ...] = (
    ("0-3", 0, 3),
    ("3-10", 3, 10),
    ("10-50", 10, 50),
    ("50-100", 50, 100),
    ("100-200", 100, 200),
    ("200-300", 200, 300),
    ("300+", 300, None),
)
CAPITAL_RANGES: tuple[tuple[str, float, float | None], ...] = (
    ("0-3", 0, 3),
    ("3-20", 3, 20),
    ("20-50", 20, 50),
    ("50-100", 50, 100),
    ("100+", 100, None),
)
RANGES = {"employees": EMPLOYEE_RANGES, "revenue": REVENUE_RANGES, "capital": CAPITAL_RANGES}

# Current technology status, grouped after the criteria groups of Thông tư 17/2019/TT-BKHCN (technology and
# equipment; exploitation; organisation and management; R&D and innovation), plus digital tools.
TECH_GROUPS: dict[str, tuple[str, ...]] = {
    "equipment": ("eq_manual", "eq_semi", "eq_auto", "eq_old"),
    "exploitation": ("ex_procedures", "ex_standards", "ex_measure"),
    "management": ("mg_qms", "mg_tools", "mg_tech_staff"),
    "rd": ("rd_unit", "rd_ip", "rd_results", "rd_startup"),
    "digital": ("dg_invoice", "dg_erp", "dg_online", "dg_iot"),
}
TECH_ITEMS: tuple[str, ...] = tuple(item for items in TECH_GROUPS.values() for item in items)

# Needs: the profile keys of design.md ("technology" covers equipment and technology transfer).
NEEDS: tuple[str, ...] = ("technology", "process", "ip", "testing", "training", "funding", "digital")
URGENCY: tuple[str, ...] = ("now", "soon", "later", "explore")
CONSENT: tuple[str, ...] = ("all", "contact", "none")

SIZE_CLASSES: tuple[str, ...] = ("micro", "small", "medium", "not_sme", "unknown")


def find_province(text: str) -> str | None:
    """The province-level unit meant by typed text (with or without diacritics, old names too); None if none."""
    folded = _key(text)
    if not folded:
        return None
    table = {_key(name): name for name in PROVINCES}
    table.update({_key(old): new for old, new in FORMER_PROVINCES.items()})
    if folded in table:
        return table[folded]
    hits = {name for key, name in table.items() if len(key) >= 3 and re.search(rf"\b{re.escape(key)}\b", folded)}
    return hits.pop() if len(hits) == 1 else None


def _key(text: str) -> str:
    folded = fold(text or "").replace("-", " ").replace(".", " ")
    folded = re.sub(r"\b(tinh|thanh pho|tp|province|city)\b", " ", folded)
    return " ".join(folded.split())


def range_of(kind: str, key: str) -> tuple[float, float | None] | None:
    for name, low, high in RANGES[kind]:
        if name == key:
            return low, high
    return None
