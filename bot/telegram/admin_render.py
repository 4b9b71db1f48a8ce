"""Staff replies as Telegram HTML, Vietnamese: knowledge-base status and list, refresh summary, gaps, stats."""

from __future__ import annotations

import datetime as dt
import re
from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.knowledge_admin import Document
from bot.reports.gaps import GapGroup
from bot.reports.stats import Stats
from indexer.config import TOPICS
from indexer.pipeline import Summary

REASON_LABELS = {"abstain": "chưa có tài liệu", "downvote": "👎", "handoff": "chuyển chuyên gia"}
MAX_LISTED = 15


def topic_label(key: str) -> str:
    return TOPICS.get(key, key or TOPICS["other"])


def _when(iso: str | None, tz) -> str:
    if not iso:
        return "chưa bao giờ"
    try:
        return dt.datetime.fromisoformat(iso).astimezone(tz).strftime("%d/%m/%Y %H:%M")
    except ValueError:
        return iso


def _stale_reason(reason: str) -> str:
    reason = re.sub(r"last_reviewed (\S+) is over 12 months old", r"rà soát lần cuối \1, quá 12 tháng", reason)
    return re.sub(r"effective_to (\S+) has passed", r"hết hiệu lực từ \1", reason)


def kb_status(data: dict, tz) -> str:
    topics = ", ".join(f"{escape(topic_label(k))} {v}" for k, v in sorted(data["topics"].items())) or "—"
    chunks = data["chunks"] if data["chunks"] is not None else "không truy cập được chỉ mục"
    lines = [
        f"<b>Kho tài liệu</b>: {data['documents']} tài liệu, {chunks} đoạn",
        f"Theo chủ đề: {topics}",
        f"Cập nhật chỉ mục lần cuối: {_when(data['last_refresh'], tz)}",
        f"<b>Cần rà soát</b> ({len(data['stale'])}):" if data["stale"] else "Cần rà soát: không có",
    ]
    lines += [f"• {escape(s['path'])}: {escape(_stale_reason(s['reason']))}" for s in data["stale"][:MAX_LISTED]]
    lines.append(f"<b>Tệp lỗi</b> ({len(data['failed'])}):" if data["failed"] else "Tệp lỗi: không có")
    lines += [f"• {escape(f['path'])}: {escape(f['reason'])}" for f in data["failed"][:MAX_LISTED]]
    return "\n".join(lines)


def kb_list(docs: list[Document]) -> str:
    if not docs:
        return "Kho chưa có tài liệu nào. Gửi một tệp vào đây để thêm."
    lines = [f"<b>Tài liệu</b> ({sum(1 for d in docs if not d.failed)}):"]
    topic = None
    for doc in docs:
        if doc.failed:
            continue
        if doc.topic != topic:
            topic = doc.topic
            lines.append(f"\n<b>{escape(topic_label(topic))}</b>")
        lines.append(f"• <code>{escape(doc.doc_id)}</code> {escape(doc.title)} — {doc.chunks} đoạn")
    failed = [d for d in docs if d.failed]
    if failed:
        lines.append("\n<b>Tệp lỗi</b> (chưa lập chỉ mục):")
        lines += [f"• <code>{escape(d.path)}</code>: {escape(d.failed)}" for d in failed]
    lines.append("\nXoá: /kb_remove &lt;mã&gt;")
    return "\n".join(lines)


def remove_keyboard(doc: Document) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("🗑 Xoá", callback_data=f"kbrm:{doc.key}"),
                InlineKeyboardButton("Huỷ", callback_data="kbrm:no"),
            ]
        ]
    )


def summary(s: Summary) -> str:
    if not (s.added or s.updated or s.renamed or s.removed or s.failed):
        head = f"✅ Chỉ mục đã cập nhật ({s.seconds:.1f} giây): không có thay đổi, {s.unchanged} tài liệu giữ nguyên."
    else:
        head = (
            f"✅ Cập nhật chỉ mục xong ({s.seconds:.1f} giây): thêm {len(s.added)}, sửa {len(s.updated)}, "
            f"đổi tên {len(s.renamed)}, xoá {len(s.removed)}, giữ nguyên {s.unchanged}, lỗi {len(s.failed)}; "
            f"{s.chunks_embedded} đoạn được nhúng."
        )
    lines = [head]
    for label, items in (("Thêm", s.added), ("Sửa", s.updated), ("Đổi tên", s.renamed), ("Xoá", s.removed)):
        if items:
            lines.append(
                f"{label}: "
                + ", ".join(escape(i) for i in items[:MAX_LISTED])
                + (" …" if len(items) > MAX_LISTED else "")
            )
    lines += [f"⚠️ {escape(f['path'])}: {escape(f['reason'])}" for f in s.failed[:MAX_LISTED]]
    return "\n".join(lines)


def gaps(groups: list[GapGroup], days: int, tz, limit: int = 10) -> str:
    if not groups:
        return f"Không có câu hỏi nào bot chưa đáp ứng trong {days} ngày qua. 🎉"
    total = sum(g.count for g in groups)
    lines = [f"<b>Câu hỏi bot chưa đáp ứng</b> ({days} ngày qua): {total} câu, {len(groups)} nhóm, mới nhất trước."]
    for n, group in enumerate(groups[:limit], 1):
        reasons = ", ".join(f"{REASON_LABELS[r]} {c}" for r, c in sorted(group.reasons.items()))
        lines.append(
            f"\n{n}. <b>{group.count} câu</b> · {escape(topic_label(group.topic))} · "
            f"gần nhất {group.last_seen.astimezone(tz):%d/%m %H:%M} · {reasons}"
        )
        lines += [f"   – {escape(text[:200])}" for text in group.examples()]
    if len(groups) > limit:
        lines.append(f"\n… và {len(groups) - limit} nhóm nữa (xem tệp CSV).")
    return "\n".join(lines)


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _duration(minutes: float | None) -> str:
    if minutes is None:
        return "—"
    if minutes < 90:
        return f"{minutes:.0f} phút"
    return f"{minutes / 60:.1f} giờ".replace(".", ",")


def stats(s: Stats) -> str:
    topics = ", ".join(f"{escape(topic_label(k))} {v}" for k, v in s.topics.most_common()) or "—"
    rating = "—" if s.average_rating is None else f"{s.average_rating:.1f}/5 ({s.ratings} lượt)".replace(".", ",", 1)
    handoffs = f"{s.handoffs}" + ("" if s.handoffs_from == "tickets" else " yêu cầu")
    return "\n".join(
        [
            f"<b>Thống kê {len(s.days)} ngày</b> ({s.period.start:%d/%m} – {s.period.end:%d/%m/%Y})",
            f"Câu hỏi: {s.questions} từ {s.users} người dùng",
            (
                f"Trả lời được: {s.answered} ({_share(s.answered_share)}) · chưa có tài liệu: {s.abstained} "
                f"({_share(s.abstained_share)})"
            ),
            f"Theo chủ đề: {topics}",
            (
                f"Chuyển chuyên gia: {handoffs} · chờ nhận (trung vị): {_duration(s.median_claim_minutes)} · "
                f"thời gian xử lý (trung vị): {_duration(s.median_duration_minutes)}"
            ),
            f"Đánh giá trung bình: {rating}",
            f"👍 {s.thumbs_up} / 👎 {s.thumbs_down} ({_share(s.helpful_share)} hữu ích)",
        ]
    )
