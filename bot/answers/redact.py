"""Personal details out of a drafted question or answer: what a model answer must never carry.

A proposal is drafted from one owner's words, and an approved answer is shown to everybody; so names, phone
numbers, e-mail addresses, tax codes, company names and street addresses are replaced by neutral words
before an admin sees the draft. Patterns rather than a model: they are predictable, and the admin still
reads every draft before approving it. The names the bot already knows (the owner's Telegram name, the
company given at intake, the consultant's name) are removed wherever they appear.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from indexer.textnorm import fold, nfc

# Capital letters (Vietnamese ones included, NFC), for names written with initial capitals; a range such as
# "À-Ỹ" would also take lower-case letters, which lie between the capitals in Unicode.
_UPPER = "A-Z" + "".join(ch for ch in map(chr, range(0xC0, 0x1EFA)) if ch.isupper())
_NAME_WORD = rf"[{_UPPER}][^\s,.;:!?()\"'0-9]*"

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
# Tax codes (mã số thuế) named as such: 10 digits, or 10 + "-" + 3 for a branch.
_TAX = re.compile(r"(?i:\b(?:mst|m[aã]\s+s[oố]\s+thu[eế]|tax\s+code)\s*:?\s*)\d{10}(?:-\d{3})?(?!\d)")
# Phone numbers: +84 or 0, then 8-10 more digits, spaces, dots or dashes allowed between groups.
_PHONE = re.compile(r"(?<!\d)(?:\+?84|0)(?:[\s.-]?\d){8,10}(?!\d)")
_LONG_NUMBER = re.compile(r"(?<!\d)\d{10}(?:-\d{3})?(?!\d)|(?<!\d)\d{11,}(?!\d)")  # unnamed codes, accounts
_COMPANY = re.compile(
    r"(?i:\b(?:c[oô]ng\s+ty|cty|c\.ty|doanh\s+nghi[eệ]p\s+t[uư]\s+nh[aâ]n|dntn|h[oợ]p\s+t[aá]c\s+x[aã]|htx|"
    r"h[oộ]\s+kinh\s+doanh|c[oơ]\s+s[oở]|x[uư][oở]ng)"
    r"(?:\s+(?:tnhh|cp|c[oổ]\s+ph[aầ]n|tr[aá]ch\s+nhi[eệ]m\s+h[uữ]u\s+h[aạ]n)(?:\s+(?:mtv|m[oộ]t\s+th[aà]nh\s+vi[eê]n))?)?)"
    rf"(?:\s+{_NAME_WORD})+"
)
_PLACE = rf"(?:{_NAME_WORD}|\d+[\w/-]*)"
_ADDRESS = re.compile(
    r"(?i:\b(?:s[oố]\s+(?:nh[aà]\s+)?)?)\d+[\w/-]*"
    r"(?i:\s+(?:đường|duong|phố|pho|ngõ|ngo|ngách|hẻm|hem|khu|thôn|ấp|tổ|kp))"
    rf"(?:\s+{_PLACE})+"
    r"(?:\s*,\s*(?i:(?:phường|phuong|quận|quan|huyện|huyen|xã|xa|thị\s+trấn|tp\.?|thành\s+phố|tỉnh|tinh)\s+)?"
    rf"{_PLACE}(?:\s+{_PLACE})*)*"
)
# "tôi là Lan", "em tên Hùng": an introduction, then a name written with capitals.
_INTRO = re.compile(rf"(?i:\b(?:t[eê]n\s+(?:l[aà]\s+)?|l[aà]\s+))((?:{_NAME_WORD}\s*){{1,4}})")
# "anh Minh", "chị Nguyễn Thị Lan": an honorific, then a name written with capitals.
_HONORIFIC = re.compile(
    rf"(?i:\b(anh|chị|chi|em|ông|ong|bà|cô|chú|chu|bác|bac|mr\.?|mrs\.?|ms\.?))\s+((?:{_NAME_WORD}\s*){{1,4}})"
)

NEUTRAL = {
    "email": "[email]",
    "phone": "[số điện thoại]",
    "tax": "[mã số]",
    "company": "doanh nghiệp",
    "address": "[địa chỉ]",
    "name": "",
}


def redact(text: str, known_names: Iterable[str] = ()) -> str:
    """The text without personal details; `known_names` (people, companies) are removed wherever they appear."""
    text = nfc(text)
    text = _URL.sub("[liên kết]", text)
    text = _EMAIL.sub(NEUTRAL["email"], text)
    text = _TAX.sub(NEUTRAL["tax"], text)
    text = _PHONE.sub(NEUTRAL["phone"], text)
    text = _LONG_NUMBER.sub(NEUTRAL["tax"], text)
    text = _ADDRESS.sub(NEUTRAL["address"], text)
    text = _COMPANY.sub(NEUTRAL["company"], text)
    for name in sorted({nfc(n).strip() for n in known_names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        text = _remove_name(text, name)
    text = _INTRO.sub(lambda m: m.group(0)[: m.start(1) - m.start(0)].rstrip() + " ", text)
    text = _HONORIFIC.sub(lambda m: m.group(1) + " ", text)
    return _tidy(text)


def _remove_name(text: str, name: str) -> str:
    """Every occurrence of a known name, with or without diacritics and in any case."""
    folded, target = fold(text), fold(name)
    if len(folded) != len(text):  # folding changed lengths (rare letters): fall back to an exact match
        return re.sub(re.escape(name), "", text, flags=re.IGNORECASE)
    out, start = [], 0
    for m in re.finditer(rf"(?<!\w){re.escape(target)}(?!\w)", folded):
        out.append(text[start : m.start()])
        start = m.end()
    out.append(text[start:])
    return "".join(out)


def _tidy(text: str) -> str:
    text = re.sub(r"[ \t]{2,}", " ", text)
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:])\1+", r"\1", text)
    return "\n".join(line.strip() for line in text.splitlines()).strip()
