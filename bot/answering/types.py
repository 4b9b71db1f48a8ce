"""What the answer engine returns; free of Telegram and LangChain types."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Source:
    doc_id: str
    title: str
    section: str
    path: str
    score: float
    legal_basis: str = ""
    effective_from: str = ""
    effective_to: str = ""
    topic: str = ""
    text: str = ""  # the chunk(s) the answer drew on; not part of the JSON contract

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k in PUBLIC_SOURCE_FIELDS}


PUBLIC_SOURCE_FIELDS = ("doc_id", "title", "section", "path", "score", "legal_basis", "effective_from")


@dataclass
class Turn:
    role: str  # "user" | "assistant"
    text: str
    # The conversation state an assistant turn leaves behind (stored with the message in the database):
    # what kind of reply it was and the documents and topic it drew on, so a follow-up knows its subject.
    kind: str = ""
    doc_ids: list[str] = field(default_factory=list)
    topic: str = ""


@dataclass
class Answer:
    question: str
    answer: str
    sources: list[Source] = field(default_factory=list)
    confidence: float = 0.0
    handoff_suggested: bool = False
    mode: str = "extractive"
    latency_ms: int = 0
    language: str = "vi"
    kind: str = "answer"  # answer | abstain | handoff_request | smalltalk | clarify | calculation
    topic: str = "other"
    search_query: str = ""  # what retrieval actually used (follow-ups are combined)
    note: str = ""  # why a fallback happened, for logs
    ranked_doc_ids: list[str] = field(default_factory=list)  # retrieval order, for evaluation

    @property
    def abstained(self) -> bool:
        return self.kind == "abstain"

    def to_json(self, id_: Any = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if id_ is not None:
            out["id"] = id_
        out.update(
            question=self.question,
            answer=self.answer,
            sources=[s.public() for s in self.sources],
            confidence=round(self.confidence, 3),
            handoff_suggested=self.handoff_suggested,
            mode=self.mode,
            latency_ms=self.latency_ms,
        )
        return out
