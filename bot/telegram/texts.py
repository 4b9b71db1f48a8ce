"""What the Telegram bot says, Vietnamese first."""

START = (
    "Xin chào! Mình là trợ lý tư vấn của <b>Trung tâm Ứng dụng tiến bộ KH&amp;CN</b>.\n\n"
    "Mình trả lời câu hỏi về sở hữu trí tuệ, chuyển giao công nghệ, cải tiến quy trình, chương trình hỗ trợ "
    "và khởi nghiệp, dựa trên tài liệu hướng dẫn của Trung tâm, kèm nguồn trích dẫn. Mình không thay thế tư vấn "
    "pháp lý cho trường hợp cụ thể: khi cần, bấm «Hỏi chuyên gia» hoặc gõ /human.\n\n"
    "Gõ không dấu cũng được. Chọn một chủ đề để xem câu hỏi mẫu:\n\n"
    "<i>Quyền riêng tư: mình lưu câu hỏi và câu trả lời để trả lời tiếp theo ngữ cảnh và cải thiện dịch vụ; "
    "xem /privacy, xoá bằng /forget.</i>"
)
HELP = (
    "Cách dùng:\n• Gõ câu hỏi bình thường, có dấu hay không dấu đều được.\n"
    "• /topics — chủ đề và câu hỏi mẫu\n• /human — gặp chuyên gia của Trung tâm\n"
    "• /new — bắt đầu cuộc trò chuyện mới (quên ngữ cảnh)\n• /privacy — dữ liệu được lưu\n"
    "• /forget — xoá dữ liệu của bạn"
)
PRIVACY = (
    "Bot lưu: các câu hỏi và câu trả lời (để hiểu câu hỏi tiếp theo và cải thiện tài liệu), đánh giá 👍/👎 "
    "và yêu cầu gặp chuyên gia. Dữ liệu chỉ dùng cho Trung tâm, không bán hay chia sẻ cho bên khác. "
    "Gõ /forget để xoá toàn bộ dữ liệu của bạn."
)
FORGET_CONFIRM = "Bạn chắc chắn muốn xoá toàn bộ câu hỏi, câu trả lời và đánh giá đã lưu của mình?"
FORGOTTEN = "Đã xoá dữ liệu của bạn ({n} tin nhắn). Bạn vẫn có thể tiếp tục hỏi bất cứ lúc nào."
NEW = "Đã bắt đầu cuộc trò chuyện mới. Bạn cứ hỏi nhé!"
NON_TEXT = (
    "Mình chỉ đọc được tin nhắn chữ. Bạn gõ câu hỏi giúp mình nhé (có dấu hay không dấu đều được), "
    "hoặc gõ /human để gặp chuyên gia."
)
TOO_LONG = "Tin nhắn khá dài nên mình chỉ đọc phần đầu ({n} ký tự). Câu hỏi ngắn gọn sẽ cho câu trả lời sát hơn."
THANKS_UP = "Cảm ơn bạn đã đánh giá!"
THANKS_DOWN = "Cảm ơn bạn. Mình sẽ ghi nhận để cải thiện; bấm «Hỏi chuyên gia» nếu bạn cần người trả lời."
SLOW_DOWN = (
    "Bạn đang hỏi hơi nhanh, mình cần một chút thời gian để trả lời mọi người. "
    "Bạn vui lòng đợi khoảng một phút rồi hỏi tiếp nhé."
)
ERROR = "Xin lỗi, mình gặp lỗi khi xử lý tin nhắn này. Bạn thử lại sau ít phút nhé."
TOPICS_PROMPT = "Chọn chủ đề:"
EXAMPLES_PROMPT = "Câu hỏi mẫu (bấm để hỏi):"
FORGET_CANCELLED = "Đã huỷ, dữ liệu của bạn vẫn được giữ."
STALE_BUTTON = "Nút này đã cũ, bạn thử lại nhé."
BTN_UP = "👍 Hữu ích"
BTN_DOWN = "👎 Chưa đúng"
BTN_HUMAN = "🧑‍💼 Hỏi chuyên gia"
BTN_FORGET_YES = "Xoá dữ liệu"
BTN_FORGET_NO = "Huỷ"
EXAMPLES = {
    "ip": ["Nhãn hiệu được bảo hộ bao lâu?", "dang ky nhan hieu o dau", "Bí mật kinh doanh là gì?"],
    "tech_transfer": ["Hợp đồng chuyển giao công nghệ có phải đăng ký không?", "dinh gia cong nghe the nao"],
    "process": ["5S gồm những gì?", "Bắt đầu cải tiến năng suất từ đâu?"],
    "funding": ["Doanh nghiệp nhỏ được hỗ trợ tư vấn sở hữu trí tuệ bao nhiêu?", "NATIF hỗ trợ gì?"],
    "startup": ["Đề án 844 là gì?", "Khởi nghiệp cần bảo vệ tài sản trí tuệ thế nào?"],
}

# --- Staff (ADMIN_IDS): knowledge base, gaps, statistics, export ---
ADMIN_ONLY = "Lệnh này chỉ dành cho quản trị viên của Trung tâm."
ADMIN_PRIVATE = "Dùng lệnh quản trị trong cuộc trò chuyện riêng với bot."
KB_HELP = (
    "Gửi tệp PDF, DOCX, Markdown, TXT hoặc HTML vào đây để thêm vào kho (ghi mã chủ đề như <code>ip</code>, "
    "<code>funding</code> ở phần chú thích để chọn chủ đề; gửi lại đúng tên tệp để thay bản cũ).\n"
    "/kb_list — danh sách · /kb_remove &lt;mã&gt; — xoá · /reindex — cập nhật chỉ mục\n"
    "/gaps — câu hỏi chưa đáp ứng · /stats — thống kê · /export YYYY-MM-DD YYYY-MM-DD [raw] — xuất CSV"
)
UPLOAD_WORKING = "📥 Đang đọc và lập chỉ mục «{name}»…"
UPLOAD_DONE = "✅ Đã thêm «{title}» ({path}, chủ đề {topic}): {chunks} đoạn đã lập chỉ mục. Bot dùng ngay tài liệu này."
UPLOAD_REPLACED = (
    "✅ Đã thay «{title}» bằng bản mới ({path}, chủ đề {topic}): {chunks} đoạn đã lập chỉ mục; "
    "các đoạn của bản cũ đã bị xoá."
)
UPLOAD_REFUSED = {
    "type": "❌ Không nhận «{name}»: định dạng {detail} chưa được hỗ trợ. Gửi PDF, DOCX, Markdown, TXT hoặc HTML.",
    "size": "❌ Không nhận «{name}»: tệp lớn hơn giới hạn {detail}.",
    "unreadable": "❌ Không đọc được «{name}»: {detail}.",
    "duplicate": "❌ Không thêm «{name}»: nội dung trùng với tài liệu đã có ({detail}).",
    "id_taken": (
        "❌ Không thêm «{name}»: mã tài liệu đã được dùng ({detail}). Đổi <code>id</code> trong front matter, "
        "hoặc gửi lại với đúng tên tệp cũ để thay thế."
    ),
    "busy": "⏳ Chưa thêm «{name}»: chỉ mục đang được cập nhật. Bạn gửi lại sau ít phút nhé.",
    "index": "❌ Không lập chỉ mục được «{name}»: {detail}.",
    "download": "❌ Không tải được «{name}» từ Telegram: {detail}.",
}
REINDEX_START = "🔄 Đang cập nhật chỉ mục…"
REINDEX_PROGRESS = "🔄 Đang cập nhật chỉ mục: đã nhúng {done}/{total} đoạn…"
REINDEX_BUSY = "⏳ Một lần cập nhật chỉ mục khác đang chạy; bạn thử lại sau ít phút."
REINDEX_FAILED = "❌ Không cập nhật được chỉ mục: {detail}"
REMOVE_USAGE = "Cách dùng: /kb_remove &lt;mã tài liệu hoặc tên tệp&gt; (xem mã bằng /kb_list)."
REMOVE_NOT_FOUND = "Không tìm thấy tài liệu «{ref}». Xem danh sách bằng /kb_list."
REMOVE_AMBIGUOUS = "Có nhiều tài liệu khớp «{ref}»: {detail}. Ghi rõ đường dẫn."
REMOVE_CONFIRM = "Xoá «{title}» ({path}, {chunks} đoạn) khỏi kho? Bot sẽ không trả lời từ tài liệu này nữa."
REMOVED = "🗑 Đã xoá «{title}» ({path}); {chunks} đoạn không còn trong chỉ mục."
REMOVE_CANCELLED = "Đã huỷ, tài liệu vẫn được giữ."
REMOVE_BUSY = (
    "⏳ Đã xoá tệp «{title}», nhưng chỉ mục đang bận; các đoạn của nó sẽ bị xoá ở lần cập nhật tới (/reindex)."
)
EXPORT_USAGE = (
    "Cách dùng: /export YYYY-MM-DD YYYY-MM-DD [raw] — xuất hội thoại và yêu cầu tư vấn trong khoảng ngày "
    "ra CSV; mã người dùng được ẩn danh, thêm <code>raw</code> để giữ mã Telegram thật."
)
EXPORT_EMPTY = "Không có dữ liệu từ {start} đến {end}."
EXPORT_DONE = "Đã xuất dữ liệu từ {start} đến {end} ({mode})."
EXPORT_RAW_NOTE = "mã Telegram thật — giữ tệp cẩn thận"
EXPORT_PSEUDO_NOTE = "mã người dùng đã ẩn danh"
WORKING = "⏳ Đang tổng hợp…"


# English, for users who write English (or, before they write, whose Telegram is set to English).
# A button that reaches a consultant keeps "chuyên gia" in its label in both languages.
EN = {
    "START": (
        "Hello! I am the advisor of the provincial <b>science and technology application centre</b>.\n\n"
        "I answer questions on intellectual property, technology transfer, process improvement, support "
        "programmes and startups from the centre's guidance documents (in Vietnamese), with sources. I do not "
        "replace legal advice on your specific case: press «Ask an expert (chuyên gia)» or type /human to reach "
        "a consultant.\n\nChoose a topic to see example questions:\n\n"
        "<i>Privacy: questions and answers are stored to follow the conversation and improve the service; "
        "see /privacy, delete with /forget.</i>"
    ),
    "HELP": (
        "How to use:\n• Type your question, in English or Vietnamese.\n• /topics — topics and examples\n"
        "• /human — talk to a consultant of the centre\n• /new — new conversation (forget the context)\n"
        "• /privacy — what is stored\n• /forget — delete your data"
    ),
    "PRIVACY": (
        "The bot stores your questions and its answers (to follow up and to improve the documents), your "
        "👍/👎 ratings and consultant requests. They are used by the centre only, never sold or shared. "
        "Type /forget to delete all of it."
    ),
    "NEW": "New conversation started. Ask away!",
    "FORGET_CONFIRM": "Delete all your stored questions, answers and ratings?",
    "FORGOTTEN": "Your data has been deleted ({n} messages). You can keep asking at any time.",
    "FORGET_CANCELLED": "Cancelled; your data is kept.",
    "NON_TEXT": ("I can only read text. Please type your question, or /human to reach a consultant."),
    "SLOW_DOWN": "You are asking a little fast. Please wait about a minute before the next question.",
    "TOO_LONG": "Your message is long, so I read only the first {n} characters. A short question gets a better answer.",
    "THANKS_UP": "Thank you for the rating!",
    "THANKS_DOWN": "Thank you. We will use this to improve; press «Ask an expert (chuyên gia)» if you need a person.",
    "ERROR": "Sorry, something went wrong with this message. Please try again in a few minutes.",
    "TOPICS_PROMPT": "Choose a topic:",
    "EXAMPLES_PROMPT": "Example questions (tap to ask):",
    "STALE_BUTTON": "This button is out of date; please try again.",
    "BTN_UP": "👍 Helpful",
    "BTN_DOWN": "👎 Not right",
    "BTN_HUMAN": "🧑‍💼 Ask an expert (chuyên gia)",
    "BTN_FORGET_YES": "Delete my data",
    "BTN_FORGET_NO": "Cancel",
}
TOPIC_LABELS_EN = {
    "ip": "Intellectual property",
    "tech_transfer": "Technology transfer",
    "process": "Process improvement, productivity and quality",
    "funding": "Programmes, funds and support policies",
    "startup": "Innovative startups",
    "other": "Other",
}
EXAMPLES_EN = {
    "ip": ["How long is a trademark protected?", "Where do I register a trademark?"],
    "tech_transfer": ["Does a technology transfer contract have to be registered?"],
    "process": ["What does 5S consist of?"],
    "funding": ["What does NATIF fund?"],
    "startup": ["What is Project 844?"],
}


def language_of(user, written: str | None = None) -> str:
    """The language to talk to a user in: what they last wrote, else their Telegram's language."""
    if written in ("vi", "en"):
        return written
    return "en" if user is not None and (user.language_code or "").lower().startswith("en") else "vi"


def text(lang: str, key: str) -> str:
    if lang == "en" and key in EN:
        return EN[key]
    return globals()[key]


def examples(lang: str, key: str) -> list[str]:
    return (EXAMPLES_EN if lang == "en" else EXAMPLES).get(key, [])


def for_user(user, key: str, written: str | None = None) -> str:
    """The text `key` in the user's language (see language_of)."""
    return text(language_of(user, written), key)
