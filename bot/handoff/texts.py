"""What the handoff says (Telegram HTML). Owners: Vietnamese or English; consultants: Vietnamese."""

from __future__ import annotations

import html

from indexer.config import TOPICS

e = html.escape

OWNER = {
    "vi": {
        "intake": "Để chuyên gia hỗ trợ sát hơn, bạn cho biết <b>tên doanh nghiệp và tỉnh/thành</b> nhé "
        "(không bắt buộc — bấm «Bỏ qua» để gửi yêu cầu ngay).",
        "skip": "Bỏ qua",
        "cancel": "Huỷ yêu cầu",
        "queued": "✅ Đã gửi yêu cầu <b>#{id}</b> ({topic}) tới nhóm chuyên gia của Trung tâm.\n"
        "Bạn đang ở vị trí số <b>{pos}</b> trong hàng chờ. {eta}\n\n"
        "Khi có chuyên gia nhận, mình sẽ báo bạn và chuyên gia sẽ nhắn ngay tại đây. Trong lúc chờ, "
        "bạn vẫn có thể hỏi mình; bấm «Huỷ yêu cầu» hoặc gõ /cancel nếu không cần nữa.",
        "eta_open": "Trong giờ làm việc ({hours}), chuyên gia thường phản hồi trong khoảng {minutes} phút.",
        "eta_closed": "Hiện đang ngoài giờ làm việc ({hours}); chuyên gia sẽ phản hồi từ {next}.",
        "waiting": "Yêu cầu <b>#{id}</b> của bạn đang chờ chuyên gia (vị trí số {pos}). {eta}",
        "talking": "Bạn đang trò chuyện với chuyên gia <b>{name}</b> (yêu cầu #{id}): cứ nhắn tại đây, "
        "tin nhắn sẽ được chuyển tới chuyên gia.",
        "claimed": "🧑‍💼 Chuyên gia <b>{name}</b> đã nhận yêu cầu #{id} và sẽ trả lời bạn ngay tại đây. "
        "Từ giờ tin nhắn của bạn (chữ, ảnh, tệp) được chuyển tới chuyên gia cho tới khi kết thúc.",
        "cancelled": "Đã huỷ yêu cầu #{id}. Bạn cứ tiếp tục hỏi mình nhé.",
        "nothing": "Bạn không có yêu cầu nào đang chờ chuyên gia.",
        "waiting_long": "⏳ Yêu cầu #{id} vẫn đang chờ; mình đã nhắc lại các chuyên gia, xin lỗi vì để bạn chờ. {eta}",
        "group_down": "⚠️ Hiện mình không liên lạc được với nhóm chuyên gia nên yêu cầu #{id} chưa tới được chuyên gia. "
        "Bạn vui lòng liên hệ trực tiếp Trung tâm, hoặc bấm «Huỷ yêu cầu» và thử lại sau. "
        "Mình đã báo quản trị viên.",
        "closed": "Chuyên gia {name} đã kết thúc cuộc trò chuyện (yêu cầu #{id}). Từ giờ mình — trợ lý tự động — "
        "trả lời bạn như trước.\n\nBạn đánh giá buổi tư vấn thế nào? (1 = chưa tốt, 5 = rất tốt)",
        "ended": "Bạn đã kết thúc cuộc trò chuyện với chuyên gia (yêu cầu #{id}). Từ giờ mình trả lời bạn như trước."
        "\n\nBạn đánh giá buổi tư vấn thế nào? (1 = chưa tốt, 5 = rất tốt)",
        "rated": "Cảm ơn bạn đã đánh giá {n}/5!",
        "transferred": "Yêu cầu #{id} đã được chuyển cho chuyên gia <b>{name}</b>, người sẽ tiếp tục trả lời bạn "
        "tại đây.",
        "released": "Chuyên gia tạm thời không tiếp tục được; yêu cầu #{id} đã trở lại hàng chờ và sẽ có chuyên gia "
        "khác nhận. Trong lúc chờ, bạn vẫn có thể hỏi mình.",
        "attached": "Mình đã đính kèm tệp này vào yêu cầu #{id}; chuyên gia sẽ nhận được khi nhận yêu cầu.",
        "offer": "Có vẻ mình chưa giúp được bạn. Bạn có muốn trao đổi trực tiếp với chuyên gia của Trung tâm không?",
        "offer_button": "🧑‍💼 Gặp chuyên gia",
        "unavailable": "Hiện bot chưa được kết nối với nhóm chuyên gia. Bạn vui lòng liên hệ trực tiếp Trung tâm "
        "trong giờ hành chính.",
        "consultant": "🧑‍💼 <b>{name}</b> (chuyên gia):",
    },
    "en": {
        "intake": "To help the consultant, tell me your <b>company name and province</b> "
        "(optional — press «Skip» to send the request now).",
        "skip": "Skip",
        "cancel": "Cancel request",
        "queued": "✅ Request <b>#{id}</b> ({topic}) was sent to the centre's consultants.\n"
        "You are number <b>{pos}</b> in the queue. {eta}\n\n"
        "When a consultant takes it, I will tell you and they will write to you right here. Meanwhile you "
        "can keep asking me; press «Cancel request» or type /cancel if you no longer need it.",
        "eta_open": "During working hours ({hours}) consultants usually reply within about {minutes} minutes.",
        "eta_closed": "It is outside working hours ({hours}); a consultant will reply from {next}.",
        "waiting": "Your request <b>#{id}</b> is waiting for a consultant (number {pos} in the queue). {eta}",
        "talking": "You are talking with consultant <b>{name}</b> (request #{id}): write here and your messages "
        "are passed on.",
        "claimed": "🧑‍💼 Consultant <b>{name}</b> took request #{id} and will reply right here. From now on your "
        "messages (text, photos, files) go to the consultant until the conversation ends.",
        "cancelled": "Request #{id} was cancelled. Ask me anything any time.",
        "nothing": "You have no request waiting for a consultant.",
        "waiting_long": "⏳ Request #{id} is still waiting; I reminded the consultants — sorry for the wait. {eta}",
        "group_down": "⚠️ I cannot reach the consultants' group right now, so request #{id} has not reached a "
        "consultant. Please contact the centre directly, or press «Cancel request» and try again "
        "later. I have told the administrators.",
        "closed": "Consultant {name} ended the conversation (request #{id}). From now on I, the automated advisor, "
        "answer again.\n\nHow was the consultation? (1 = poor, 5 = excellent)",
        "ended": "You ended the conversation with the consultant (request #{id}). I answer again from now on."
        "\n\nHow was the consultation? (1 = poor, 5 = excellent)",
        "rated": "Thank you for rating {n}/5!",
        "transferred": "Request #{id} was passed to consultant <b>{name}</b>, who continues here.",
        "released": "The consultant cannot continue; request #{id} is back in the queue and another consultant will "
        "take it. Meanwhile you can keep asking me.",
        "attached": "I attached this file to request #{id}; the consultant gets it when they take the request.",
        "offer": "It seems I could not help. Would you like to talk with one of the centre's consultants?",
        "offer_button": "🧑‍💼 Gặp chuyên gia (consultant)",
        "unavailable": "The bot is not connected to the consultants yet. Please contact the centre directly during "
        "office hours.",
        "consultant": "🧑‍💼 <b>{name}</b> (consultant):",
    },
}

CLAIM_BUTTON = "✋ Nhận yêu cầu"
TRIGGERS = {
    "button": "nút «Hỏi chuyên gia»",
    "command": "lệnh /human",
    "wish": "khách muốn gặp người",
    "offer": "bot gợi ý (chưa trả lời được)",
}
STATE_LINE = {
    "claimed": "✅ <b>{name}</b> đã nhận lúc {time}.",
    "transferred": "🔁 <b>{name}</b> đang phụ trách (chuyển lúc {time}).",
    "closed": "🏁 Đã đóng lúc {time} ({name}).",
    "cancelled": "❌ Khách đã huỷ lúc {time}.",
    "owner_blocked": "⚠️ Khách đã chặn bot ({time}); yêu cầu đã đóng.",
    "requeued": "↩️ Trở lại hàng chờ lúc {time}.",
}
CONSULTANT = {
    "not_consultant": "Chỉ chuyên gia đã đăng ký mới nhận được yêu cầu.",
    "taken": "Yêu cầu #{id} đã được {name} nhận trước.",
    "yours": "Bạn đã nhận yêu cầu #{id} rồi.",
    "stale": "Yêu cầu #{id} đã {state}; nút này không còn dùng được.",
    "claimed_toast": "Bạn đã nhận yêu cầu #{id}; xem tin nhắn riêng với bot.",
    "relay_label": "👤 <b>{name}</b> (#{id}):",
    "choose": "Bạn đang phụ trách {n} yêu cầu. Gửi tin nhắn này cho ai? (Lần sau hãy trả lời — reply — vào tin "
    "của khách để chọn.)",
    "choose_close": "Bạn muốn đóng yêu cầu nào?",
    "choose_transfer": "Bạn muốn chuyển yêu cầu nào?",
    "transfer_to": "Chuyển yêu cầu #{id} cho ai?",
    "requeue_button": "↩️ Trả về hàng chờ",
    "none_active": "Bạn không phụ trách yêu cầu nào.",
    "closed_ack": "Đã đóng yêu cầu #{id}; khách được mời đánh giá.",
    "owner_ended": "Khách đã kết thúc yêu cầu #{id}.",
    "owner_cancelled": "Khách đã huỷ yêu cầu #{id}.",
    "owner_blocked": "⚠️ Khách {name} đã chặn bot nên không nhận được tin nhắn; yêu cầu #{id} đã đóng.",
    "rating": "Khách đánh giá yêu cầu #{id}: {n}/5.",
    "transferred_ack": "Đã chuyển yêu cầu #{id} cho {name}.",
    "transferred_in": "🔁 {old} chuyển cho bạn yêu cầu #{id}.",
    "requeued_ack": "Đã trả yêu cầu #{id} về hàng chờ.",
    "consultant_unreachable": "⚠️ Không gửi được tin riêng cho {name} (chưa bấm Start với bot hoặc đã chặn bot). "
    "Yêu cầu #{id} trở lại hàng chờ.",
    "consultant_removed": "↩️ {name} không còn trong danh sách chuyên gia; yêu cầu #{id} trở lại hàng chờ.",
    "stale_choice": "Lựa chọn này đã cũ; yêu cầu không còn do bạn phụ trách.",
    "relayed": "Đã gửi cho khách của yêu cầu #{id}.",
    "help": "\n\nTừ giờ mọi tin nhắn (chữ, ảnh, tệp) bạn gửi ở đây được chuyển tới khách. Khi phụ trách nhiều yêu "
    "cầu, hãy trả lời (reply) vào tin của khách để chọn người nhận.\n/close — kết thúc · /transfer — chuyển "
    "cho chuyên gia khác · /queue — hàng chờ",
    "group_down": "🚨 Bot không gửi được tin vào nhóm chuyên gia (CONSULTANTS_CHAT_ID={chat}): {error}. "
    "Hãy thêm lại bot vào nhóm hoặc sửa CONSULTANTS_CHAT_ID; khách đang chờ đã được báo.",
    "not_admin": "Lệnh này chỉ dành cho quản trị viên.",
    "add_usage": "Cú pháp: /consultant_add TELEGRAM_ID chủ_đề1,chủ_đề2 Tên\nChủ đề: " + ", ".join(TOPICS),
    "remove_usage": "Cú pháp: /consultant_remove TELEGRAM_ID",
    "added": "Đã thêm chuyên gia {name} (id {id}; chủ đề: {topics}).",
    "removed": "Đã xoá chuyên gia id {id}.",
    "not_found": "Không có chuyên gia id {id}.",
    "only_consultants": "Lệnh này dành cho chuyên gia đã đăng ký.",
}


def owner(lang: str, key: str, **values: object) -> str:
    table = OWNER.get(lang, OWNER["vi"])
    return table[key].format(**values)


def topic_label(topic: str) -> str:
    return TOPICS.get(topic, TOPICS["other"])


def mention(user_id: int, name: str) -> str:
    return f'<a href="tg://user?id={int(user_id)}">{e(name)}</a>'


def card(ticket, questions: list[str], titles: list[str], experts: list) -> str:
    """The ticket card for the consultants' group."""
    who = e(ticket.user_name or str(ticket.user_id))
    lines = [
        f"🆕 <b>Yêu cầu #{ticket.id}</b> · {e(topic_label(ticket.topic))}",
        f"<b>Khách:</b> {who}" + (f" — {e(ticket.intake[:200])}" if ticket.intake else ""),
    ]
    if ticket.summary:
        lines.append(f"<b>Tóm tắt:</b> {e(ticket.summary)}")
    if questions:
        lines.append("<b>Câu hỏi gần đây:</b>\n" + "\n".join(f"• {e(q[:200])}" for q in questions))
    if titles:
        lines.append("<b>Bot đã dựa vào:</b> " + e("; ".join(titles[:4])))
    lines.append(f"<b>Lý do:</b> {e(TRIGGERS.get(ticket.trigger, ticket.trigger))}")
    if experts:
        lines.append("<b>Chuyên gia phù hợp:</b> " + ", ".join(mention(c.telegram_id, c.name) for c in experts))
    return "\n".join(lines)


def transcript(ticket, lines: list, header: str = "") -> list[str]:
    """The conversation so far, for the consultant who takes the ticket (one or more HTML messages)."""
    who = e(ticket.user_name or str(ticket.user_id))
    head = (header + "\n" if header else "") + (
        f"📋 <b>Yêu cầu #{ticket.id}</b> · {e(topic_label(ticket.topic))}\n<b>Khách:</b> {who}"
        + (f" — {e(ticket.intake[:200])}" if ticket.intake else "")
    )
    body = []
    for line in lines:
        icon = {"user": "👤", "bot": "🤖", "consultant": "🧑‍💼"}.get(line.role, "•")
        text = line.text if line.role != "bot" else _short(line.text, 400)
        if line.media:
            text = f"[{line.meta.get('file_name') or line.media}] {text}".strip()
        entry = f"{icon} {e(text)}"
        titles = (line.meta or {}).get("titles") or []
        if titles:
            entry += f"\n   <i>Nguồn: {e('; '.join(titles[:3]))}</i>"
        body.append(entry)
    parts = [head + ("\n\n<b>Hội thoại trước đó:</b>" if body else "\n\n(Chưa có hội thoại với bot.)")]
    for entry in body:
        if len(parts[-1]) + len(entry) + 2 > 3500:
            parts.append(entry)
        else:
            parts[-1] += "\n" + entry
    parts[-1] += CONSULTANT["help"]
    return parts


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " …"
