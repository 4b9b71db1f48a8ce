"""User-facing wording of the answer engine, Vietnamese first."""

from __future__ import annotations

import re

TEXT = {
    "vi": {
        "greeting": "Xin chào! Mình là trợ lý tư vấn của Trung tâm Ứng dụng tiến bộ KH&CN. Bạn cứ hỏi về sở hữu "
        "trí tuệ, chuyển giao công nghệ, cải tiến quy trình hay các chương trình hỗ trợ doanh nghiệp nhé.",
        "thanks": "Rất vui được giúp bạn! Nếu cần hỏi thêm, bạn cứ nhắn nhé.",
        "handoff_request": "Mình sẽ chuyển bạn tới chuyên gia của Trung tâm. Chuyên gia sẽ xem lại câu hỏi của bạn "
        "và trả lời ngay trong cuộc trò chuyện này. Lần sau, bạn có thể bấm «Hỏi chuyên gia» dưới mỗi câu trả lời "
        "hoặc gõ /human bất cứ lúc nào.",
        "abstain": "Xin lỗi, tài liệu hướng dẫn của Trung tâm chưa có thông tin để trả lời câu hỏi này, nên mình không "
        "muốn đoán. Mình có thể chuyển câu hỏi tới chuyên gia của Trung tâm: bấm «Hỏi chuyên gia» hoặc gõ "
        "/human. Bạn cũng có thể hỏi về sở hữu trí tuệ, chuyển giao công nghệ, cải tiến quy trình, "
        "chương trình hỗ trợ và khởi nghiệp.",
        "offer": "Câu trả lời có thể chưa sát trường hợp của bạn. Nếu cần, bấm «Hỏi chuyên gia» để được tư vấn cụ thể.",
        "changed": "Quy định này áp dụng từ {since}; trước đó (đến {until}) áp dụng quy định cũ [{n}].",
        "lead": "",
        "in_force_from": "hiệu lực từ",
        "until": "hết hiệu lực",
    },
    "en": {
        "greeting": "Hello! I am the advisor of the provincial science and technology application centre. Ask me about "
        "intellectual property, technology transfer, process improvement or support programmes.",
        "thanks": "Glad to help! Ask any time.",
        "handoff_request": "I will pass you to one of the centre's consultants. They will read your question and "
        "reply right here in this chat. Any time, press «Ask an expert (chuyên gia)» under an answer or type /human.",
        "abstain": "Sorry, the centre's guidance documents do not cover this question, so I will not guess. I can pass "
        "it to a consultant: press «Ask an expert (chuyên gia)» or type /human. I can answer questions on intellectual "
        "property, technology transfer, process improvement, support programmes and startups.",
        "offer": "This may not fit your case exactly. Press «Ask an expert (chuyên gia)» to ask a consultant.",
        "changed": "This rule applies from {since}; until {until} an older rule applied [{n}].",
        "lead": "From the centre's guidance (in Vietnamese):",
        "in_force_from": "in force from",
        "until": "until",
    },
}


def source_line(n: int, source, lang: str = "vi") -> str:
    """[n] Title — Section — legal basis — in force from."""
    t = TEXT[lang]
    parts = [source.title]
    if source.section:
        parts.append(source.section)
    if source.legal_basis:
        parts.append(source.legal_basis)
    if source.effective_from:
        parts.append(f"{t['in_force_from']} {vn_date(source.effective_from, pad=True)}")
    if source.effective_to:
        parts.append(f"{t['until']} {vn_date(source.effective_to, pad=True)}")
    return f"[{n}] " + " — ".join(parts)


# Where the name of a legal instrument ends and its articles begin: "Luật SHTT 2005 (sửa đổi …), Điều 6, …".
_ARTICLES = re.compile(r",\s*(Điều|điều|Khoản|khoản|Article|Art\.|Articles)\b.*$")


def main_instrument(legal_basis: str) -> str:
    """The first instrument of a legal basis, without its articles: what fits a phone's source list."""
    first = legal_basis.split("; ")[0].strip()
    return _ARTICLES.sub("", first).strip()


def short_source_line(n: int, source) -> str:
    """[n] Title — main instrument (the full legal basis is one tap away in Telegram)."""
    instrument = main_instrument(source.legal_basis) if source.legal_basis else ""
    return f"[{n}] {source.title}" + (f" — {instrument}" if instrument else "")


def basis_block(n: int, title: str, section: str, legal_basis: str, since: str, until: str, lang: str, labels) -> str:
    """One source's full reference: section, every instrument and article, when it applies."""
    t = TEXT[lang]
    lines = [f"[{n}] {title}"]
    if section:
        lines.append(f"{labels['section']}: {section}")
    lines.extend(f"• {part.strip()}" for part in legal_basis.split("; ") if part.strip())
    if not legal_basis:
        lines.append(f"• {labels['none']}")
    when = []
    if since:
        when.append(f"{t['in_force_from']} {vn_date(since, pad=True)}")
    if until:
        when.append(f"{t['until']} {vn_date(until, pad=True)}")
    if when:
        lines.append(", ".join(when).capitalize())
    return "\n".join(lines)


def vn_date(iso: str, pad: bool = False) -> str:
    """2026-04-01 -> 1/4/2026 (or 01/04/2026 with pad); "" when it is not a date."""
    try:
        y, m, d = iso[:10].split("-")
        return f"{int(d):02d}/{int(m):02d}/{y}" if pad else f"{int(d)}/{int(m)}/{y}"
    except ValueError:
        return ""
