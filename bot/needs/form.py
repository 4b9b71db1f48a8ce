"""The guided form as an explicit state machine (diagram: bot/needs/form.mmd). Pure: no database, no Telegram.

A state is a step name. `accept` reads one answer (typed text or a pressed button) for a step and says what
to store and whether the step is finished; `after` says which step comes next. The service persists the
state after every answer, so the form resumes where it was after hours or a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.needs.choices import CONSENT, NEEDS, PROVINCES, RANGES, SECTORS, TECH_ITEMS, URGENCY, find_province
from bot.needs.profile import Profile, consent_flags, parse_count, parse_money

STEPS: tuple[str, ...] = (
    "company",
    "province",
    "sector",
    "employees",
    "revenue",
    "capital",
    "tech",
    "needs",
    "description",
    "urgency",
    "contact",
    "consent",
)
REVIEW = "review"  # every step answered: the owner checks the summary, then submits or edits a field
CHECKLISTS = ("tech", "needs")
UNKNOWN = "?"  # the "I don't know / skip" button of the figures
SKIP = "skip"
DONE = "done"
TELEGRAM = "tg"  # "contact me here on Telegram"
MAX_TEXT = {"company": 200, "description": 1500, "contact": 200}
SIZE_STEPS = ("sector", "employees", "revenue")  # answers that can leave the size class undecided


@dataclass
class Result:
    """What one answer does: the profile fields to set, and whether the step is finished."""

    changes: dict[str, Any] = field(default_factory=dict)
    done: bool = False  # move on to the next step
    error: str = ""  # catalog key (needs.error_*) telling the owner what the step expects


def accept(step: str, kind: str, raw: str, profile: Profile) -> Result:
    """Read one answer for `step`; `kind` is "text" (typed) or "button" (the value after the step in callback data)."""
    raw = " ".join((raw or "").split())
    if step in MAX_TEXT:
        return _text(step, kind, raw)
    if step == "province":
        name = _index(raw, PROVINCES) if kind == "button" else find_province(raw)
        return Result({"province": name}, True) if name else Result(error="error_province")
    if step == "sector":
        letter = raw.strip().upper().rstrip(".")
        return Result({"sector": letter}, True) if letter in SECTORS else Result(error="error_sector")
    if step in RANGES:
        return _figure(step, kind, raw)
    if step in CHECKLISTS:
        return _checklist(step, kind, raw, profile)
    if step == "urgency":
        return Result({"urgency": raw}, True) if kind == "button" and raw in URGENCY else Result(error="error_button")
    if step == "consent":
        if kind != "button" or raw not in CONSENT:
            return Result(error="error_button")
        contact, share = consent_flags(raw)
        return Result({"consent_contact": contact, "consent_share": share}, True)
    raise ValueError(f"unknown step {step!r}")


def after(step: str, profile: Profile, editing: bool, size_decided: bool) -> str:
    """The step after `step`: the next one in order; back to the review when editing; capital only when needed."""
    if step == REVIEW:
        return REVIEW
    needs_capital = not size_decided and step in SIZE_STEPS
    if editing:
        return "capital" if needs_capital and step != "capital" else REVIEW
    following = STEPS[STEPS.index(step) + 1] if step != STEPS[-1] else REVIEW
    if following == "capital" and size_decided:
        return STEPS[STEPS.index("capital") + 1]  # revenue already decided the class: no need to ask
    return following


def _text(step: str, kind: str, raw: str) -> Result:
    field_name = {"company": "company", "description": "status", "contact": "contact"}[step]
    if kind == "button":
        if step == "description" and raw == SKIP:
            return Result({"status": ""}, True)
        if step == "contact" and raw == TELEGRAM:
            return Result({"contact": ""}, True)  # the Telegram chat itself
        return Result(error="error_text")
    if len(raw) < 2:
        return Result(error="error_text")
    return Result({field_name: raw[: MAX_TEXT[step]]}, True)


def _figure(step: str, kind: str, raw: str) -> Result:
    value_key, range_key = {
        "employees": ("employees", "employees_range"),
        "revenue": ("revenue_billion_vnd", "revenue_range"),
        "capital": ("capital_billion_vnd", "capital_range"),
    }[step]
    if kind == "button":
        if raw == UNKNOWN:
            return Result({value_key: None, range_key: ""}, True)
        if raw in {name for name, _, _ in RANGES[step]}:
            return Result({value_key: None, range_key: raw}, True)
        return Result(error="error_button")
    value = parse_count(raw) if step == "employees" else parse_money(raw)
    if value is None:
        return Result(error="error_count" if step == "employees" else "error_money")
    return Result({value_key: value, range_key: ""}, True)


def _checklist(step: str, kind: str, raw: str, profile: Profile) -> Result:
    key, allowed = ("tech_status", TECH_ITEMS) if step == "tech" else ("needs", NEEDS)
    chosen = list(getattr(profile, key))
    if kind != "button":
        return Result(error="error_checklist")
    if raw == DONE:
        if step == "needs" and not chosen:
            return Result(error="error_needs")
        return Result({}, True)
    item = raw.removeprefix("t:")
    if item not in allowed:
        return Result(error="error_button")
    # Order of ticking is kept: the first need chosen routes the ticket.
    chosen = [c for c in chosen if c != item] if item in chosen else [*chosen, item]
    return Result({key: chosen})


def _index(raw: str, options: tuple[str, ...]) -> str | None:
    return options[int(raw)] if raw.isdigit() and int(raw) < len(options) else None
