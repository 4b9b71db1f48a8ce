"""The answer service used by Telegram, the console and the command line alike."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from bot.answering import extractive, followup, sme_size
from bot.answering.glossary import keyword_text
from bot.answering.language import detect_language, smalltalk, strip_injection, wants_human
from bot.answering.retrieval import Retrieval, Retriever, _idf
from bot.answering.scope import Scope
from bot.answering.sentence_cache import SentenceVectors
from bot.answering.texts import TEXT, source_line, vn_date
from bot.answering.types import Answer, Source, Turn
from indexer.search import HybridSearcher
from indexer.textnorm import nfc

log = logging.getLogger(__name__)
MAX_QUESTION_CHARS = 1500
# A chunk must beat every out-of-remit topic by this much. Across languages every similarity is lower
# and the reference topics are mostly Vietnamese, so an English question may come a little closer to them.
OFF_TOPIC_MARGIN = {"vi": 0.015, "en": -0.015}
WARM_UP_QUESTIONS = ("phi dang ky nhan hieu bao nhieu", "How do I register a trademark?")
SIZE_QUERY = (
    "tiêu chí xác định doanh nghiệp siêu nhỏ, nhỏ và vừa Nghị định 80/2021 Điều 5 số lao động doanh thu nguồn vốn"
)


@dataclass
class Thresholds:
    abstain: float = 0.38  # below: the knowledge base does not cover the question
    offer: float = 0.55  # below: answer, and offer a consultant


class AnswerEngine:
    def __init__(self, searcher: HybridSearcher, composer=None, thresholds: Thresholds | None = None) -> None:
        self.searcher = searcher
        self.retriever = Retriever(searcher, Scope(searcher.embedder))
        settings = getattr(searcher, "settings", None)
        cache = SentenceVectors.path_for(settings.data_dir / "cache", searcher.embedder.name) if settings else None
        self.sentences = SentenceVectors(searcher.embedder, path=cache)
        self.sentences.load()
        self.composer = composer  # an LLM composer, or None for extractive answers
        self.thresholds = thresholds or Thresholds()
        self.last_question = 0.0  # time.monotonic() of the latest question

    # -- public ----------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the index and run every stage once, so the first users to write do not pay for it.

        Never fatal (a Chroma server still starting only delays the first answers), and never billed: the
        LLM composer is left out.
        """
        started = time.perf_counter()
        composer, self.composer = self.composer, None
        try:
            self.searcher.ensure_fresh()
            for question in WARM_UP_QUESTIONS:
                self.answer(question)
        except Exception as exc:  # noqa: BLE001 - the first question will try again and report properly
            log.warning("warm-up failed, answering will load lazily: %s", exc)
            return
        finally:
            self.composer = composer
        log.info("answer engine warmed up in %.1f s", time.perf_counter() - started)

    def missing_sentences(self) -> list[str]:
        """Sentences of the index whose vectors (for English answers) are not cached yet."""
        self.searcher.ensure_fresh()
        keyword = self.searcher.keyword
        units = [text for chunk in (keyword.text if keyword else []) for text, _ in extractive.split_units(chunk)]
        return self.sentences.missing(units)

    def fill_sentence_cache(self, batch: int = 64, when_idle: float = 0.0) -> int:
        """Embed every sentence of the index not cached yet and save the cache (~25 s the first time for the
        shipped knowledge base, nothing later); returns how many were embedded.

        `when_idle`: each batch waits until no question came in for that many seconds (a server fills
        its cache between users, not while they wait).
        """
        started = time.perf_counter()
        missing = self.missing_sentences()
        done = 0
        for start in range(0, len(missing), batch):
            while when_idle and time.monotonic() - self.last_question < when_idle:
                time.sleep(when_idle / 4)
            done += self.sentences.fill(missing[start : start + batch], batch=batch)
        if done:
            self.sentences.save()
            log.info("sentence vectors: %d embedded in %.1f s", done, time.perf_counter() - started)
        return done

    def answer(self, question: str, history: list[Turn] | None = None, language: str | None = None) -> Answer:
        """`language`: the reply language when neither the question nor the history shows one (e.g. the
        user's Telegram language for "NATIF?"); Vietnamese by default."""
        self.last_question = time.monotonic()
        started = time.perf_counter()
        result = self._answer(nfc(question).strip(), history or [], language or "vi")
        result.latency_ms = int((time.perf_counter() - started) * 1000)
        return result

    def confidence(self, retrieval: Retrieval) -> float:
        """0–1 from lexical coverage, known phrases and dense similarity (calibrated on the dev set)."""
        if retrieval.off_topic > -OFF_TOPIC_MARGIN.get(retrieval.lang, 0.0):
            return 0.0
        if retrieval.lang != "vi":
            # Cross-lingual: word overlap says nothing; how far the question is from out-of-remit topics does.
            return round(min(1.0, max(0.0, 0.45 - 8 * retrieval.off_topic)), 3)
        dense = min(1.0, max(0.0, (retrieval.top_dense - 0.80) / 0.10))
        return round(min(1.0, 0.4 * retrieval.coverage + 0.3 * retrieval.known_pairs + 0.3 * dense), 3)

    # -- internals -------------------------------------------------------------
    def _answer(self, question: str, history: list[Turn], default_language: str = "vi") -> Answer:
        earlier = [t.text for t in reversed(history) if t.role == "user"]
        lang = detect_language(question, earlier, default_language)
        text, injected = strip_injection(question[:MAX_QUESTION_CHARS])
        if injected:
            log.info("instruction-like text removed from a question")
        kind = smalltalk(text) if text else None
        if kind:
            return Answer(question, TEXT[lang][kind], confidence=1.0, language=lang, kind="smalltalk")
        if text and wants_human(text):
            ranked = [d.doc_id for d in self.retriever.retrieve(text, lang=lang).docs]
            return Answer(
                question,
                TEXT[lang]["handoff_request"],
                confidence=1.0,
                handoff_suggested=True,
                language=lang,
                kind="handoff_request",
                ranked_doc_ids=ranked,
            )
        if not text:
            return self._abstain(question, lang, "only instructions, no question")
        if sme_size.is_size_question(text) or (
            history and sme_size.is_size_question(f"{followup.last_user_question(history) or ''} {text}")
        ):
            return self._size(question, text, history, lang)
        focus = previous = None
        query = text
        if followup.is_followup(text, history):
            query, focus, previous = followup.combine(text, history), text, followup.last_user_question(history)
        retrieval = self.retriever.retrieve(query, focus=focus, lang=lang, previous=previous)
        confidence = self.confidence(retrieval)
        ranked = [d.doc_id for d in retrieval.docs]
        if not retrieval.docs or confidence < self.thresholds.abstain:
            answer = self._abstain(question, lang, f"confidence {confidence}", confidence, query)
            answer.ranked_doc_ids = ranked
            return answer
        answer = self._compose(question, text, retrieval, lang, history)
        answer.confidence = confidence
        answer.search_query = query
        answer.topic = retrieval.docs[0].meta.get("topic", "other")
        answer.ranked_doc_ids = ranked
        if confidence < self.thresholds.offer:
            answer.handoff_suggested = True
            answer.answer += "\n\n" + TEXT[lang]["offer"]
        return answer

    def _abstain(self, question: str, lang: str, why: str, confidence: float = 0.0, query: str = "") -> Answer:
        return Answer(
            question,
            TEXT[lang]["abstain"],
            confidence=confidence,
            handoff_suggested=True,
            language=lang,
            kind="abstain",
            note=why,
            search_query=query,
        )

    def _size(self, question: str, text: str, history: list[Turn], lang: str) -> Answer:
        combined = text
        previous = followup.last_user_question(history)
        if previous and sme_size.is_size_question(previous):
            combined = f"{previous} {text}"
        facts = sme_size.extract(combined)
        result = sme_size.classify(facts)
        retrieval = self.retriever.retrieve(SIZE_QUERY, k_docs=1)
        sources = [self._source(d) for d in retrieval.docs[:1]]
        return Answer(
            question,
            sme_size.render(result, facts, lang),
            sources=sources,
            confidence=0.95,
            language=lang,
            kind="clarify" if result.missing else "calculation",
            topic="funding",
            search_query=SIZE_QUERY,
            ranked_doc_ids=[s.doc_id for s in sources],
        )

    def _compose(self, question: str, text: str, retrieval: Retrieval, lang: str, history: list[Turn]) -> Answer:
        extractive_answer = self._extractive(question, text, retrieval, lang)
        if self.composer is None:
            return extractive_answer
        sources = [self._source(d) for d in retrieval.docs[:3]]
        try:
            llm_answer = self.composer.compose(text, retrieval, lang, history, sources)
        except Exception as exc:  # noqa: BLE001 - timeouts, server errors, guard failures: the extractive answer stands
            log.warning("LLM composer failed, using the extractive answer: %s", exc)
            extractive_answer.note = f"llm fallback: {type(exc).__name__}"
            return extractive_answer
        return llm_answer

    def _extractive(self, question: str, text: str, retrieval: Retrieval, lang: str) -> Answer:
        keyword = self.searcher.keyword
        similarity = None
        if lang != "vi":
            query_vector = retrieval.vector
            if query_vector is None or retrieval.query != text:
                query_vector = self.searcher.embedder.embed_queries([text])[0]
            similarity = lambda texts: self.sentences.vectors(texts) @ query_vector
        # English: sentences are scored by embedding similarity plus the Vietnamese words of its domain terms.
        units = extractive.select(
            keyword_text(retrieval.query, lang), retrieval.docs, lambda w: _idf(keyword, w), similarity
        )
        used = sorted({u.doc_index for u in units})
        numbering = {d: n for n, d in enumerate(used, 1)}
        body = extractive.compose(units, numbering)
        sources = [self._source(retrieval.docs[d]) for d in used]
        note = self._change_note(retrieval, sources, lang)
        if note:
            body += " " + note
        if lang == "en":
            body = TEXT["en"]["lead"] + "\n" + body
        return Answer(question, body, sources=sources, language=lang, kind="answer")

    def _change_note(self, retrieval: Retrieval, sources: list[Source], lang: str) -> str:
        """When a superseded rule also matched, say when the rule changed."""
        if not sources or sources[0].effective_to:
            return ""
        old = next(iter(retrieval.superseded), None)
        if old is None or any(s.doc_id == old.doc_id for s in sources):
            return ""
        sources.append(self._source(old))
        n = len(sources)
        current_from = vn_date(sources[0].effective_from)
        old_to = vn_date(old.meta.get("effective_to", ""))
        return TEXT[lang]["changed"].format(since=current_from or "?", until=old_to or "?", n=n)

    @staticmethod
    def _source(doc) -> Source:
        meta = doc.meta
        best = doc.chunks[0]
        return Source(
            doc_id=doc.doc_id,
            title=meta.get("title", ""),
            section=best.meta.get("section", ""),
            path=meta.get("path", ""),
            score=round(float(doc.score), 4),
            legal_basis=meta.get("legal_basis", ""),
            effective_from=meta.get("effective_from", ""),
            effective_to=meta.get("effective_to", ""),
            topic=meta.get("topic", ""),
            text="\n".join(c.text for c in doc.chunks[:2]),
        )


def format_sources(sources: list[Source], lang: str = "vi") -> str:
    return "\n".join(source_line(n, s, lang) for n, s in enumerate(sources, 1))
