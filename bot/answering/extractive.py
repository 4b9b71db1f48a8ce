"""The offline composer: pick the sentences that answer the question, cite them, keep it short."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.answering import checks
from bot.answering.retrieval import RetrievedDoc, content_tokens
from bot.answering.sentences import split_sentences
from indexer.textnorm import fold, tokens

MAX_CHARS = 650
MAX_UNITS = 3
MAX_LIST_ITEMS = 6
MAX_EMBEDDED_UNITS = 16
SHORT_SENTENCE = 30  # characters: a yes or no this short is joined to the next sentence of its paragraph
TYPED = ("duration", "date", "place", "amount")
TYPE_BONUS = 0.2  # a sentence that gives the type of answer asked (a duration, a place …)
POLAR_BONUS = 0.1  # a yes/no question: a sentence that starts with the yes or the no
OTHER_SUBJECT_PENALTY = 0.25  # a sentence about another subject than the question's
# Vietnamese questions: how much the sentence's meaning (E5 query-passage similarity, from the sentence-vector
# cache) counts beside its word overlap. Overlap alone picks a neighbouring fact that shares the question's words
# ("thời hạn thẩm định" for "bảo hộ bao lâu"); meaning tells which sentence answers it.
DENSE_WEIGHT = 5.0
DENSE_CENTRE = 0.87  # a typical similarity of a sentence of the retrieved documents: below it a sentence loses
_QUANTITY = re.compile(
    r"(bao lau|bao nhieu|may (nam|thang|ngay|phan tram|%)|thoi han|khi nao|han chot|muc|ty le|"
    r"phan tram|how long|how much|how many|when|deadline|percent|%|phi|le phi|bao gio|toi da)"
)
_DURATION_Q = re.compile(
    r"(bao lau|may (nam|thang|ngay|tuan)|thoi han|han chot|trong bao|how long|deadline|"
    r"how many (years|months|days)|bao nhieu (nam|thang|ngay))"
)
_PERCENT_Q = re.compile(r"(phan tram|%|ty le|bao nhieu phan|percent|share|what portion|muc ho tro|ho tro bao nhieu)")
_MONEY_Q = re.compile(r"(bao nhieu tien|phi|le phi|chi phi|toi da bao nhieu|muc tran|how much|cost|fee|trieu|ty dong)")
_DURATION = re.compile(r"\d+\s*(năm|tháng|ngày|tuần|year|month|day)")
_PERCENT = re.compile(r"\d+\s*%")
_MONEY = re.compile(r"\d+[.,\d]*\s*(đồng|triệu|tỷ|nghìn|VND|VNĐ)")
_LIST_Q = re.compile(
    r"(nhung (gi|giay to|buoc|muc|noi dung|dieu kien|viec)|gom (nhung )?gi|cac buoc|buoc nao|"
    r"giay to gi|ho so (gom|can)|can (chuan bi )?(gi|nhung)|what (documents|steps)|which steps|list)"
)
_MARKUP = re.compile(r"(\*\*|__|`|^#+\s*|^>\s*)", re.MULTILINE)
_BULLET = re.compile(r"^\s*(?:[-*•+]|\d+[.)])\s+")


@dataclass
class Unit:
    text: str
    doc_index: int
    chunk_rank: int
    position: int
    score: float = 0.0
    lead: str = ""  # the line that introduces a list item ("Hồ sơ gồm:"), if any


def clean(text: str) -> str:
    text = _MARKUP.sub("", text)
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)  # markdown links -> their text
    return " ".join(text.split())


def split_units(chunk_text: str) -> list[tuple[str, str]]:
    """(text, lead) of sentences and bullet items; a line ending with ':' leads the bullets after it."""
    lines = [line.rstrip() for line in chunk_text.splitlines()]
    units: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("|---") or line.lower().startswith(("xem thêm", "see also")):
            continue
        if line.endswith(":"):
            items = []
            while i < len(lines) and (_BULLET.match(lines[i]) or not lines[i].strip()):
                if lines[i].strip():
                    items.append(clean(_BULLET.sub("", lines[i])).rstrip(".;, "))
                i += 1
            lead = clean(line)
            short = [it for it in items if len(it) < 90]
            if items and len(short) == len(items) and len(lead) + sum(len(it) + 2 for it in items) <= 380:
                units.append((lead + " " + "; ".join(items) + ".", ""))
                continue
            # Long lists: each item is a unit of its own, introduced by its lead when that is short.
            for item in items:
                units.append((f"{lead.rstrip(':')}: {item}." if len(lead) <= 110 else item + ".", lead))
            if items:
                continue
        line = _BULLET.sub("", line)
        if line.startswith("|"):
            line = " ".join(cell.strip() for cell in line.strip("|").split("|"))
        for sentence in _short_ones_joined(split_sentences(clean(line))):
            if len(sentence) >= 12:
                units.append((sentence, ""))
    return units


def _short_ones_joined(sentences: list[str]) -> list[str]:
    """A bare yes or no goes with the sentence after it: "Không nhất thiết." or "Có." says nothing without the
    reason that follows, and picked alone it would be an answer without its reason."""
    out: list[str] = []
    carry = ""
    for sentence in sentences:
        sentence = f"{carry} {sentence}" if carry else sentence
        carry = sentence if len(sentence) < SHORT_SENTENCE and checks.polar_start(sentence) else ""
        if not carry:
            out.append(sentence)
    return out + [carry] if carry else out


def _typed_bonus(folded_question: str, text: str) -> float:
    """Reward a sentence that carries the kind of number the question asks for."""
    bonus = 0.0
    if _DURATION_Q.search(folded_question) and _DURATION.search(text):
        bonus += 0.3
    if _PERCENT_Q.search(folded_question) and _PERCENT.search(text):
        bonus += 0.3
    if _MONEY_Q.search(folded_question) and _MONEY.search(text):
        bonus += 0.2
    return bonus


def select(
    question: str,
    docs: list[RetrievedDoc],
    idf,
    similarity=None,
    asked: str | None = None,
    subjects: list[str] | None = None,
    subject_terms=None,
    dense=None,
    interrogative: str | None = None,
) -> list[Unit]:
    """Score every sentence of the top chunks against the question; keep the best few.

    `similarity(texts) -> scores` (dense, cross-lingual) replaces word overlap for questions that
    are not in the documents' language. `asked`: the type of answer the question asks for
    (`bot.answering.checks`); a sentence that gives it wins over one that does not. `subjects`: the subjects
    the question names; `subject_terms(text)` the subjects a sentence names: a sentence about another subject
    ("sáng chế" when asked about "bí mật kinh doanh") loses. `dense(texts) -> scores | None`: the question's
    similarity to every candidate sentence when their vectors are at hand (None: word overlap decides alone).
    `interrogative`: the text whose question words say what is asked (a follow-up's own words when it asks a new
    aspect; by default the question itself).
    """
    words = set(content_tokens(question))
    total = sum(idf(w) for w in words) or 1.0
    folded_question = fold(question if interrogative is None else interrogative)
    quantity = bool(_QUANTITY.search(folded_question))
    units: list[Unit] = []
    for d_index, doc in enumerate(docs[:3]):
        prior = (0.35, 0.12, 0.04)[d_index]
        for c_rank, chunk in enumerate(doc.chunks[:3]):
            section_words = set(tokens(chunk.meta.get("section", "")))
            for position, (text, lead) in enumerate(split_units(chunk.text)):
                unit_words = set(tokens(text)) | section_words
                overlap = sum(idf(w) for w in words if w in unit_words) / total
                score = overlap + prior - 0.08 * c_rank + _typed_bonus(folded_question, text)
                if asked in TYPED and checks.carries(text, asked):
                    score += TYPE_BONUS
                if asked == "yesno" and checks.polar_start(text):
                    score += POLAR_BONUS
                if subjects and subject_terms is not None and _other_subject(text, chunk, subjects, subject_terms):
                    score -= OTHER_SUBJECT_PENALTY
                if quantity and re.search(r"\d", text):
                    score += 0.1
                if position < 2:
                    score += 0.06
                if len(text) > 420:
                    score -= 0.1
                units.append(Unit(text, d_index, c_rank, position, score, lead))
    if dense is not None and units:
        sims = dense([u.text for u in units])
        if sims is not None:
            for unit, sim in zip(units, sims):
                unit.score += DENSE_WEIGHT * (float(sim) - DENSE_CENTRE)
    if similarity is not None and units:
        # Embedding sentences costs ~5 ms each: only the leading ones of the best documents compete.
        # Sentences that give the type of answer asked go first (an amount asked: the sentence with the 10%).
        units = sorted(
            units,
            key=lambda u: (
                not (asked in TYPED and checks.carries(u.text, asked)),
                u.doc_index,
                u.chunk_rank,
                u.position,
            ),
        )[:MAX_EMBEDDED_UNITS]
        sims = similarity([u.text for u in units])
        for unit, sim in zip(units, sims):
            unit.score += 4.0 * (float(sim) - 0.8)
    units.sort(key=lambda u: u.score, reverse=True)
    chosen: list[Unit] = []
    length = 0
    for unit in units:
        if len(chosen) >= MAX_UNITS:
            break
        if chosen and unit.score < chosen[0].score * 0.55:
            break
        if any(_same(unit.text, c.text) for c in chosen):
            continue
        if length + len(unit.text) > MAX_CHARS and chosen:
            continue
        chosen.append(unit)
        length += len(unit.text)
    if chosen and chosen[0].lead and _LIST_Q.search(folded_question):
        return sorted(_whole_list(chosen[0], units), key=lambda u: (u.doc_index, u.chunk_rank, u.position))
    best = chosen[:1]
    # The direct answer leads; the sentences around it follow in the documents' order.
    return best + sorted(chosen[1:], key=lambda u: (u.doc_index, u.chunk_rank, u.position))


def _other_subject(text: str, chunk, subjects: list[str], subject_terms) -> bool:
    """The sentence names subjects, none of them one the question names."""
    named = subject_terms(text)
    if not named:
        return False
    # Each part folded on its own: fold() caches its texts, and a section or a sentence recurs across questions.
    where = " ".join(tokens(chunk.meta.get("section", "")) + tokens(text))
    return not any(s in where for s in subjects)


def _whole_list(best: Unit, units: list[Unit]) -> list[Unit]:
    """A question asking for a list ("cần những giấy tờ gì?") gets the list, not its best item."""
    siblings = sorted(
        (u for u in units if u.lead == best.lead and u.doc_index == best.doc_index and u.chunk_rank == best.chunk_rank),
        key=lambda u: u.position,
    )
    out: list[Unit] = []
    length = 0
    for unit in siblings[:MAX_LIST_ITEMS]:
        if out and length + len(unit.text) > MAX_CHARS:
            break
        out.append(unit)
        length += len(unit.text)
    return out


def _same(a: str, b: str) -> bool:
    ta, tb = set(tokens(a)), set(tokens(b))
    return bool(ta and tb) and len(ta & tb) / min(len(ta), len(tb)) > 0.8


# A yes or a no standing as its own sentence ("Không. Thư viện số … cho tra cứu miễn phí.") answers the question
# its passage was written for (a "Hỏi đáp" entry's); elsewhere it would answer a question nobody asked.
_DETACHED_POLAR = re.compile(r"^(?:không|có|được|chưa|yes|no)[.!]\s+(?=\S)", re.IGNORECASE)


def compose(units: list[Unit], numbering: dict[int, int], polar_lead: bool = False) -> str:
    """Join the chosen sentences into one short paragraph with [n] markers.

    List items chosen under the same lead ("Hồ sơ gồm: …") are joined after one copy of the lead. `polar_lead`:
    the question asks yes or no, so the first sentence keeps a yes or no of its own; no other sentence does.
    """
    parts: list[str] = []
    previous_lead = None
    for n, unit in enumerate(units):
        text = unit.text.rstrip().rstrip(".!?")
        if n or not polar_lead:
            text = _capitalised(_DETACHED_POLAR.sub("", text, count=1))
        marker = f" [{numbering[unit.doc_index]}]."
        lead, sep, item = text.partition(": ")
        if sep and previous_lead == (lead, unit.doc_index) and parts:
            parts[-1] = parts[-1][: -len(marker)] + f"; {item}{marker}"
            continue
        previous_lead = (lead, unit.doc_index) if sep else None
        parts.append(text + marker)
    return " ".join(parts)


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]
