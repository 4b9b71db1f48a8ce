"""Which topic a ticket is about, and which consultants should see it first."""

from __future__ import annotations

import re
from collections import Counter

from indexer.config import TOPICS
from indexer.textnorm import fold

# Diacritic-folded cues for questions the knowledge base did not answer (no retrieved topic to go on).
_CUES = {
    "ip": r"nhan hieu|sang che|so huu tri tue|ban quyen|kieu dang|giai phap huu ich|chi dan dia ly|"
    r"bi mat kinh doanh|trademark|patent|copyright|\bshtt\b",
    "tech_transfer": r"chuyen giao cong nghe|hop dong chuyen giao|dinh gia cong nghe|mua cong nghe|"
    r"doi moi cong nghe|technology transfer|licen[cs]",
    "process": r"\b5s\b|kaizen|nang suat|quy trinh|\biso\b|\blean\b|chat luong|tieu chuan|productivity",
    "funding": r"ho tro|\bquy\b|chuong trinh|kinh phi|tai tro|\bvay\b|natif|funding|grant|subsid",
    "startup": r"khoi nghiep|start ?up|\b844\b|uom tao|vuon uom|incubat",
}


def parse_topics(text: str) -> list[str]:
    """'ip, process' -> ['ip', 'process']; raises ValueError on a key not in design.md."""
    keys = [part.strip().lower() for part in re.split(r"[,;\s]+", text or "") if part.strip()]
    unknown = [k for k in keys if k not in TOPICS]
    if unknown:
        raise ValueError(f"unknown topic(s) {', '.join(unknown)}; use {', '.join(TOPICS)}")
    return list(dict.fromkeys(keys)) or ["other"]


def detect_topic(turn_topics: list[str], questions: list[str]) -> str:
    """The topic of the latest retrieved documents (later turns weigh more), else keyword cues, else 'other'."""
    votes: Counter[str] = Counter()
    for weight, topic in enumerate(turn_topics, 1):
        if topic and topic in TOPICS and topic != "other":
            votes[topic] += weight
    if votes:
        return votes.most_common(1)[0][0]
    for question in reversed(questions):
        folded = fold(question)
        for topic, pattern in _CUES.items():
            if re.search(pattern, folded):
                return topic
    return "other"


def rank_consultants(consultants: list, topic: str) -> list:
    """Consultants whose expertise matches first (then the rest), each group by name."""

    def key(c) -> tuple[int, str]:
        return (0 if topic in (c.topics or []) else 1, c.name.lower())

    return sorted(consultants, key=key)


def matching(consultants: list, topic: str) -> list:
    """Consultants to mention on a card: the topic's experts, or the generalists ('other') when none."""
    experts = [c for c in consultants if topic in (c.topics or [])]
    if not experts:
        experts = [c for c in consultants if "other" in (c.topics or [])]
    return sorted(experts, key=lambda c: c.name.lower())
