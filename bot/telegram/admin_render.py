"""Staff replies as Telegram HTML: knowledge-base status and list, refresh summary, gaps, stats.

Staff read Vietnamese (`bot.i18n.STAFF`); `lang` exists so that the English catalog can be shown too.
"""

from __future__ import annotations

import datetime as dt
import re
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot import callbacks
from bot.i18n import STAFF, t
from bot.knowledge_admin import Document
from bot.reports.gaps import GapGroup
from bot.reports.stats import Stats
from indexer.config import TOPICS
from indexer.pipeline import Summary

REASONS = {"abstain": "admin.reason_abstain", "downvote": "admin.reason_downvote", "handoff": "admin.reason_handoff"}
MAX_LISTED = 15


def topic_label(key: str, lang: str = STAFF) -> str:
    """A topic's label; an unknown key is shown as it is, an empty one as 'other'."""
    if key in TOPICS or not key:
        return t(lang, f"topics.{key or 'other'}")
    return key


def _when(iso: str | None, tz, lang: str) -> str:
    if not iso:
        return t(lang, "admin.never")
    try:
        return dt.datetime.fromisoformat(iso).astimezone(tz).strftime("%d/%m/%Y %H:%M")
    except ValueError:
        return iso


def _stale_reason(reason: str, lang: str) -> str:
    """The manifest's English reasons, in the staff's words."""
    reason = re.sub(
        r"last_reviewed (\S+) is over 12 months old", lambda m: t(lang, "admin.stale_reviewed", date=m[1]), reason
    )
    return re.sub(r"effective_to (\S+) has passed", lambda m: t(lang, "admin.stale_expired", date=m[1]), reason)


def _decimal(value: float, lang: str) -> str:
    return f"{value:.1f}".replace(".", t(lang, "admin.decimal_separator"))


def kb_status(data: dict, tz, lang: str = STAFF) -> str:
    topics = ", ".join(f"{escape(topic_label(k, lang))} {v}" for k, v in sorted(data["topics"].items())) or "—"
    chunks = data["chunks"] if data["chunks"] is not None else t(lang, "admin.no_index")
    stale, failed = data["stale"], data["failed"]
    lines = [
        t(lang, "admin.kb_head", documents=data["documents"], chunks=chunks),
        t(lang, "admin.by_topic", topics=topics),
        t(lang, "admin.kb_refreshed", when=_when(data["last_refresh"], tz, lang)),
        t(lang, "admin.kb_stale", n=len(stale)) if stale else t(lang, "admin.kb_stale_none"),
    ]
    lines += [f"• {escape(s['path'])}: {escape(_stale_reason(s['reason'], lang))}" for s in stale[:MAX_LISTED]]
    lines.append(t(lang, "admin.kb_failed", n=len(failed)) if failed else t(lang, "admin.kb_failed_none"))
    lines += [f"• {escape(f['path'])}: {escape(f['reason'])}" for f in failed[:MAX_LISTED]]
    return "\n".join(lines)


def kb_list(docs: list[Document], lang: str = STAFF) -> str:
    if not docs:
        return t(lang, "admin.list_empty")
    lines = [t(lang, "admin.list_head", n=sum(1 for d in docs if not d.failed))]
    topic = None
    for doc in docs:
        if doc.failed:
            continue
        if doc.topic != topic:
            topic = doc.topic
            lines.append(f"\n<b>{escape(topic_label(topic, lang))}</b>")
        lines.append(t(lang, "admin.list_item", doc_id=escape(doc.doc_id), title=escape(doc.title), chunks=doc.chunks))
    failed = [d for d in docs if d.failed]
    if failed:
        lines.append("\n" + t(lang, "admin.list_failed"))
        lines += [f"• <code>{escape(d.path)}</code>: {escape(d.failed)}" for d in failed]
    lines.append("\n" + t(lang, "admin.list_remove"))
    return "\n".join(lines)


def remove_keyboard(doc: Document, lang: str = STAFF) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(t(lang, "admin.btn_remove"), callback_data=callbacks.encode("kb_remove", doc.key)),
                InlineKeyboardButton(t(lang, "admin.btn_cancel"), callback_data=callbacks.encode("kb_remove", "no")),
            ]
        ]
    )


def summary(s: Summary, lang: str = STAFF) -> str:
    seconds = f"{s.seconds:.1f}"
    if not (s.added or s.updated or s.renamed or s.removed or s.failed):
        head = t(lang, "admin.summary_unchanged", seconds=seconds, unchanged=s.unchanged)
    else:
        head = t(
            lang,
            "admin.summary_changed",
            seconds=seconds,
            added=len(s.added),
            updated=len(s.updated),
            renamed=len(s.renamed),
            removed=len(s.removed),
            unchanged=s.unchanged,
            failed=len(s.failed),
            embedded=s.chunks_embedded,
        )
    lines = [head]
    for key, items in (
        ("admin.summary_added", s.added),
        ("admin.summary_updated", s.updated),
        ("admin.summary_renamed", s.renamed),
        ("admin.summary_removed", s.removed),
    ):
        if items:
            lines.append(
                f"{t(lang, key)}: "
                + ", ".join(escape(i) for i in items[:MAX_LISTED])
                + (" …" if len(items) > MAX_LISTED else "")
            )
    lines += [f"⚠️ {escape(f['path'])}: {escape(f['reason'])}" for f in s.failed[:MAX_LISTED]]
    return "\n".join(lines)


def gaps(groups: list[GapGroup], days: int, tz, limit: int = 10, lang: str = STAFF) -> str:
    if not groups:
        return t(lang, "admin.gaps_none", days=days)
    total = sum(g.count for g in groups)
    lines = [t(lang, "admin.gaps_head", days=days, total=total, groups=len(groups))]
    for n, group in enumerate(groups[:limit], 1):
        reasons = ", ".join(f"{t(lang, REASONS[r])} {c}" for r, c in sorted(group.reasons.items()))
        line = t(
            lang,
            "admin.gaps_group",
            n=n,
            count=group.count,
            topic=escape(topic_label(group.topic, lang)),
            last=f"{group.last_seen.astimezone(tz):%d/%m %H:%M}",
            reasons=reasons,
        )
        lines.append("\n" + line)
        lines += [f"   – {escape(text[:200])}" for text in group.examples()]
    if len(groups) > limit:
        lines.append("\n" + t(lang, "admin.gaps_more", n=len(groups) - limit))
    return "\n".join(lines)


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _duration(minutes: float | None, lang: str) -> str:
    if minutes is None:
        return "—"
    if minutes < 90:
        return t(lang, "admin.minutes", n=f"{minutes:.0f}")
    return t(lang, "admin.hours", n=_decimal(minutes / 60, lang))


def stats(s: Stats, lang: str = STAFF) -> str:
    topics = ", ".join(f"{escape(topic_label(k, lang))} {v}" for k, v in s.topics.most_common()) or "—"
    rating = (
        "—"
        if s.average_rating is None
        else t(lang, "admin.stats_rating_value", rating=_decimal(s.average_rating, lang), n=s.ratings)
    )
    handoffs = f"{s.handoffs}" if s.handoffs_from == "tickets" else t(lang, "admin.stats_requests", n=s.handoffs)
    return "\n".join(
        [
            t(
                lang,
                "admin.stats_head",
                days=len(s.days),
                start=f"{s.period.start:%d/%m}",
                end=f"{s.period.end:%d/%m/%Y}",
            ),
            t(lang, "admin.stats_questions", questions=s.questions, users=s.users),
            t(
                lang,
                "admin.stats_answered",
                answered=s.answered,
                answered_share=_share(s.answered_share),
                abstained=s.abstained,
                abstained_share=_share(s.abstained_share),
            ),
            t(lang, "admin.by_topic", topics=topics),
            t(
                lang,
                "admin.stats_handoffs",
                handoffs=handoffs,
                claim=_duration(s.median_claim_minutes, lang),
                duration=_duration(s.median_duration_minutes, lang),
            ),
            t(lang, "admin.stats_rating", rating=rating),
            t(lang, "admin.stats_thumbs", up=s.thumbs_up, down=s.thumbs_down, share=_share(s.helpful_share)),
        ]
    )
