"""An enterprise's technology profile: the fields of design.md plus the form's extras, and reading typed numbers."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.needs.choices import CONSENT, NEEDS, PROVINCES, RANGES, SECTORS, TECH_ITEMS, URGENCY, find_province
from indexer.textnorm import fold


class ProfileError(ValueError):
    """A profile (JSON) with a field of the wrong kind; the message names the field."""


@dataclass
class Profile:
    """design.md's fields first (company … consent_contact); the rest are what the form also asks."""

    company: str = ""
    province: str = ""
    sector: str = ""  # VSIC section letter
    employees: float | None = None
    revenue_billion_vnd: float | None = None
    capital_billion_vnd: float | None = None
    needs: list[str] = field(default_factory=list)
    status: str = ""  # the owner's own words on their technology and problem
    consent_contact: bool = False
    consent_share: bool = False  # the profile may be shown to the centre's experts
    employees_range: str = ""  # a range chosen with a button instead of a figure ("11-50")
    revenue_range: str = ""
    capital_range: str = ""
    tech_status: list[str] = field(default_factory=list)  # bot.needs.choices.TECH_ITEMS
    urgency: str = ""
    contact: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: object) -> Profile:
        """A profile from JSON (the command line, the database); unknown keys are ignored, wrong kinds refused."""
        if not isinstance(data, dict):
            raise ProfileError("a profile is a JSON object")
        p = cls()
        for key in ("company", "status", "contact"):
            setattr(p, key, _str(data, key))
        province = _str(data, "province")
        p.province = province if province in PROVINCES or not province else (find_province(province) or province)
        p.sector = _str(data, "sector").upper()
        if p.sector and p.sector not in SECTORS:
            raise ProfileError(f"sector: {p.sector!r} is not a VSIC section letter (A–U)")
        for key in ("employees", "revenue_billion_vnd", "capital_billion_vnd"):
            setattr(p, key, _number(data, key))
        for key, kind in (("employees_range", "employees"), ("revenue_range", "revenue"), ("capital_range", "capital")):
            value = _str(data, key)
            if value and value not in {name for name, _, _ in RANGES[kind]}:
                raise ProfileError(f"{key}: {value!r} is not one of the form's ranges")
            setattr(p, key, value)
        p.needs = _list(data, "needs", NEEDS)
        p.tech_status = _list(data, "tech_status", TECH_ITEMS)
        p.urgency = _str(data, "urgency")
        if p.urgency and p.urgency not in URGENCY:
            raise ProfileError(f"urgency: one of {', '.join(URGENCY)}")
        for key in ("consent_contact", "consent_share"):
            value = data.get(key, False)
            if not isinstance(value, bool):
                raise ProfileError(f"{key}: true or false")
            setattr(p, key, value)
        return p


def _str(data: dict, key: str) -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ProfileError(f"{key}: expected a text")
    return " ".join(str(value).split())


def _number(data: dict, key: str) -> float | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ProfileError(f"{key}: expected a number ≥ 0")
    return float(value)


def _list(data: dict, key: str, allowed: tuple[str, ...]) -> list[str]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ProfileError(f"{key}: expected a list")
    bad = [str(v) for v in value if v not in allowed]
    if bad:
        raise ProfileError(f"{key}: unknown value(s) {', '.join(bad)} (allowed: {', '.join(allowed)})")
    return list(dict.fromkeys(value))


# -- typed answers ----------------------------------------------------------------
_NUM = re.compile(r"(\d+(?:[.,]\d+)*)")


def parse_count(text: str) -> float | None:
    """'25', '25 người', 'khoảng 1.200 lao động' -> a head count; None when there is no single number."""
    numbers = _NUM.findall(fold(text))
    if len(numbers) != 1:
        return None
    value = _decimal(numbers[0])
    return value if value is not None and value == int(value) else None


def parse_money(text: str) -> float | None:
    """'12', '12 tỷ', '1,5 ty', '800 triệu', '2 billion' -> billions of VND; None when unreadable."""
    folded = fold(text)
    numbers = _NUM.findall(folded)
    if len(numbers) != 1:
        return None
    value = _decimal(numbers[0])
    if value is None:
        return None
    if re.search(r"trieu|million|(\d|\b)tr\b|\d\s*m\b", folded):
        value /= 1000
    elif re.search(r"nghin ty|ngan ty|trillion", folded):
        value *= 1000
    return value


def _decimal(raw: str) -> float | None:
    """Vietnamese writes 1.200 for twelve hundred and 1,5 for one and a half."""
    if re.fullmatch(r"\d{1,3}(\.\d{3})+", raw):  # 1.200 / 1.200.000: dots group thousands
        return float(raw.replace(".", ""))
    if re.fullmatch(r"\d{1,3}(,\d{3}){2,}", raw):  # 1,200,000: commas group thousands
        return float(raw.replace(",", ""))
    if raw.count(",") + raw.count(".") > 1:
        return None
    return float(raw.replace(",", "."))


def consent_flags(choice: str) -> tuple[bool, bool]:
    """(consent_contact, consent_share) for the consent button pressed."""
    if choice not in CONSENT:
        raise ValueError(choice)
    return choice in ("all", "contact"), choice == "all"
