"""Knowledge gaps: questions the bot could not serve, grouped by meaning, so staff know what to write next.

A gap question is a user question that the bot abstained on, whose answer got 👎, or that ended in a
handoff to a consultant (a ticket when the handoff feature is installed, else a handoff request in the
message log). Questions are embedded with the engine's model and grouped by average-linkage
agglomerative clustering over cosine similarity.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sqlalchemy import func, select

from bot.reports import csvfile, data
from bot.reports.data import Conversations, Period, Row
from bot.storage import Message, Store
from indexer.textnorm import fold

if TYPE_CHECKING:
    from bot.answering.engine import AnswerEngine

REASONS = ("abstain", "downvote", "handoff")
THRESHOLD = 0.88  # E5 query cosine: paraphrases score ≥ 0.9, unrelated questions ≈ 0.80–0.85
MAX_QUESTIONS = 1000  # the newest ones; bounds the O(n²) similarity matrix
HANDOFF_WINDOW = dt.timedelta(minutes=30)


@dataclass
class GapQuestion:
    message_id: int
    user_id: int
    text: str
    asked_at: dt.datetime
    topic: str
    reasons: set[str] = field(default_factory=set)


@dataclass
class GapGroup:
    questions: list[GapQuestion]  # newest first

    @property
    def count(self) -> int:
        return len(self.questions)

    @property
    def last_seen(self) -> dt.datetime:
        return self.questions[0].asked_at

    @property
    def reasons(self) -> Counter:
        return Counter(r for q in self.questions for r in q.reasons)

    @property
    def topic(self) -> str:
        topics = Counter(q.topic for q in self.questions if q.topic and q.topic != "other")
        return topics.most_common(1)[0][0] if topics else "other"

    def examples(self, n: int = 3) -> list[str]:
        """Distinct wordings, newest first."""
        seen: set[str] = set()
        out: list[str] = []
        for q in self.questions:
            key = " ".join(fold(q.text).split())
            if key not in seen:
                seen.add(key)
                out.append(q.text)
            if len(out) == n:
                break
        return out


def collect(store: Store, period: Period) -> list[GapQuestion]:
    """Every gap question of the period, one per user message, with all the reasons that apply."""
    votes = [v for v in data.feedback(store, period) if v[2] < 0]
    since = period.since
    if votes:
        with store.session() as s:
            oldest = s.scalar(select(func.min(Message.created_at)).where(Message.id.in_([v[1] for v in votes])))
        if oldest is not None:
            since = min(since, data.utc(oldest))
    conv = Conversations(store, since, period.until)
    found: dict[int, GapQuestion] = {}

    def mark(question: Row | None, reason: str, reply: Row | None = None) -> None:
        if question is None or not question.text.strip():
            return
        item = found.get(question.id)
        if item is None:
            reply = reply or conv.reply_to(question.id)
            topic = str((reply.meta if reply else {}).get("topic") or "other")
            item = found[question.id] = GapQuestion(
                question.id, question.user_id, question.text, question.created_at, topic
            )
        item.reasons.add(reason)

    for reply in conv.assistant(period):
        if reply.kind == "abstain":
            mark(conv.question_for(reply.id), "abstain", reply)
    for _, message_id, _, _ in votes:
        reply = conv.by_id.get(message_id)
        if reply is not None and reply.role == "assistant":
            mark(conv.question_for(reply.id), "downvote", reply)
    tickets = data.tickets(store, period)
    if tickets is not None:
        for ticket in tickets:
            if ticket["user_id"] is not None and ticket["created_at"] is not None:
                mark(conv.substantive_before(int(ticket["user_id"]), ticket["created_at"], HANDOFF_WINDOW), "handoff")
    # Requests in the message log as well: the console records them there, and marking a question the
    # ticket already marked changes nothing.
    for reply in conv.assistant(period):
        if reply.kind == data.HANDOFF_KIND:
            request = conv.question_for(reply.id)
            if request is None:
                continue
            earlier = conv.substantive_before(request.user_id, request.created_at, HANDOFF_WINDOW)
            mark(earlier or request, "handoff")
    return sorted(found.values(), key=lambda q: (q.asked_at, q.message_id), reverse=True)


def cluster(vectors: np.ndarray, threshold: float = THRESHOLD) -> list[list[int]]:
    """Average-linkage agglomerative clustering on cosine similarity of unit vectors; stops below threshold."""
    n = len(vectors)
    if n == 0:
        return []
    sim = np.asarray(vectors, dtype=np.float64) @ np.asarray(vectors, dtype=np.float64).T
    np.fill_diagonal(sim, -np.inf)
    members: list[list[int] | None] = [[i] for i in range(n)]
    while n > 1:
        flat = int(np.argmax(sim))
        a, b = divmod(flat, sim.shape[0])
        if sim[a, b] < threshold:
            break
        na, nb = len(members[a]), len(members[b])
        merged = (na * sim[a] + nb * sim[b]) / (na + nb)  # UPGMA update: exact average linkage
        sim[a, :] = merged
        sim[:, a] = merged
        sim[a, a] = -np.inf
        sim[b, :] = -np.inf
        sim[:, b] = -np.inf
        members[a] = members[a] + members[b]
        members[b] = None
        n -= 1
    return [sorted(m) for m in members if m]


def query_embedder(engine: Callable[[], AnswerEngine]) -> Callable[[Sequence[str]], np.ndarray]:
    """Texts -> unit vectors with the engine's model; questions typed without diacritics get them restored.

    `engine` is asked for only when there are texts, so on the command line a period without gaps never loads
    the model.
    """

    def embed(texts: Sequence[str]) -> np.ndarray:
        searcher = engine().searcher
        return searcher.embedder.embed_queries([searcher.dense_query_text(t) for t in texts])

    return embed


def find_gaps(
    store: Store, embed: Callable[[Sequence[str]], np.ndarray], period: Period, threshold: float = THRESHOLD
) -> list[GapGroup]:
    """Gap questions of the period grouped by similarity; the group asked most recently comes first.

    `embed` maps texts to unit vectors (the engine's `embed_queries`, after diacritic restoration).
    """
    questions = collect(store, period)[:MAX_QUESTIONS]
    if not questions:
        return []
    vectors = embed([q.text for q in questions])
    groups = [GapGroup([questions[i] for i in idx]) for idx in cluster(vectors, threshold)]
    return sorted(groups, key=lambda g: (g.last_seen, g.count), reverse=True)


def to_csv(groups: list[GapGroup], tz) -> bytes:
    """One row per question, with its group; safe to open in a spreadsheet program."""
    header = ["group", "group_size", "group_last_seen", "group_topic", "asked_at", "question", "reasons", "topic"]
    rows = [
        [
            n,
            group.count,
            group.last_seen.astimezone(tz).isoformat(timespec="seconds"),
            group.topic,
            q.asked_at.astimezone(tz).isoformat(timespec="seconds"),
            q.text,
            "+".join(sorted(q.reasons)),
            q.topic,
        ]
        for n, group in enumerate(groups, 1)
        for q in group.questions
    ]
    return csvfile.to_bytes(header, rows)


def render_text(groups: list[GapGroup], tz, limit: int = 15) -> str:
    """Plain-text report for the command line."""
    if not groups:
        return "No knowledge gaps in this period."
    lines = []
    for n, group in enumerate(groups[:limit], 1):
        reasons = ", ".join(f"{r} {group.reasons[r]}" for r in REASONS if group.reasons[r])
        last = group.last_seen.astimezone(tz)
        lines.append(f"{n}. {group.count} question(s) · {group.topic} · last {last:%Y-%m-%d %H:%M} · {reasons}")
        lines.extend(f"   - {text}" for text in group.examples())
    if len(groups) > limit:
        lines.append(f"... and {len(groups) - limit} more group(s); use --csv for all of them.")
    return "\n".join(lines)
