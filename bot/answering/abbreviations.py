"""The abbreviations owners type on phones, written out before a question is read.

"dn sieu nho dk shtt dc ho tro ko" is how many owners ask. The documents spell every term out, so the
keyword index finds nothing for "shtt" and the embedding model reads it as an unknown token. Only
abbreviations with one meaning in a business owner's question are here; "hd" (hợp đồng, hóa đơn, hướng dẫn),
"đk" (điều kiện, đăng ký), "bn" (bao nhiêu, bạn) and "hs" (hồ sơ, the HS customs code) stay as typed.
"""

from __future__ import annotations

import re

from indexer.textnorm import fold, has_diacritics

ABBREVIATIONS = {
    "shtt": "sở hữu trí tuệ",
    "cgcn": "chuyển giao công nghệ",
    "kh&cn": "khoa học và công nghệ",
    "khcn": "khoa học và công nghệ",
    "kh-cn": "khoa học và công nghệ",
    "dnnvv": "doanh nghiệp nhỏ và vừa",
    "dn": "doanh nghiệp",
    "cty": "công ty",
    "dk": "đăng ký",
    "sp": "sản phẩm",
    "nđ": "nghị định",
    "nđ-cp": "nghị định",
    "qđ": "quyết định",
    "tnhh": "trách nhiệm hữu hạn",
    "ubnd": "ủy ban nhân dân",
    "nsnn": "ngân sách nhà nước",
    "bhxh": "bảo hiểm xã hội",
    "tncn": "thu nhập cá nhân",
    "tndn": "thu nhập doanh nghiệp",
    "gtgt": "giá trị gia tăng",
    "vn": "Việt Nam",
    "ko": "không",
    "dc": "được",
    "đc": "được",
}
# A whole word only: "dn" in "dnnvv" or "sp" in "spa" is not the abbreviation; nor is a part of a decree number
# ("80/2021/NĐ-CP" keeps its "NĐ") or of an address ("dichvucong.gov.vn").
_WORD = re.compile(
    r"(?<![\w&/.@-])(" + "|".join(sorted(map(re.escape, ABBREVIATIONS), key=len, reverse=True)) + r")(?![\w&/-])",
    re.IGNORECASE,
)


def expand(text: str) -> str:
    """`text` with the abbreviations written out, in its own spelling: without diacritics when it has none, so
    that the question is still restored as a whole (a restorer leaves text that has diacritics as it is)."""
    plain = not has_diacritics(text)
    return _WORD.sub(lambda m: _written(m.group(1), plain), text)


def _written(abbreviation: str, plain: bool) -> str:
    words = ABBREVIATIONS[abbreviation.lower()]
    return fold(words) if plain else words
