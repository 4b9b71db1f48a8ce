"""Curated answers: a question staff already answered is answered with their words.

Two sources feed one set of (question, answer, document) entries:
- the `## Hỏi đáp` sections of the indexed documents: the indexer's heading-aware chunking already gives
  every `### question` its own chunk, with the section path `Hỏi đáp > question` and the document's
  fields, so the entries are read from the index the searcher has loaded (no second Markdown parser);
- approved answers in the database (`bot/answers/`), cited as «Chuyên gia trung tâm (duyệt MM/YYYY)».

An owner's question is matched question to question: E5 "query: " embeddings on both sides (the owner's
is the one retrieval computed, on the text with diacritics restored; a curated question typed without
diacritics is restored the same way). The curated answer is given verbatim only when the match is strong: above
an absolute similarity and ahead of the best question of any other document by a margin (two documents
answering the same question equally well means the question is ambiguous, not answered).

Question vectors are cached under DATA_DIR/cache, keyed by the model name and each question's text, so
a start-up embeds nothing and a new document or approval embeds only its own questions.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from bot.answering.intents import load_examples
from bot.answering.sentence_cache import SentenceVectors
from bot.answering.types import Answer, Source
from indexer.textnorm import fold, has_diacritics, nfc

log = logging.getLogger(__name__)
QA_HEADING = "Hỏi đáp"
MAX_ANSWER_CHARS = 1100  # one chunk; the contract asks for at most 600
NEVER = dt.date.max.toordinal()


@dataclass(frozen=True)
class Thresholds:
    """Tuned on the tuning part of tests/data/qa_owner.jsonl (scripts/tune_curated.py)."""

    # On the tuning part (2026-12-07) no pair does better than the engine without curated answers (161/182); of the
    # pairs that do as well, 0.97 answers the most questions in the staff's words (11). At 0.94, 27 were, and three
    # of them answered a neighbouring question ("không bắt buộc" in general, for a question about state capital).
    # The margin: the smallest that keeps one question answered differently by two documents from being answered.
    similarity: float = 0.97  # the best curated question's cosine with the owner's question
    margin: float = 0.01  # ahead of the best question of a different document
    # Approved answers answer what no document does, so a looser match beats the alternative, which has nothing to
    # give: the similarity the documents' entries had before (the tuning part has no approved answers to tune it).
    approved_similarity: float = 0.94


@dataclass(frozen=True)
class CuratedEntry:
    question: str
    answer: str
    doc_id: str
    title: str
    path: str = ""
    section: str = ""
    legal_basis: str = ""
    effective_from: str = ""
    effective_to: str = ""  # documents: the rule's last day; approved answers: the review date
    topic: str = "other"
    language: str = "vi"
    approved_on: str = ""  # approved answers (from the database): the day of approval, YYYY-MM-DD

    @property
    def approved(self) -> bool:
        return bool(self.approved_on)

    @property
    def last_day(self) -> int:
        """The last day (ordinal) this entry may answer."""
        try:
            return dt.date.fromisoformat(self.effective_to[:10]).toordinal() if self.effective_to else NEVER
        except ValueError:
            return NEVER


class ApprovedSource(Protocol):
    """What the matcher needs from the approved-answers service (bot.answers.service.AnswerService)."""

    def version(self) -> tuple: ...

    def curated_entries(self) -> list[CuratedEntry]: ...


# -- extraction --------------------------------------------------------------------------------------
def question_of(section: str) -> str | None:
    """The question of a chunk under `## Hỏi đáp > ### question`, else None."""
    parts = [p.strip() for p in section.split(" > ")]
    for n, part in enumerate(parts[:-1]):
        if fold(part) == fold(QA_HEADING):
            return parts[n + 1] if n + 2 == len(parts) else None  # a deeper heading: not a short answer
    return None


def from_chunks(rows: Iterable[tuple[dict, str]]) -> list[CuratedEntry]:
    """Curated entries from indexed chunks: (chunk metadata, chunk text), as the index stores them.

    An answer the chunker had to split (longer than a chunk) is not a short direct answer and is left out.
    """
    pieces: dict[tuple[str, str], list[tuple[dict, str]]] = {}
    for meta, text in rows:
        question = question_of(str(meta.get("section", "")))
        if question and text.strip():
            pieces.setdefault((str(meta.get("doc_id", "")), question), []).append((meta, text.strip()))
    entries = []
    for (doc_id, question), found in pieces.items():
        if len(found) != 1 or len(found[0][1]) > MAX_ANSWER_CHARS:
            log.info("%s: the answer to %r is too long for a curated answer", doc_id, question)
            continue
        meta, text = found[0]
        entries.append(
            CuratedEntry(
                question=nfc(question),
                answer=" ".join(text.split()),
                doc_id=doc_id,
                title=str(meta.get("title", "")),
                path=str(meta.get("path", "")),
                section=str(meta.get("section", "")),
                legal_basis=str(meta.get("legal_basis", "")),
                effective_from=str(meta.get("effective_from", "")),
                effective_to=str(meta.get("effective_to", "")),
                topic=str(meta.get("topic", "") or "other"),
                language=str(meta.get("language", "") or "vi"),
            )
        )
    return entries


def from_document(doc) -> list[CuratedEntry]:
    """Curated entries of one loaded document (indexer.loaders.LoadedDocument), chunked as the indexer does."""
    from indexer import chunking, pipeline

    chunks = chunking.split(doc.text, doc.meta["title"])
    return from_chunks((pipeline.chunk_metadata(doc, "", c), c.text) for c in chunks)


# -- matching ----------------------------------------------------------------------------------------
@dataclass
class Match:
    entry: CuratedEntry
    similarity: float
    runner_up: float  # the best question of another document
    margin: float = field(init=False)

    def __post_init__(self) -> None:
        self.margin = self.similarity - self.runner_up


@dataclass
class _Snapshot:
    entries: list[CuratedEntry]
    vectors: np.ndarray  # (entries, dim): each question's "query: " embedding
    doc_index: np.ndarray  # entry -> document number
    last_day: np.ndarray  # entry -> last day (ordinal) it may answer
    language: np.ndarray  # entry -> its language
    key: tuple = ()


class _AsQueries:
    """The embedder seen by the vector cache: curated questions are embedded as queries ("query: ")."""

    def __init__(self, embedder) -> None:
        self.inner = embedder
        self.name = embedder.name
        self.dim = embedder.dim

    def embed_passages(self, texts: Sequence[str], batch_size: int = 32, progress: bool = False) -> np.ndarray:
        return self.inner.embed_queries(list(texts))


class CuratedAnswers:
    """The curated set over the live index and the approved answers; `match` costs one matrix product."""

    def __init__(
        self,
        searcher,
        approved: ApprovedSource | None = None,
        cache_dir: Path | None = None,
        thresholds: Thresholds | None = None,
        citation: Callable[[CuratedEntry, str], str] | None = None,
    ) -> None:
        self.searcher = searcher
        self.approved = approved
        self.thresholds = thresholds or Thresholds()
        self.citation = citation or _expert_citation
        embedder = _AsQueries(searcher.embedder)
        path = cache_dir / f"curated-questions-{_safe(embedder.name)}.npz" if cache_dir else None
        self.vectors = SentenceVectors(embedder, path=path)
        self.vectors.load()
        self._snapshot: _Snapshot | None = None
        self._keyword = None  # the index the set was read from
        self._restorer = None  # that index's diacritic restorer, before approved answers taught it their words
        self._lock = threading.Lock()

    # -- the set -----------------------------------------------------------------
    def snapshot(self) -> _Snapshot:
        """The current set, rebuilt when the index was reloaded or the approved answers changed."""
        return self._current()[0]

    def _current(self) -> tuple[_Snapshot, bool]:
        """(the current set, whether this call rebuilt it)."""
        self.searcher.ensure_fresh()
        keyword = self.searcher.keyword
        approved = self.approved.version() if self.approved is not None else ()
        key = (keyword, approved)  # the loaded index itself (a reload makes a new one), and the approvals' version
        current = self._snapshot
        if current is not None and current.key == key:
            return current, False
        with self._lock:
            if self._snapshot is not None and self._snapshot.key == key:
                return self._snapshot, False
            if keyword is not self._keyword:  # a reloaded index comes with its own restorer
                self._keyword, self._restorer = keyword, self.searcher.restorer
            entries = from_chunks(zip(keyword.meta, keyword.text)) if keyword is not None else []
            if self.approved is not None:
                entries += self.approved.curated_entries()
            self._teach([e.question for e in entries if e.approved] + _owner_phrasings())
            self._snapshot = self._build(entries, key)
            return self._snapshot, True

    def _teach(self, questions: list[str]) -> None:
        """An approved answer may use words no document uses ("hội chợ", "mỹ nghệ"), and owners write words
        guidance rarely does ("tôi", "chuyên viên", "gọi lại": the labelled intent examples are written as they
        write): the searcher's diacritic restorer learns them, so a message typed without diacritics is restored,
        and embedded, as it was meant (the documents' own forms still win)."""
        if self._restorer is None:
            return
        written = [q for q in questions if has_diacritics(q)]
        self.searcher.restorer = self._restorer.extended(written) if written else self._restorer

    def entries(self) -> list[CuratedEntry]:
        return list(self.snapshot().entries)

    def form(self, question: str) -> str:
        """The text a curated question is embedded as: the owner's side is embedded with diacritics restored
        (HybridSearcher.dense_query_text), so a question written without them (an approved answer drafted from
        an owner's words) is restored the same way. Embedding the folded form as well changed nothing on the
        tuning part: a restored query is always closer to the question as written."""
        return self.searcher.dense_query_text(question)

    def _build(self, entries: list[CuratedEntry], key: tuple) -> _Snapshot:
        texts = [self.form(e.question) for e in entries]
        missing = self.vectors.missing(texts)
        if missing:
            self.vectors.fill(missing)
            self.vectors.save()
            log.info("curated answers: %d question form(s) embedded", len(missing))
        dim = self.vectors.embedder.dim
        vectors = self.vectors.vectors(texts) if entries else np.zeros((0, dim), dtype=np.float32)
        numbers: dict[str, int] = {}
        doc_index = np.array([numbers.setdefault(e.doc_id, len(numbers)) for e in entries], dtype=np.int64)
        last_day = np.array([e.last_day for e in entries], dtype=np.int64)
        language = np.array([e.language for e in entries], dtype=object)
        log.info("curated answers: %d questions from %d documents and approved answers", len(entries), len(numbers))
        return _Snapshot(entries, vectors, doc_index, last_day, language, key)

    # -- questions ---------------------------------------------------------------
    def match(
        self, vector: np.ndarray | None, lang: str = "vi", today: dt.date | None = None, snap: _Snapshot | None = None
    ) -> Match | None:
        """The best curated question for the owner's query vector, strong or not (None: nothing usable)."""
        if vector is None:
            return None
        snap = snap or self.snapshot()
        if not snap.entries:
            return None
        sims = snap.vectors @ np.asarray(vector, dtype=np.float32)
        usable = snap.last_day >= (today or dt.date.today()).toordinal()
        usable &= snap.language == lang
        if not usable.any():
            return None
        sims = np.where(usable, sims, -1.0)
        best = int(sims.argmax())
        others = sims[snap.doc_index != snap.doc_index[best]]
        runner_up = float(others.max()) if others.size else -1.0
        return Match(snap.entries[best], float(sims[best]), runner_up)

    def strong(self, found: Match | None) -> bool:
        t = self.thresholds
        if found is None:
            return False
        least = t.approved_similarity if found.entry.approved else t.similarity
        return found.similarity >= least and found.margin >= t.margin

    def answer(
        self, question: str, vector: np.ndarray | None, lang: str = "vi", text: str | None = None
    ) -> Answer | None:
        """The curated answer to `question` when its match is strong, else None.

        `vector`: the E5 query embedding of `text` (the question as searched) with diacritics restored.
        """
        snap, rebuilt = self._current()
        if rebuilt and text and lang == "vi" and not has_diacritics(text):
            # The set just changed, and with it perhaps how this text is restored: embed it as it now would be
            # (once per change; every other question reuses retrieval's vector).
            vector = self.searcher.query_vector(text)
        found = self.match(vector, lang, snap=snap)
        if not self.strong(found):
            return None
        assert found is not None
        return self.reply(question, found, lang)

    def reply(self, question: str, found: Match, lang: str = "vi") -> Answer:
        entry = found.entry
        source = Source(
            doc_id=entry.doc_id,
            title=self.citation(entry, lang) if entry.approved else entry.title,
            section=entry.section or entry.question,
            path=entry.path,
            score=round(found.similarity, 4),
            legal_basis=entry.legal_basis,
            effective_from="" if entry.approved else entry.effective_from,
            effective_to="" if entry.approved else entry.effective_to,
            topic=entry.topic,
            text=entry.answer,
        )
        return Answer(
            question,
            f"{entry.answer} [1]",
            sources=[source],
            confidence=self.confidence(found),
            language=lang,
            kind="answer",
            topic=entry.topic,
            note=f"curated: {entry.doc_id} · similarity {found.similarity:.3f} · margin {found.margin:.3f}",
            ranked_doc_ids=[entry.doc_id],
        )

    def confidence(self, found: Match) -> float:
        """0.7 at the threshold, rising to 1 with the similarity and the margin."""
        t = self.thresholds
        room = max(1e-6, 1.0 - t.similarity)
        lift = 0.2 * (found.similarity - t.similarity) / room + 2.0 * max(0.0, found.margin - t.margin)
        return round(min(1.0, max(0.0, 0.7 + lift)), 3)


@functools.cache
def _owner_phrasings() -> list[str]:
    """The intent examples' texts: read once, not at every change of the index or the approved answers."""
    return [text for text, _ in load_examples()]


def _expert_citation(entry: CuratedEntry, lang: str) -> str:
    from bot import i18n

    return i18n.t(lang, "answers.expert_source", month=f"{entry.approved_on[5:7]}/{entry.approved_on[:4]}")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)
