"""The console's pages as HTML strings: plain, server-side, every value escaped; no scripts, nothing fetched.

Texts come from the `web.*` messages of the catalogs (`bot/locales/*/web.yaml`; staff read Vietnamese). Each
function takes what a service returned and renders it; none reads the database itself.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from zoneinfo import ZoneInfo

from bot.i18n import STAFF, t
from bot.reports.gaps import REASONS
from indexer.config import TOPICS

LANG = STAFF
NAV = (("/", "nav_overview"), ("/gaps", "nav_gaps"), ("/kb", "nav_kb"), ("/answers", "nav_answers"),
       ("/needs", "nav_needs"))  # fmt: skip
STYLE = """
*{box-sizing:border-box}body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1d2733;background:#f4f6f8}header{background:#0d4f8b;color:#fff;padding:.6rem 1rem}
header a{color:#fff}nav{display:flex;flex-wrap:wrap;gap:.4rem 1rem;margin-top:.3rem}
main{max-width:60rem;margin:0 auto;padding:1rem}section{background:#fff;border-radius:6px;padding:1rem;
margin-bottom:1rem;box-shadow:0 1px 2px #0002}table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid #e2e6ea;vertical-align:top}
.scroll{overflow-x:auto}.muted{color:#5f6b77;font-size:.9rem}.bad{color:#a4000f}.warn{color:#8a5300}
.notice{background:#e8f4ea;border-left:4px solid #2e7d32;padding:.6rem}.error{background:#fdecea;
border-left:4px solid #a4000f;padding:.6rem}button{font:inherit;padding:.35rem .8rem;cursor:pointer}
form.inline{display:inline}pre{white-space:pre-wrap;font:inherit;margin:.3rem 0}
input,select{font:inherit;max-width:100%}.current{font-weight:bold;text-decoration:none}
"""


def w(key: str, **values: object) -> str:
    """A console text (HTML from the catalog; the caller escapes the values)."""
    return t(LANG, f"web.{key}", **values)


def layout(title: str, body: str, *, admin_id: int | None = None, xsrf: str = "", active: str = "") -> str:
    head = f"<strong>{w('title')}</strong>"
    if admin_id is not None:
        links = "".join(
            f'<a href="{href}"{" class=current" if href == active else ""}>{w(key)}</a>' for href, key in NAV
        )
        head += (
            f"<nav>{links}</nav><div class=muted style=color:#dde>{w('signed_in', admin=admin_id)} · "
            f'<form class=inline method=post action="/logout">{xsrf}<button>{w("logout")}</button></form></div>'
        )
    return (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="robots" content="noindex"><title>{escape(title)} · {w("title")}</title>'
        f"<style>{STYLE}</style></head><body><header>{head}</header><main><h1>{escape(title)}</h1>{body}"
        "</main></body></html>"
    )


def message(text_html: str, kind: str = "notice") -> str:
    return f"<p class={kind}>{text_html}</p>"


def welcome(note: str = "") -> str:
    return layout(w("welcome_title"), note + f"<section><p>{w('welcome')}</p></section>")


def login_confirm(token: str, xsrf: str) -> str:
    form = (
        f'<form method=post action="/login">{xsrf}<input type=hidden name=token value="{escape(token)}">'
        f"<button>{w('login_button')}</button></form>"
    )
    return layout(w("welcome_title"), f"<section><p>{w('login_confirm')}</p>{form}</section>")


def error(status: int) -> str:
    return layout(str(status), message(w("error", status=status), "error"))


def _when(value: dt.datetime | None, tz: ZoneInfo) -> str:
    return "-" if value is None else value.astimezone(tz).strftime("%d/%m/%Y %H:%M")


def topic(key: str) -> str:
    return escape(t(LANG, f"topics.{key or 'other'}") if key in TOPICS or not key else key)


def _days_form(action: str, days: int) -> str:
    return (
        f'<form method=get action="{action}" class=muted><label>{w("period_days", days="")}'
        f' <input type=number name=days min=1 max=3650 value="{days}" style=width:6em></label> '
        f"<button>{w('show')}</button></form>"
    )


# -- overview ------------------------------------------------------------------
def overview(figures, days: int) -> str:
    """The figures of `bot.reports.stats.compute`, as /stats shows them."""
    s = figures

    def share(part: int) -> str:
        return f"{part} ({part / s.questions:.0%})" if s.questions else str(part)

    def minutes(value: float | None) -> str:
        return "-" if value is None else w("minutes", value=f"{value:g}")

    topics = ", ".join(f"{topic(k)} {v}" for k, v in s.topics.most_common()) or "-"
    rating = "-" if s.average_rating is None else f"{s.average_rating:g}/5 ({s.ratings})"
    votes = s.thumbs_up + s.thumbs_down
    helpful = f"{s.thumbs_up} / {s.thumbs_down}" + (f" ({s.thumbs_up / votes:.0%})" if votes else "")
    rows = [
        ("stat_period", f"{s.period.start:%d/%m/%Y} – {s.period.end:%d/%m/%Y}"),
        ("stat_questions", str(s.questions)),
        ("stat_users", str(s.users)),
        ("stat_answered", share(s.answered)),
        ("stat_abstained", share(s.abstained)),
        ("stat_topics", topics),
        ("stat_handoffs", str(s.handoffs)),
        ("stat_claim", minutes(s.median_claim_minutes)),
        ("stat_duration", minutes(s.median_duration_minutes)),
        ("stat_rating", rating),
        ("stat_votes", helpful),
    ]
    table = "".join(f"<tr><th>{w(key)}</th><td>{value}</td></tr>" for key, value in rows)
    return _days_form("/", days) + f"<section><table>{table}</table></section>"


# -- gaps ----------------------------------------------------------------------
def gaps(groups, days: int, tz: ZoneInfo) -> str:
    """The groups of `bot.reports.gaps.find_gaps`, most recent first, each with its distinct wordings."""
    if not groups:
        return _days_form("/gaps", days) + f"<section><p>{w('gaps_none')}</p></section>"
    items = []
    for group in groups:
        reasons = ", ".join(
            f"{escape(t(LANG, f'admin.reason_{r}'))} {group.reasons[r]}" for r in REASONS if group.reasons[r]
        )
        head = w("gaps_group", count=group.count, topic=topic(group.topic), last=_when(group.last_seen, tz),
                 reasons=reasons)  # fmt: skip
        examples = "".join(f"<li>{escape(text)}</li>" for text in group.examples())
        items.append(f"<li><div class=muted>{head}</div><ul>{examples}</ul></li>")
    return _days_form("/gaps", days) + f"<section><ol>{''.join(items)}</ol></section>"


# -- knowledge base ------------------------------------------------------------
def knowledge(status: dict, documents, reviewed: dict[str, str], *, xsrf: str, max_mb: float, note: str = "") -> str:
    """`KnowledgeAdmin.status()` and `.documents()`: every document with its state; failed files at the end."""
    stale = {item["path"]: item["reason"] for item in status.get("stale", [])}
    chunks = "-" if status.get("chunks") is None else status["chunks"]
    summary = w("kb_summary", documents=status.get("documents", 0), chunks=chunks,
                last=escape(status.get("last_refresh") or "-"))  # fmt: skip
    rows = []
    for d in documents:
        if d.failed:
            state = f"<span class=bad>{w('kb_failed', reason=escape(d.failed))}</span>"
        elif d.path in stale:
            state = f"<span class=warn>{w('kb_stale', reason=escape(stale[d.path]))}</span>"
        else:
            state = w("kb_ok")
        remove = f'<a href="/kb/remove?key={escape(d.key)}">{w("kb_remove")}</a>'
        rows.append(
            f"<tr><td>{escape(d.title)}<div class=muted>{escape(d.path)}</div></td><td>{topic(d.topic)}</td>"
            f"<td>{escape(reviewed.get(d.path) or '-')}</td><td>{d.chunks}</td><td>{state}</td><td>{remove}</td></tr>"
        )
    head = "".join(f"<th>{w(k)}</th>" for k in ("kb_col_title", "kb_col_topic", "kb_col_reviewed", "kb_col_chunks",
                                                 "kb_col_state")) + "<th></th>"  # fmt: skip
    options = f'<option value="">{w("kb_topic_auto")}</option>' + "".join(
        f'<option value="{escape(k)}">{topic(k)}</option>' for k in TOPICS
    )
    upload = (
        f"<section><h2>{w('kb_upload_title')}</h2><p class=muted>{w('kb_upload_help', mb=f'{max_mb:g}')}</p>"
        f'<form method=post action="/kb/upload" enctype="multipart/form-data">{xsrf}'
        f"<p><input type=file name=file required></p><p><select name=topic>{options}</select></p>"
        f"<button>{w('kb_upload_button')}</button></form></section>"
    )
    table = f"<section><p>{summary}</p><div class=scroll><table><tr>{head}</tr>{''.join(rows)}</table></div></section>"
    return note + upload + table


def remove_confirm(doc, xsrf: str) -> str:
    question = w("kb_remove_confirm", title=escape(doc.title), path=escape(doc.path), chunks=doc.chunks)
    return (
        f'<section><p>{question}</p><form method=post action="/kb/remove">{xsrf}'
        f'<input type=hidden name=key value="{escape(doc.key)}"><button>{w("kb_remove_button")}</button> '
        f'<a href="/kb">{w("kb_cancel")}</a></form></section>'
    )


# -- model answers -------------------------------------------------------------
def _action(record_id: int, action: str, xsrf: str) -> str:
    return (
        f'<form class=inline method=post action="/answers">{xsrf}<input type=hidden name=id value="{record_id}">'
        f'<input type=hidden name=action value="{action}"><button>{w(action)}</button></form>'
    )


def answers(pending, recent, tz: ZoneInfo, *, xsrf: str, note: str = "") -> str:
    """Proposals waiting (approve / discard) and recent approved answers (retire), as /answers lists them."""

    def card(r, meta: str, actions: str) -> str:
        return (
            f"<div style='border-top:1px solid #e2e6ea;padding:.5rem 0'><div class=muted>{meta}</div>"
            f"<strong>{escape(r.question or '?')}</strong><pre>{escape(r.answer)}</pre>{actions}</div>"
        )

    waiting = (
        "".join(
            card(
                r,
                w(
                    "answers_meta",
                    id=r.id,
                    topic=topic(r.topic),
                    by=escape(r.proposed_by_name or str(r.proposed_by or "-")),
                ),
                _action(r.id, "approve", xsrf) + " " + _action(r.id, "discard", xsrf),
            )
            for r in pending
        )
        or f"<p>{w('answers_none')}</p>"
    )
    approved = (
        "".join(
            card(
                r,
                w(
                    "answers_approved_meta",
                    id=r.id,
                    topic=topic(r.topic),
                    by=escape(r.approved_by_name or str(r.approved_by or "-")),
                    when=_when(r.approved_at, tz),
                    review=f"{r.review_on:%d/%m/%Y}" if r.review_on else "-",
                ),
                _action(r.id, "retire", xsrf),
            )
            for r in recent
        )
        or f"<p>{w('answers_none')}</p>"
    )
    return (
        note
        + f"<section><h2>{w('answers_pending')} ({len(pending)})</h2>{waiting}</section>"
        + f"<section><h2>{w('answers_recent')}</h2>{approved}</section>"
    )


# -- technology needs ----------------------------------------------------------
def needs(records, tz: ZoneInfo, *, xsrf: str, note: str = "") -> str:
    """Profiles from `NeedsService.records` (no names or contacts here) and the XLSX export form."""
    from bot.needs import render

    export = (
        f'<section><h2>{w("needs_export_title")}</h2><form method=post action="/needs/export">{xsrf}'
        f"<p><label>{w('needs_from')} <input type=date name=from></label> "
        f"<label>{w('needs_to')} <input type=date name=to></label></p>"
        f"<p><label><input type=checkbox name=raw value=1> {w('needs_raw')}</label></p>"
        f"<button>{w('needs_export_button')}</button></form></section>"
    )
    if not records:
        return note + export + f"<section><p>{w('needs_none')}</p></section>"
    rows = []
    for r in reversed(records):  # newest first
        wanted = "; ".join(t(LANG, f"needs.need_{n}") for n in r.profile.needs) or "-"
        rows.append(
            f"<tr><td>#{r.id}</td><td>{escape(t(LANG, f'needs.status_{r.status}'))}</td>"
            f"<td>{escape(render.size_label(r.size_class, LANG))}</td><td>{topic(r.topic)}</td>"
            f"<td>{_when(r.submitted_at or r.created_at, tz)}</td><td>{escape(wanted)}</td></tr>"
        )
    head = "".join(
        f"<th>{w(k)}</th>"
        for k in ("needs_col_id", "needs_col_status", "needs_col_size", "needs_col_topic", "needs_col_date",
                  "needs_col_needs")
    )  # fmt: skip
    return note + export + f"<section><div class=scroll><table><tr>{head}</tr>{''.join(rows)}</table></div></section>"
