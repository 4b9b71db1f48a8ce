"""Each step's question and buttons, as data (no Telegram types): callback data `nf:<profile>:<step>:<value>`
answers a step, `nd:<profile>:<action>[:<arg>]` is an action (submit, edit, send to a consultant …)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.i18n import t
from bot.needs import form, render
from bot.needs.choices import NEEDS, PROVINCES, RANGES, SECTORS, TECH_GROUPS, URGENCY
from bot.needs.profile import Profile

Buttons = list[list[tuple[str, str]]]


@dataclass
class Screen:
    """What to show: an HTML text with button rows; `edit` replaces the pressed message's buttons only."""

    text: str = ""
    buttons: Buttons = field(default_factory=list)
    edit: bool = False
    toast: str = ""
    outcome: Any = None  # a handoff Outcome when a ticket was requested


def question(step: str, profile: Profile, profile_id: int, lang: str) -> Screen:
    """The question of `step` with its buttons."""
    if step == form.REVIEW:
        return review(profile, profile_id, lang)
    n = form.STEPS.index(step) + 1
    text = t(lang, f"needs.ask_{step}") + "\n" + t(lang, "needs.progress", n=n, total=len(form.STEPS))
    if step == "tech":
        text += "\n\n" + render.tech_legend(lang)
    return Screen(text, keyboard(step, profile, profile_id, lang))


def keyboard(step: str, profile: Profile, pid: int, lang: str) -> Buttons:
    def b(label: str, value: str) -> tuple[str, str]:
        return label, f"nf:{pid}:{step}:{value}"

    if step == "province":
        cells = [b(name, str(i)) for i, name in enumerate(PROVINCES)]
        return [cells[i : i + 3] for i in range(0, len(cells), 3)]
    if step == "sector":
        return [[b(t(lang, f"needs.sector_{s}"), s)] for s in SECTORS]
    if step in RANGES:
        unit = "needs.unit_people" if step == "employees" else "needs.unit_billion"
        cells = [b(t(lang, unit, value=render.range_label(key)), key) for key, _, _ in RANGES[step]]
        rows = [cells[i : i + 2] for i in range(0, len(cells), 2)]
        return [*rows, [b(t(lang, "needs.btn_unknown"), form.UNKNOWN)]]
    if step == "tech":
        rows = []
        for n, (_group, items) in enumerate(TECH_GROUPS.items(), 1):
            for item in items:
                mark = "☑" if item in profile.tech_status else "☐"
                rows.append([b(f"{mark} {n} · {t(lang, f'needs.tech_{item}')}", f"t:{item}")])
        return [*rows, [b(t(lang, "needs.btn_done"), form.DONE)]]
    if step == "needs":
        rows = [
            [b(f"{'☑' if need in profile.needs else '☐'} {t(lang, f'needs.need_{need}')}", f"t:{need}")]
            for need in NEEDS
        ]
        return [*rows, [b(t(lang, "needs.btn_done"), form.DONE)]]
    if step == "description":
        return [[b(t(lang, "needs.btn_skip"), form.SKIP)]]
    if step == "urgency":
        return [[b(t(lang, f"needs.urgency_{u}"), u)] for u in URGENCY]
    if step == "contact":
        return [[b(t(lang, "needs.btn_telegram"), form.TELEGRAM)]]
    if step == "consent":
        return [[b(t(lang, f"needs.consent_{c}"), c)] for c in ("all", "contact", "none")]
    return []


def review(profile: Profile, pid: int, lang: str) -> Screen:
    return Screen(
        t(lang, "needs.review", summary=render.summary(profile, lang)),
        [
            [(t(lang, "needs.btn_submit"), f"nd:{pid}:submit")],
            [(t(lang, "needs.btn_edit"), f"nd:{pid}:menu")],
        ],
    )


def edit_menu(pid: int, lang: str) -> Screen:
    cells = [(t(lang, f"needs.field_{step}"), f"nd:{pid}:edit:{step}") for step in form.STEPS]
    rows = [cells[i : i + 2] for i in range(0, len(cells), 2)]
    return Screen(t(lang, "needs.edit_prompt"), [*rows, [(t(lang, "needs.btn_back"), f"nd:{pid}:review")]])


def profile_actions(profile: Profile, pid: int, lang: str) -> Buttons:
    """Under a submitted profile: send it to a consultant (with consent to share), edit it."""
    rows: Buttons = []
    if profile.consent_share:
        rows.append([(t(lang, "needs.btn_consultant"), f"nd:{pid}:send")])
    rows.append([(t(lang, "needs.btn_edit_profile"), f"nd:{pid}:menu")])
    return rows


def start_button(lang: str) -> tuple[str, str]:
    """The /start button (its label contains "nhu cầu" in both languages)."""
    return t(lang, "needs.start_button"), "nd:0:start"
