"""Words for a profile: the owner's summary, the matched programmes with numbered citations, the consultants'
brief on the ticket card, and the staff view with notes. Telegram HTML; every value is escaped here."""

from __future__ import annotations

import html

from bot.i18n import t
from bot.needs.choices import TECH_GROUPS
from bot.needs.matcher import Match
from bot.needs.profile import Profile

STAFF = "vi"  # consultants and admins read Vietnamese
e = html.escape


def range_label(key: str) -> str:
    """'11-50' -> '11–50', '0-10' -> '≤ 10', '300+' -> '> 300'."""
    if key.endswith("+"):
        return f"> {key[:-1]}"
    low, high = key.split("-")
    return f"≤ {high}" if low == "0" else f"{low}–{high}"


def _number(value: float, lang: str) -> str:
    text = f"{value:g}"
    return text.replace(".", ",") if lang == "vi" else text


def figure(profile: Profile, step: str, lang: str) -> str:
    value, key = {
        "employees": (profile.employees, profile.employees_range),
        "revenue": (profile.revenue_billion_vnd, profile.revenue_range),
        "capital": (profile.capital_billion_vnd, profile.capital_range),
    }[step]
    unit = "needs.unit_people" if step == "employees" else "needs.unit_billion"
    if value is not None:
        return t(lang, unit, value=_number(value, lang))
    if key:
        return t(lang, unit, value=range_label(key))
    return t(lang, "needs.value_none")


def tech_labels(items: list[str], lang: str) -> str:
    return "; ".join(t(lang, f"needs.tech_{i}") for i in items) or t(lang, "needs.value_none")


def consent_label(profile: Profile, lang: str) -> str:
    key = "all" if profile.consent_share else "contact" if profile.consent_contact else "none"
    return t(lang, f"needs.consent_{key}").removeprefix("✅ ")


def field_values(profile: Profile, lang: str) -> dict[str, str]:
    """Each step's answer as the owner reads it (plain text, not escaped)."""
    none = t(lang, "needs.value_none")
    return {
        "company": profile.company or none,
        "province": profile.province or none,
        "sector": t(lang, f"needs.sector_{profile.sector}") if profile.sector else none,
        "employees": figure(profile, "employees", lang),
        "revenue": figure(profile, "revenue", lang),
        "capital": figure(profile, "capital", lang),
        "tech": tech_labels(profile.tech_status, lang),
        "needs": "; ".join(t(lang, f"needs.need_{n}") for n in profile.needs) or none,
        "description": profile.status or none,
        "urgency": t(lang, f"needs.urgency_{profile.urgency}") if profile.urgency else none,
        "contact": profile.contact or t(lang, "needs.value_telegram"),
        "consent": consent_label(profile, lang),
    }


def summary(profile: Profile, lang: str) -> str:
    """The profile, one line a field (HTML)."""
    return "\n".join(
        t(lang, f"needs.sum_{step}", value=e(value)) for step, value in field_values(profile, lang).items()
    )


def size_label(size_class: str, lang: str) -> str:
    return t(lang, f"needs.size_{size_class}")


def matches(match: Match, lang: str) -> str:
    """The size class and the programmes, each with a numbered citation of its legal basis (HTML)."""
    sources: list[str] = []

    def ref(basis: str) -> int:
        if basis not in sources:
            sources.append(basis)
        return sources.index(basis) + 1

    size = match.size
    size_ref = ref(match.size_basis)
    if size.size_class == "unknown":
        missing = ", ".join(t(lang, f"needs.missing_{m}") for m in size.missing)
        lines = [t(lang, "needs.match_size_missing", missing=e(missing), ref=size_ref)]
    else:
        head = t(lang, "needs.match_size", size=e(size_label(size.size_class, lang)), ref=size_ref)
        if size.reasons and lang == "vi":  # the calculator words its reasons in Vietnamese
            head += f" ({e('; '.join(size.reasons))})"
        lines = [head]
    lines.append("")
    if match.programmes:
        lines.append(t(lang, "needs.match_head"))
        for n, p in enumerate(match.programmes, 1):
            item = t(
                lang, "needs.match_item", n=n, name=e(p["name"]), ref=ref(p["legal_basis"]), support=e(p["support"])
            )
            lines.append(item)
    else:
        lines.append(t(lang, "needs.match_none"))
    lines.append("")
    lines.append(t(lang, "needs.match_sources"))
    lines.extend(f"[{n}] {e(basis)}" for n, basis in enumerate(sources, 1))
    lines.append("")
    lines.append(t(lang, "needs.match_note"))
    return "\n".join(lines)


def brief(profile_id: int, profile: Profile, match: Match) -> str:
    """What the ticket card shows consultants (plain text: the card escapes it), Vietnamese."""
    values = field_values(profile, STAFF)
    lines = [t(STAFF, "needs.brief_head", id=profile_id, size=size_label(match.size.size_class, STAFF))]
    for step in ("company", "province", "sector", "employees", "revenue", "capital", "needs", "tech"):
        lines.append(f"{t(STAFF, f'needs.field_{step}')}: {values[step]}")
    for step in ("description", "urgency", "contact"):
        lines.append(f"{t(STAFF, f'needs.field_{step}')}: {values[step][:400]}")
    if match.programmes:
        names = "; ".join(p["name"] for p in match.programmes)
        lines.append(t(STAFF, "needs.brief_programmes", names=names))
    lines.append(t(STAFF, "needs.brief_commands", id=profile_id))
    return "\n".join(lines)


def tech_legend(lang: str) -> str:
    """The checklist's groups, for the question text (buttons carry only the items)."""
    return "\n".join(f"{n}. {e(t(lang, f'needs.tech_group_{group}'))}" for n, group in enumerate(TECH_GROUPS, 1))
