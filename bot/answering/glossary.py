"""English domain terms -> the Vietnamese words the guidance documents use.

An English question is matched to the Vietnamese documents by embeddings; these terms add the keyword
signal that Vietnamese questions get from BM25 ("patent" must find "sáng chế", not a semiconductor rule).
Longer phrases win over the words inside them. Keep entries generic: words an owner would use, not
phrasings of particular questions.
"""

from __future__ import annotations

import re
from functools import lru_cache

TERMS: dict[str, str] = {
    # intellectual property
    "intellectual property": "sở hữu trí tuệ", "ip": "sở hữu trí tuệ", "ip rights": "quyền sở hữu trí tuệ",
    "trademark": "nhãn hiệu", "trade mark": "nhãn hiệu", "brand": "nhãn hiệu thương hiệu",
    "brand name": "nhãn hiệu", "logo": "logo nhãn hiệu", "patent": "sáng chế bằng độc quyền sáng chế",
    "invention": "sáng chế", "utility solution": "giải pháp hữu ích", "utility model": "giải pháp hữu ích",
    "industrial design": "kiểu dáng công nghiệp", "design": "kiểu dáng", "shape": "hình dáng kiểu dáng",
    "packaging": "bao bì kiểu dáng", "copyright": "quyền tác giả bản quyền", "software": "phần mềm",
    "trade secret": "bí mật kinh doanh", "confidential": "bảo mật bí mật", "nda": "thỏa thuận bảo mật",
    "recipe": "công thức bí mật kinh doanh", "trade name": "tên thương mại", "company name": "tên thương mại",
    "geographical indication": "chỉ dẫn địa lý", "specialty": "đặc sản chỉ dẫn địa lý",
    "infringement": "xâm phạm", "infringe": "xâm phạm", "counterfeit": "hàng giả", "fake": "hàng giả hàng nhái",
    "copy": "hàng nhái sao chép", "opposition": "phản đối đơn", "oppose": "phản đối đơn",
    "first to file": "nộp đơn đầu tiên", "priority": "quyền ưu tiên", "search": "tra cứu",
    "madrid": "madrid", "pct": "pct", "abroad": "nước ngoài", "international": "quốc tế nước ngoài",
    "employee": "người lao động", "outsourcing": "thuê ngoài", "contractor": "thuê ngoài",
    "protection": "bảo hộ", "protected": "bảo hộ", "protect": "bảo hộ", "renew": "gia hạn",
    "renewal": "gia hạn", "term": "thời hạn", "how long": "thời hạn bao lâu", "valid": "hiệu lực",
    "application": "đơn", "apply": "nộp đơn", "file": "nộp đơn", "filing": "nộp đơn", "register": "đăng ký",
    "registration": "đăng ký", "examination": "thẩm định", "certificate": "giấy chứng nhận văn bằng",
    "fee": "phí lệ phí", "fees": "phí lệ phí", "cost": "chi phí phí", "price": "giá chi phí",
    "ip office": "cục sở hữu trí tuệ",
    # technology transfer
    "technology transfer": "chuyển giao công nghệ", "transfer": "chuyển giao", "technology": "công nghệ",
    "contract": "hợp đồng", "license": "li xăng chuyển quyền sử dụng", "licence": "li xăng chuyển quyền sử dụng",
    "valuation": "định giá", "value": "định giá giá trị", "prohibited": "cấm chuyển giao",
    "restricted": "hạn chế chuyển giao", "supplier": "tìm công nghệ đối tác", "partner": "đối tác",
    "know how": "bí quyết", "know-how": "bí quyết", "tax": "thuế", "receive": "nhận chuyển giao",
    # process improvement
    "productivity": "năng suất", "quality": "chất lượng", "process": "quy trình", "improvement": "cải tiến",
    "improve": "cải tiến nâng cao", "waste": "lãng phí", "wastes": "lãng phí", "lean": "lean tinh gọn",
    "kaizen": "kaizen", "5s": "5s", "six sigma": "six sigma", "dmaic": "dmaic", "tpm": "tpm",
    "maintenance": "bảo trì thiết bị", "equipment": "thiết bị", "kpi": "kpi", "kpis": "kpi",
    "balanced scorecard": "thẻ điểm cân bằng", "iso": "iso", "haccp": "haccp", "food safety": "an toàn thực phẩm",
    "environment": "môi trường", "safety": "an toàn", "vietgap": "vietgap", "farming": "nông nghiệp trồng trọt",
    "calibration": "hiệu chuẩn", "testing": "thử nghiệm", "inspection": "kiểm định", "measurement": "đo lường",
    "standard": "tiêu chuẩn", "certification": "chứng nhận",
    # funding, programmes, startups
    "support": "hỗ trợ", "funding": "tài trợ hỗ trợ kinh phí", "fund": "quỹ", "grant": "tài trợ",
    "loan": "vay ưu đãi", "low-interest": "vay ưu đãi", "programme": "chương trình", "program": "chương trình",
    "government": "nhà nước", "sme": "doanh nghiệp nhỏ và vừa", "smes": "doanh nghiệp nhỏ và vừa",
    "small business": "doanh nghiệp nhỏ", "small and medium": "doanh nghiệp nhỏ và vừa",
    "micro": "siêu nhỏ", "consultant": "tư vấn chuyên gia", "consulting": "tư vấn", "advice": "tư vấn",
    "startup": "khởi nghiệp", "start-up": "khởi nghiệp", "startups": "khởi nghiệp",
    "innovation": "đổi mới sáng tạo", "innovative": "đổi mới sáng tạo", "incubator": "vườn ươm",
    "investor": "nhà đầu tư", "science and technology enterprise": "doanh nghiệp khoa học và công nghệ",
    "s&t enterprise": "doanh nghiệp khoa học và công nghệ", "resolution": "nghị quyết", "decree": "nghị định",
    "law": "luật", "revenue": "doanh thu", "employees": "lao động", "capital": "nguồn vốn",
    "digital transformation": "chuyển đổi số", "centre": "trung tâm", "center": "trung tâm",
    "project 844": "đề án 844", "844": "844", "natif": "natif", "nafosted": "nafosted",
    # the bot itself
    "privacy": "quyền riêng tư dữ liệu", "data": "dữ liệu", "delete": "xóa", "forget": "xóa quên",
}

_PATTERN = re.compile(
    r"(?<![\w&-])(" + "|".join(re.escape(t) for t in sorted(TERMS, key=len, reverse=True)) + r")(?![\w&-])")


def keyword_text(text: str, lang: str) -> str:
    """The words to search the Vietnamese documents with: a Vietnamese question's own, an English one's
    domain terms ('' when it names none)."""
    return text if lang == "vi" else vietnamese_keywords(text)


@lru_cache(maxsize=4096)
def vietnamese_keywords(text: str) -> str:
    """The Vietnamese words for the domain terms in an English text ('' when it names none)."""
    found = dict.fromkeys(TERMS[m.group(1)] for m in _PATTERN.finditer(text.lower()))
    return " ".join(found)
