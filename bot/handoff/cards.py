"""The HTML the handoff writes for consultants: ticket cards and transcripts. Words come from the catalog."""

from __future__ import annotations

import html

from bot import i18n
from bot.i18n import STAFF
from indexer.config import TOPICS

e = html.escape
TRIGGERS = {  # Ticket.trigger -> message
    "button": "consultant.trigger_button",
    "command": "consultant.trigger_command",
    "wish": "consultant.trigger_wish",
    "offer": "consultant.trigger_offer",
    "needs": "needs.trigger",  # sent from a technology-needs profile (bot/needs)
}
ROLE_ICONS = {"user": "👤", "bot": "🤖", "consultant": "🧑‍💼"}
PART_LIMIT = 3500  # characters of one transcript message, well under Telegram's 4096


def topic_label(topic: str, lang: str = STAFF) -> str:
    return i18n.t(lang, f"topics.{topic if topic in TOPICS else 'other'}")


def mention(user_id: int, name: str) -> str:
    return f'<a href="tg://user?id={int(user_id)}">{e(name)}</a>'


def _owner_line(ticket) -> str:
    who = e(ticket.user_name or str(ticket.user_id))
    return i18n.t(STAFF, "consultant.card_owner", who=who) + (f" — {e(ticket.intake[:200])}" if ticket.intake else "")


def card(ticket, questions: list[str], titles: list[str], experts: list) -> str:
    """The ticket card for the consultants' group."""
    lines = [
        i18n.t(STAFF, "consultant.card_title", id=ticket.id, topic=e(topic_label(ticket.topic))),
        _owner_line(ticket),
    ]
    if ticket.summary:
        lines.append(i18n.t(STAFF, "consultant.card_summary", summary=e(ticket.summary)))
    if questions:
        lines.append(
            i18n.t(STAFF, "consultant.card_questions") + "\n" + "\n".join(f"• {e(q[:200])}" for q in questions)
        )
    if titles:
        lines.append(i18n.t(STAFF, "consultant.card_sources", titles=e("; ".join(titles[:4]))))
    trigger = i18n.t(STAFF, TRIGGERS[ticket.trigger]) if ticket.trigger in TRIGGERS else ticket.trigger
    lines.append(i18n.t(STAFF, "consultant.card_reason", reason=e(trigger)))
    if experts:
        names = ", ".join(mention(c.telegram_id, c.name) for c in experts)
        lines.append(i18n.t(STAFF, "consultant.card_experts", experts=names))
    return "\n".join(lines)


def transcript(ticket, lines: list, header: str = "") -> list[str]:
    """The conversation so far, for the consultant who takes the ticket (one or more HTML messages)."""
    title = i18n.t(STAFF, "consultant.transcript_title", id=ticket.id, topic=e(topic_label(ticket.topic)))
    head = (header + "\n" if header else "") + title + "\n" + _owner_line(ticket)
    body = []
    for line in lines:
        icon = ROLE_ICONS.get(line.role, "•")
        text = line.text if line.role != "bot" else _short(line.text, 400)
        if line.media:
            text = f"[{line.meta.get('file_name') or line.media}] {text}".strip()
        entry = f"{icon} {e(text)}"
        titles = (line.meta or {}).get("titles") or []
        if titles:
            entry += "\n   " + i18n.t(STAFF, "consultant.transcript_sources", titles=e("; ".join(titles[:3])))
        body.append(entry)
    key = "consultant.transcript_head" if body else "consultant.transcript_empty"
    parts = [head + "\n\n" + i18n.t(STAFF, key)]
    for entry in body:
        if len(parts[-1]) + len(entry) + 2 > PART_LIMIT:
            parts.append(entry)
        else:
            parts[-1] += "\n" + entry
    parts[-1] += "\n\n" + i18n.t(STAFF, "consultant.help")
    return parts


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
