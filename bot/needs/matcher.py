"""Profile -> size class (Decree 80/2021, Article 5, through bot.answering.sme_size) and the programmes it may
qualify for, from the rules file. No I/O; the same function serves the bot, the command line and the tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.answering.sme_size import SizeFacts, classify
from bot.i18n import t
from bot.needs.choices import range_of
from bot.needs.profile import Profile
from bot.needs.rules import Programme, Rules

# A range with no upper end ("more than 300 billion"): any figure above its lower end decides the same way.
_ABOVE = 0.001


@dataclass
class Size:
    size_class: str  # micro | small | medium | not_sme | unknown
    sector_group: str | None  # production | trade | None (sector not given)
    reasons: list[str] = field(default_factory=list)  # Vietnamese phrases of the deciding criteria
    missing: list[str] = field(default_factory=list)  # what would decide it: sector, employees, revenue, capital …


@dataclass
class Match:
    size: Size
    size_basis: str
    programmes: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "size_class": self.size.size_class,
            "size_basis": self.size_basis,
            "sector_group": self.size.sector_group,
            "size_reasons": self.size.reasons,
            "size_missing": self.size.missing,
            "programmes": self.programmes,
        }


def figure(value: float | None, range_key: str, kind: str) -> float | None:
    """The figure to classify with: the number typed, else the upper end of the range chosen."""
    if value is not None:
        return value
    bounds = range_of(kind, range_key) if range_key else None
    if bounds is None:
        return None
    low, high = bounds
    return high if high is not None else low + (1 if kind == "employees" else _ABOVE)


def size_of(profile: Profile, rules: Rules) -> Size:
    """The Article 5 size class: headcount AND (revenue OR capital), per sector group."""
    group = rules.sector_groups.get(profile.sector) if profile.sector else None
    facts = SizeFacts(
        employees=figure(profile.employees, profile.employees_range, "employees"),
        revenue=figure(profile.revenue_billion_vnd, profile.revenue_range, "revenue"),
        capital=figure(profile.capital_billion_vnd, profile.capital_range, "capital"),
        sector=group,
    )
    result = classify(facts)
    # The calculator words its reasons with the figures; a range's upper end is no figure the owner gave.
    exact = not any(
        value is None and key
        for value, key in (
            (profile.employees, profile.employees_range),
            (profile.revenue_billion_vnd, profile.revenue_range),
            (profile.capital_billion_vnd, profile.capital_range),
        )
    )
    reasons = list(result.reasons) if exact else []
    if result.size:
        return Size(result.size, group, reasons)
    if result.missing:
        return Size("unknown", group, missing=list(result.missing))
    return Size("not_sme", group, reasons)


def applies(programme: Programme, profile: Profile, size_class: str) -> bool:
    if size_class not in programme.sizes:
        return False
    if programme.needs_any and not set(programme.needs_any) & set(profile.needs):
        return False
    return not programme.tech_status_any or bool(set(programme.tech_status_any) & set(profile.tech_status))


def match(profile: Profile, rules: Rules, lang: str = "vi") -> Match:
    """The programmes a profile may qualify for, in the order of the rules file."""
    size = size_of(profile, rules)
    found = [programme_json(p, size.size_class, lang) for p in rules.programmes if applies(p, profile, size.size_class)]
    return Match(size, rules.size_basis, found)


def programme_json(p: Programme, size_class: str, lang: str) -> dict[str, Any]:
    lang = lang if lang in ("vi", "en") else "vi"
    support = p.support[lang]
    if "{cap}" in support:
        support = support.format(cap=_cap(p, size_class, lang))
    if not p.confirmed:
        support += " " + t(lang, "needs.unconfirmed")
    return {
        "id": p.id,
        "name": p.name[lang],
        "legal_basis": p.legal_basis,
        "support": support,
        "confirmed": p.confirmed,
        "fact": p.fact,
    }


def _cap(p: Programme, size_class: str, lang: str) -> str:
    if size_class in p.cap_million_vnd:
        return _amount(p.cap_million_vnd[size_class], lang)
    caps = [(size, amount) for size, amount in p.cap_million_vnd.items() if size in p.sizes]
    if len({amount for _, amount in caps}) == 1:
        return _amount(caps[0][1], lang)
    # The size is not known yet: every class's cap, so the owner sees what is at stake.
    return " / ".join(f"{_amount(amount, lang)} ({t(lang, f'needs.size_short_{size}')})" for size, amount in caps)


def _amount(value: float, lang: str) -> str:
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    if lang == "vi":  # 1.000 and 2,5 in Vietnamese
        text = text.translate(str.maketrans({",": ".", ".": ","}))
    return text
