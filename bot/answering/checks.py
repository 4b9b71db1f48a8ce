"""Checks before answering: what type of answer the question asks for, and whether a sentence gives it.

The type comes from the question's interrogative words, a small closed class of the language ("bao lâu",
"ở đâu", "bao nhiêu", "có … không"), not from phrasings of particular questions:
- duration ("bao lâu", "mấy năm", "thời hạn", "how long"): a number of days/months/years, or "no fixed term";
- date ("khi nào", "ngày nào", "từ bao giờ", "when"): a date;
- place ("ở đâu", "cơ quan nào", "where"): an office, a place or a channel;
- amount ("bao nhiêu tiền", "phí", "mấy phần trăm", "how much"): a sum of money or a percentage;
- yes/no ("có … không", "được không", "is/does/can …?"): the answer leads with "Có" or "Không".
"""

from __future__ import annotations

import itertools
import re

from indexer.textnorm import fold, nfc

_DURATION_Q = re.compile(
    r"\b(bao lau|may (nam|thang|ngay|tuan)|bao nhieu (nam|thang|ngay|tuan)|thoi han|han chot|trong bao|"
    r"how long|how many (years|months|days|weeks)|deadline|time limit)\b"
)
_DATE_Q = re.compile(
    r"\b(khi nao|ngay nao|luc nao|tu bao gio|bao gio|tu ngay nao|nam nao|thang nao|when|what date|which date|since when)\b"
)
_PLACE_Q = re.compile(
    r"\b(o dau|noi nao|cho nao|co quan nao|cuc nao|so nao|bo nao|don vi nao|to chuc nao|dau vay|tai dau|"
    r"trang nao|web nao|website nao|where|which (office|authority|agency|body|website|site))\b"
)
_AMOUNT_Q = re.compile(
    r"\b(bao nhieu tien|bn tien|may tien|bao nhieu phan tram|may phan tram|bn phan tram|bao nhieu %|bn %|"
    r"ty le|muc ho tro|ho tro bao nhieu|ho tro bn|le phi|chi phi|phi|gia bao nhieu|ton bao nhieu|toi da bao nhieu|"
    r"how much|what percentage|what share|fee|fees|cost)\b"
)
_YESNO_VI = re.compile(
    r"(\b(co|phai|duoc|can|nen|bat buoc)\b.*\b(khong|ko|k|hong|chua)\s*[?!.]*$)|(\b(duoc khong|dc ko|duoc ko|"
    r"phai khong|dung khong|dung ko|co phai)\b)|\b(ha|a)\s*[?]*$"
)
_YESNO_EN = re.compile(r"^\s*(is|are|do|does|did|can|could|must|should|will|would|has|have|may)\b", re.IGNORECASE)

_DURATION = re.compile(
    r"(\d+\s*(nam|thang|ngay|tuan|gio|years?|months?|days?|weeks?)\b|vo thoi han|khong (co )?thoi han|"
    r"khong gioi han|indefinite|no fixed term|khong co thoi han co dinh)"
)
_DATE = re.compile(r"(\b\d{1,2}/\d{1,2}/\d{4}\b|\bngay \d{1,2}( thang |/)\d{1,2}|\b(19|20)\d{2}\b)")
_PLACE = re.compile(
    r"\b(cuc|so|bo|uy ban|trung tam|vien|co quan|tai|cong dich vu cong|truc tuyen|online|gs1|van phong|"
    r"quan ly thi truong|toa an|tru so|ha noi|ubnd|website|trang|database|wipo|cong thong tin)\b|\w\.(vn|int|org|com)\b"
)
# Document sentences carry their diacritics, and folding them makes place words collide with common ones
# ("tài liệu" -> "tai", "số" -> "so", "bỏ" -> "bo"): a sentence with diacritics is matched as written.
_PLACE_MARKED = re.compile(
    r"\b(cục|sở|bộ|ủy ban|uỷ ban|trung tâm|viện|cơ quan|tại|cổng dịch vụ công|trực tuyến|online|gs1|văn phòng|"
    r"quản lý thị trường|tòa án|toà án|trụ sở|hà nội|ubnd|website|trang web|trang thông tin|database|wipo|"
    r"cổng thông tin)\b|\w\.(vn|int|org|com)\b"
)
_AMOUNT = re.compile(r"(\d[\d.,]*\s*(dong|trieu|ty|nghin|vnd|%|phan tram|usd)|mien phi|khong mat phi|khong thu phi)")
_NEGATIONS = {"khong", "chua", "ko", "k", "cha", "no", "not", "never"}
_MARKERS = {"co", "phai", "duoc", "can", "nen", "bat", "buoc", "khong", "ko", "k", "chua", "hong", "dc", "a", "ha"}
_FILLER = {"vay", "nhi", "nhe", "a", "ha", "u", "the", "nua", "ạ"}


def asked_type(question: str) -> str | None:
    """duration | date | place | amount | yesno | None, from the question's interrogative words."""
    folded = fold(question).strip()
    if _DURATION_Q.search(folded):
        return "duration"
    if _PLACE_Q.search(folded):
        return "place"
    if _AMOUNT_Q.search(folded):
        return "amount"
    if _DATE_Q.search(folded):
        return "date"
    if _YESNO_VI.search(folded) or _YESNO_EN.search(question):
        return "yesno"
    return None


# Question words of the language (a closed class). "còn X thì sao?" / "what about X?" frame a switch of subject
# and ask nothing of their own: such a follow-up keeps the previous question's aspect.
_SWITCH_FRAME = re.compile(r"\b(thi|vay|the)\s+(sao|the nao|ra sao)\b|\b(what|how)\s+about\b")
_QUESTION_WORD = re.compile(
    r"\b(gi|j|dau|nao|bao lau|bao nhieu|bn|may|sao|the nao|ra sao|khong|ko|chua|"
    r"what|where|when|how|which|who|why|whom)\b"
)


def asks_its_own(text: str) -> bool:
    """The message asks something itself ("hồ sơ cần những gì?", "giá ghi thế nào?"), beyond a switch frame."""
    return bool(_QUESTION_WORD.search(_SWITCH_FRAME.sub(" ", fold(text).lower())))


def carries(text: str, kind: str | None) -> bool:
    """The sentence gives an answer of this type (always true for yes/no and for no type)."""
    if kind is None or kind == "yesno":
        return True
    folded = fold(text)
    if kind == "place" and not text.isascii():
        return bool(_PLACE_MARKED.search(text.lower()))
    pattern = {"duration": _DURATION, "date": _DATE, "place": _PLACE, "amount": _AMOUNT}[kind]
    return bool(pattern.search(folded))


_POLAR_START = re.compile(r"^(co|khong|chua|duoc|yes|no)\b")


def polar_start(text: str) -> bool:
    """The sentence already starts with the yes or the no ("Có, …", "Không bắt buộc …", "Chưa nên …")."""
    return bool(_POLAR_START.match(fold(text).strip()))


def _predicate(question: str) -> list[str]:
    """The words a Vietnamese yes/no question asks about: those just before its closing "không"/"chưa"
    ("… có phải đăng ký không" -> ["dang", "ky"]; "… có bắt buộc ko" -> ["bat", "buoc"])."""
    words = re.findall(r"\w+", fold(question).lower())
    while words and words[-1] in _FILLER:
        words.pop()
    if not words or words[-1] not in {"khong", "ko", "k", "chua", "hong"}:
        return []
    words.pop()
    found: list[str] = []
    while words and len(found) < 3:
        word = words.pop()
        if word in {"co", "phai", "duoc", "can", "nen"} and found:
            break
        found.insert(0, word)
    return [w for w in found if w not in {"co", "phai", "duoc", "can", "nen"}] or found


def lead(question: str, sentence: str) -> str | None:
    """'yes' or 'no' when the sentence answers the yes/no question's predicate plainly, None when unsure.

    "không bắt buộc", "không phải đăng ký", "chưa được" before the predicate: no; the predicate stated without
    a negation just before it: yes. Sentences that do not name the predicate decide nothing.
    """
    predicate = _predicate(question)
    if not predicate:
        return None
    words = re.findall(r"\w+", fold(sentence).lower())
    size = len(predicate)
    for i in range(len(words) - size + 1):
        if words[i : i + size] != predicate:
            continue
        before = words[max(0, i - 3) : i]
        if any(w in _NEGATIONS for w in before):
            return "no"
        return "yes"
    if "bat buoc" in " ".join(predicate) and "tu nguyen" in " ".join(words):
        return "no"
    return None


# Public bodies, places and programmes a question can name by a proper name ("tỉnh Lâm Viên", "Quỹ Hưng Thịnh"):
# a small closed class of the language's nouns, as written (folded, "quận" would be "quán" and "tỉnh" "tính").
_NAMED_KINDS = tuple(
    kind.split()
    for kind in (
        "tỉnh",
        "thành phố",
        "tp",
        "tp.",
        "huyện",
        "quận",
        "thị xã",
        "xã",
        "phường",
        "quỹ",
        "chương trình",
        "đề án",
        "dự án",
        "sở",
    )
)
MAX_NAME_WORDS = 4


def unknown_name(question: str, known_pair, doc_freq) -> str | None:
    """A place, body or programme the question names with capitals ("tỉnh Lâm Viên") that no document mentions:
    the documents say nothing about it, whatever they say about its neighbours (the national programme, another
    province). `known_pair(a, b)` and `doc_freq(word)` are the keyword index's, on folded words."""
    words = re.sub(r"[,;:?!()\"«»]", " ", nfc(question)).split()
    lowered = [w.lower() for w in words]
    for i in range(len(words)):
        for kind in _NAMED_KINDS:
            if lowered[i : i + len(kind)] != list(kind):
                continue
            name = []
            for word in words[i + len(kind) : i + len(kind) + MAX_NAME_WORDS]:
                if not word[:1].isupper():
                    break
                name.append(word.rstrip("."))
            keys = [fold(w) for w in name if fold(w)]
            if not keys:
                continue
            if len(keys) == 1:
                known = doc_freq(keys[0]) > 0
            else:
                known = any(known_pair(a, b) for a, b in itertools.pairwise(keys))
            if not known:
                return " ".join(name)
    return None
