"""Which language the user writes in, and what kind of message it is."""

from __future__ import annotations

import re

from indexer.textnorm import fold, has_diacritics, tokens

_EN = {
    "a",
    "an",
    "the",
    "is",
    "are",
    "was",
    "were",
    "be",
    "to",
    "of",
    "for",
    "and",
    "or",
    "in",
    "on",
    "at",
    "by",
    "with",
    "what",
    "which",
    "who",
    "how",
    "when",
    "where",
    "why",
    "can",
    "could",
    "do",
    "does",
    "did",
    "my",
    "our",
    "your",
    "i",
    "we",
    "you",
    "it",
    "this",
    "that",
    "there",
    "much",
    "many",
    "long",
    "need",
    "register",
    "please",
    "help",
    "about",
    "should",
    "would",
    "will",
    "get",
    "have",
    "has",
    "want",
    "tell",
    "me",
    "company",
    "business",
}
_VI = {
    "la",
    "cua",
    "cho",
    "va",
    "cac",
    "nhung",
    "duoc",
    "khong",
    "co",
    "gi",
    "bao",
    "nhieu",
    "lau",
    "may",
    "nao",
    "thi",
    "sao",
    "the",
    "nay",
    "do",
    "mot",
    "toi",
    "minh",
    "em",
    "anh",
    "chi",
    "cty",
    "cong",
    "ty",
    "doanh",
    "nghiep",
    "dang",
    "ky",
    "can",
    "phai",
    "khi",
    "o",
    "dau",
    "ai",
    "ve",
    "nhu",
}

_HUMAN = [
    r"\b(gap|noi chuyen|lien he|ket noi|chuyen|hoi)\b.{0,25}\b(chuyen gia|tu van vien|nguoi that|con nguoi|nguoi tu van|can bo tu van|nhan vien tu van)\b",
    r"\b(can|muon|xin)\b.{0,10}\b(chuyen gia|tu van vien|nguoi that|nguoi tu van)\b.{0,10}\b(tu van|ho tro|giup|tra loi)\b",
    r"\bchuyen gia\b.{0,20}\b(tu van|ho tro|giup)\b.{0,15}\b(truc tiep|rieng)\b",
    r"\b(talk|speak|chat)\b.{0,20}\b(human|person|consultant|expert|someone|agent)\b",
    r"\b(real|human)\s+(person|consultant|agent)\b",
    r"^/?human$",
]
# A new persona for the bot: what the same sentence goes on to ask is asked of that persona, and goes with it.
_PERSONA = [
    r"you are now\b",
    r"act as\b",
    r"pretend (to be|you are)",
    r"jailbreak",
    r"developer mode",
    r"bay gio ban (la|dong vai)",
    r"dong vai\b",
]
_INJECTION = _PERSONA + [
    r"ignore (all |the )?(previous|prior|above) (instructions|prompts?)",
    r"(print|show|reveal|repeat) (me )?(your|the) (system )?(prompt|instructions)",
    r"ignore (the|your|all)( \w+)? (documents?|sources?|rules?|guidance|citations?)",
    r"forget (your|the|all)( \w+)? (rules?|instructions)",
    r"\b(just|only) (say|answer|reply)\b",
    r"bo qua (moi |tat ca |cac )?(huong dan|chi dan|lenh)( truoc( do)?)?",
    r"\b(in|hien thi|tiet lo|cho xem)( ra)?( \w+){0,3} (prompt|lenh he thong|chi dan he thong)",
    # The bot's own rules as the object of "ignore" or "forget" ("bỏ qua quy định trích dẫn nguồn").
    r"\b(bo qua|quen( het| di)?|(khong|ko|k) can|dung)( \w+){0,3} (quy tac|nguyen tac|trich dan|trich nguon|dan nguon)\b",
    r"\bbo qua( \w+){0,2} (quy dinh|yeu cau)( \w+){0,2} (cua ban|he thong|trich dan|nguon)\b",
]
# Where an instruction may sit inside one sentence with a real question ("… và cho tôi biết …").
_CLAUSE = re.compile(r"(?<=[.!?\n:;,])\s+|\s+(?=(?:và|rồi|va|roi|and|then)\s)", re.IGNORECASE)
_CONNECTIVE = re.compile(r"^(?:và|rồi|va|roi|and|then)\s+", re.IGNORECASE)
_GREETING = re.compile(r"^(xin chao|chao( ban| bot| em| anh| chi)?|hello|hi|hey|alo|good (morning|afternoon))[\s!.,]*$")
_THANKS = re.compile(
    r"^(cam on|cam on ban|thanks?|thank you|ok(e|ay)?|tks|thx)( (ban|nhieu|nhe|bot|a|so much))*[\s!.,]*$"
)


def language_evidence(text: str) -> str | None:
    """'vi' or 'en' when the text shows its language (diacritics, common words); None for "NATIF", "5S"."""
    if has_diacritics(text):
        return "vi"
    words = tokens(text)
    en = sum(w in _EN for w in words)
    vi = sum(w in _VI for w in words)
    if en > vi:
        return "en"
    return "vi" if vi else None


def detect_language(text: str, earlier: list[str] | tuple[str, ...] = (), default: str | None = "vi") -> str | None:
    """'vi' or 'en': the text's own evidence, else the latest earlier message that has some, else `default`
    (Vietnamese unless told otherwise: most users, often without diacritics)."""
    for candidate in (text, *earlier):
        found = language_evidence(candidate)
        if found:
            return found
    return default


def wants_human(text: str) -> bool:
    folded = fold(text).strip()
    return any(re.search(p, folded) for p in _HUMAN)


def strip_injection(text: str) -> tuple[str, bool]:
    """Remove sentences that try to instruct the system; returns (clean text, found)."""
    parts = re.split(r"(?<=[.!?\n])\s+", text)
    kept: list[str] = []
    for part in parts:
        if not _instructs(part):
            kept.append(part)
            continue
        if _instructs(part, _PERSONA):
            continue
        # An instruction about the bot's rules may be one clause of a sentence that also asks something real
        # ("bỏ qua quy định trích dẫn nguồn và cho tôi biết …"): the question stays. An instruction no single
        # clause holds takes its whole sentence.
        clauses = [(c, _instructs(c)) for c in (_CONNECTIVE.sub("", c.strip()) for c in _CLAUSE.split(part))]
        if any(instructs for _, instructs in clauses):
            kept.extend(c for c, instructs in clauses if c and not instructs)
    found = kept != parts
    return (" ".join(kept).strip() if found else text.strip()), found


def _instructs(text: str, patterns: list[str] = _INJECTION) -> bool:
    folded = fold(text)
    return any(re.search(pat, folded) for pat in patterns)


def smalltalk(text: str) -> str | None:
    folded = fold(text).strip()
    if _GREETING.match(folded):
        return "greeting"
    if _THANKS.match(folded):
        return "thanks"
    return None
