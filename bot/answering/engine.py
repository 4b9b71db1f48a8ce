"""The answer service used by Telegram, the console and the command line alike."""

from __future__ import annotations

import functools
import logging
import re
import time
from dataclasses import dataclass

from bot.answering import abbreviations, checks, extractive, followup, sme_size
from bot.answering.glossary import keyword_text
from bot.answering.intents import Intent, LazyIntents
from bot.answering.language import detect_language, strip_injection
from bot.answering.remit import RemitModel
from bot.answering.retrieval import Retrieval, Retriever, _idf
from bot.answering.scope import Scope
from bot.answering.sentence_cache import SentenceVectors
from bot.answering.texts import TEXT, source_line, vn_date
from bot.answering.types import Answer, Source, Turn
from bot.i18n import t
from indexer.search import HybridSearcher
from indexer.textnorm import nfc, tokens

log = logging.getLogger(__name__)
MAX_QUESTION_CHARS = 1500
# A chunk must beat every out-of-remit topic by this much. Across languages every similarity is lower
# and the reference topics are mostly Vietnamese, so an English question may come a little closer to them.
OFF_TOPIC_MARGIN = {"vi": 0.015, "en": -0.015}
WARM_UP_QUESTIONS = ("phi dang ky nhan hieu bao nhieu", "How do I register a trademark?")
SIZE_QUERY = (
    "tiêu chí xác định doanh nghiệp siêu nhỏ, nhỏ và vừa Nghị định 80/2021 Điều 5 số lao động doanh thu nguồn vốn"
)


SMALLTALK_MAX_WORDS = 8  # a greeting or thanks longer than this carries a question
SIZE_FOLLOWUP_MAX_WORDS = 14  # a message that only adds figures to a size question
SIZE_QUESTION_MAX_WORDS = 12  # a size question without figures ("công ty tôi là doanh nghiệp nhỏ hay vừa?")
SUBJECT_DOCS = 3  # documents of the current subject a follow-up's new aspect is looked for in
ASPECT_FOLLOWUP_MAX_WORDS = 8  # a message with history, naming no new subject, this short asks for an aspect


def replaced(current: dict, old_id: str) -> bool:
    """True when the document in force (its metadata `current`) says it replaced the document `old_id` (front
    matter `replaces: <doc id>`).

    Only a stated link: many rules took effect on the same day (1/4/2026), so dates alone would tie a trademark's
    term to an old opposition rule that merely matched the question too."""
    ids = {part.strip() for part in str(current.get("replaces", "")).replace(",", ";").split(";")}
    return bool(old_id) and old_id in ids


@dataclass
class Thresholds:
    abstain: float = 0.38  # below: the knowledge base does not cover the question
    offer: float = 0.55  # below: answer, and offer a consultant


@dataclass
class IntentThresholds:
    """Probabilities of the learned intents (bot/answering/intents.py) that decide; tuned on the tuning part."""

    human: float = 0.5  # a request for a person
    smalltalk: float = 0.8  # greeting or thanks
    size: float = 0.5  # a size calculation
    in_remit: float = 0.9  # question + own case + size this probable: nearing an out-of-remit topic costs no confidence
    own_case: float = 0.3  # the owner's own case: answer, and offer a consultant


class AnswerEngine:
    curated = None  # curated answers hook: a bot.answering.curated.CuratedAnswers, set by bot.app
    # Sentences whose vectors are missing that one answer may embed while the owner waits: the few of a
    # document uploaded since the cache was filled (~20 ms each); more than that, the cache is still being
    # filled and the sentences are chosen by their words alone. The command line raises it.
    on_demand_sentences = 12

    def __init__(self, searcher: HybridSearcher, composer=None, thresholds: Thresholds | None = None) -> None:
        self.searcher = searcher
        self.retriever = Retriever(searcher, Scope(searcher.embedder))
        settings = getattr(searcher, "settings", None)
        cache = SentenceVectors.path_for(settings.data_dir / "cache", searcher.embedder.name) if settings else None
        self.sentences = SentenceVectors(searcher.embedder, path=cache)
        self.sentences.load()
        self.composer = composer  # an LLM composer, or None for extractive answers
        self.thresholds = thresholds or Thresholds()
        self.intent_thresholds = IntentThresholds()
        self.intents = LazyIntents(searcher.embedder, settings.data_dir / "cache" if settings else None)
        self._size_vector = None  # the size criteria query's embedding, computed once
        self.last_question = 0.0  # time.monotonic() of the latest question
        self._split_for, self._split_units = None, []  # the keyword index last split into sentences, and them

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
        """Sentences of the index whose vectors are not cached yet."""
        self.searcher.ensure_fresh()
        keyword = self.searcher.keyword
        if keyword is None:
            return []
        if self._split_for is not keyword:
            # Splitting every chunk takes ~0.8 s of the interpreter lock: once per index, not per check.
            self._split_units = [text for chunk in keyword.text for text, _ in extractive.split_units(chunk)]
            self._split_for = keyword
        return self.sentences.missing(self._split_units)

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

    def confidence(self, retrieval: Retrieval, in_remit: bool = False) -> float:
        """0–1 from lexical coverage, known phrases and dense similarity (calibrated on the dev set).

        `in_remit`: the intent classifier is sure the question is within the centre's remit; closeness to an
        out-of-remit reference topic ("giảm 20% thời gian" near "giảm cân") then does not zero the confidence.
        """
        if not in_remit and retrieval.off_topic > -OFF_TOPIC_MARGIN.get(retrieval.lang, 0.0):
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
        if not text:
            return self._abstain(question, lang, "only instructions, no question")
        if lang == "vi":
            text = abbreviations.expand(text)  # "dk shtt" is read as "đăng ký sở hữu trí tuệ"
        # One embedding of the question serves the intent classifier, retrieval and the curated answers.
        self.searcher.ensure_fresh()
        vector = self.searcher.query_vector(text, restore=lang == "vi")
        intent = self.intents.classify(vector)
        route = self._route(text, intent, history)
        if route in ("greeting", "thanks"):
            return Answer(question, TEXT[lang][route], confidence=1.0, language=lang, kind="smalltalk")
        if route == "human":
            ranked = [d.doc_id for d in self.retriever.retrieve(text, lang=lang, vector=vector).docs]
            return Answer(
                question,
                TEXT[lang]["handoff_request"],
                confidence=1.0,
                handoff_suggested=True,
                language=lang,
                kind="handoff_request",
                ranked_doc_ids=ranked,
            )
        if route == "size":
            sized, size = self._size(question, text, history, lang)
            rest = self._beyond_size(text)
            if size is not None and rest:
                # Figures and another question in one message ("45 người, doanh thu 60 tỷ, được hỗ trợ tư vấn bao
                # nhiêu?"): the class, then that question asked for the class.
                asked = f"{t(lang, f'engine.size_{size}')} {rest}"
                vector = self.searcher.query_vector(asked, restore=lang == "vi")
                grounded = self._grounded(question, asked, vector, self.intents.classify(vector), [], lang)
                if grounded.kind == "answer":
                    return _joined(sized, grounded)
            return sized
        answer = self._grounded(question, text, vector, intent, history, lang)
        # The owner describes their own case, or their own company's figures outside a size question
        # ("DN siêu nhỏ của tôi thuê tư vấn hết 60 triệu, được hỗ trợ bao nhiêu?").
        own = intent.p("own_case") >= self.intent_thresholds.own_case or intent.label == "size"
        if answer.kind == "answer" and own:
            # The owner describes their own case: the general rule, and a consultant for the case itself.
            answer.handoff_suggested = True
            offer = "\n\n" + TEXT[lang]["offer"]
            answer.answer = answer.answer.removesuffix(offer) + "\n\n" + t(lang, "engine.own_case")
        return answer

    def _route(self, text: str, intent: Intent, history: list[Turn]) -> str:
        """greeting | thanks | human | size | question, from the learned intent (and the conversation for size)."""
        limits = self.intent_thresholds
        words = len(tokens(text))
        if intent.label in ("greeting", "thanks") and intent.probability >= limits.smalltalk:
            return intent.label if words <= SMALLTALK_MAX_WORDS else "question"
        # Below its threshold, the likeliest intent still asks for a person when there is no subject to answer
        # instead: neither the message names one nor a conversation gives one (there, "ai được đăng ký?" asks
        # about the subject, not for a person).
        if intent.label == "human" and (
            intent.probability >= limits.human
            or not (followup.last_user_question(history) or self.retriever.subject_terms(text))
        ):
            return "human"
        facts = sme_size.extract(text)
        # About size: names a class or the criteria, or gives headcount with revenue or capital, or is a household
        # business; a class named in a longer message about something else ("DN siêu nhỏ thuê tư vấn …") is not.
        figures = facts.employees is not None and (facts.revenue is not None or facts.capital is not None)
        named = sme_size.is_about_size(text) and (facts.figures or words <= SIZE_QUESTION_MAX_WORDS)
        about_size = figures or facts.household or named
        if about_size and not (facts.figures or facts.household) and not sme_size.asks_for_class(text):
            # A class named, without figures, in a conversation on another subject ("DN siêu nhỏ được bao nhiêu?"
            # after a question about consulting support) qualifies that subject: a follow-up, not a size question.
            about_size = not (followup.last_user_question(history) and not self._size_context(history))
        if intent.label == "size" and intent.probability >= limits.size and about_size:
            return "size"
        # A size conversation goes on while the owner only adds figures ("doanh thu 20 tỷ", "thương mại");
        # a message about anything else lets it go.
        adds_figures = (
            facts.any and words <= SIZE_FOLLOWUP_MAX_WORDS and intent.label not in ("human", "greeting", "thanks")
        )
        if adds_figures and self._size_context(history):
            return "size"
        return "question"

    @staticmethod
    def _size_context(history: list[Turn]) -> bool:
        last = followup.last_answer(history)
        if last is not None and last.kind:
            return last.kind in ("clarify", "calculation")
        previous = followup.last_user_question(history)
        return bool(previous) and sme_size.is_size_question(previous)

    def _grounded(self, question: str, text: str, vector, intent: Intent, history: list[Turn], lang: str) -> Answer:
        """An answer from the documents (or the curated answers), or an abstention."""
        focus = within = None
        query, query_vector = text, vector
        previous = followup.last_user_question(history)
        # The conversation's subject, or a new one the documents' titles name: not a question outside the remit.
        known_subject = False
        if previous:
            # What the conversation is about: the previous question's words and the titles of the documents the
            # last answer drew on ("áp dụng … cho xưởng nhỏ" after an answer from "Áp dụng 5S …" stays on 5S).
            last = followup.last_answer(history)
            earlier = set(tokens(previous)) | self.retriever.title_words(last.doc_ids if last else [])
            # A size class ("siêu nhỏ") qualifies the subject rather than names one: a question about the class
            # itself went to the size calculator (_route).
            qualifiers = sme_size.class_words(text)
            new_subjects = [
                s for s in self.retriever.subject_terms(text) if not set(s.split()) <= (earlier | qualifiers)
            ]
            short = followup.is_followup(text, history) or len(tokens(text)) <= ASPECT_FOLLOWUP_MAX_WORDS
            if not new_subjects and short:
                # Only a new aspect ("nộp ở đâu?", "mất bao lâu?"): answer it from the current subject's documents.
                # The aspect is the follow-up's; the previous question gives only its subject ("phản đối đơn
                # nhãn hiệu", not its "trong bao lâu"), else the old aspect's sentences answer the new one.
                query, query_vector = f"{text} {self.retriever.without_aspect(previous)}".strip(), None
                within = self._subject(history, previous, lang)
                known_subject = bool(within)
            elif followup.is_followup(text, history):
                # A new subject, the rest of the question left out ("còn kiểu dáng thì sao?"): the follow-up's
                # words steer, the previous question supplies the aspect.
                query, focus, query_vector = followup.combine(text, history), text, None
                known_subject = bool(new_subjects)
            else:
                previous = None  # a question of its own
        retrieval = self.retriever.retrieve(
            query, focus=focus, lang=lang, previous=previous, vector=query_vector, within=within
        )
        if query != text and retrieval.vector is not None:
            # A follow-up's own words ("trụ sở ở đâu?") say little about the remit; the resolved question does.
            intent = self.intents.classify(retrieval.vector)
        # A question the classifier is sure of is not zeroed for nearing an out-of-remit topic; an own-case story
        # ("đối tác nợ tiền, kiện ra tòa") may be about the owner's business yet outside the remit, so it is.
        sure = intent.p("question") + intent.p("size") >= self.intent_thresholds.in_remit
        confidence = self.confidence(retrieval, in_remit=sure or known_subject)
        ranked = [d.doc_id for d in retrieval.docs]
        # -- curated answers hook (bot/answering/curated.py): a question staff answered, matched question to
        # question on the vector retrieval computed, is answered with their text and its citation.
        if self.curated is not None and query == text:  # the owner's own question, not a follow-up's combination
            curated = self.curated.answer(question, retrieval.vector, lang, text=query)
            if curated is not None:
                curated.search_query, curated.ranked_doc_ids = query, ranked
                return curated
        # -- end of the curated answers hook
        keyword = self.searcher.keyword
        named = checks.unknown_name(question, keyword.known_pair, keyword.doc_freq) if keyword is not None else None
        if named:
            # What is asked, without the name no document knows ("tỉnh Lâm Viên" reads to the classifier like
            # somewhere else's business), tells an unanswered question of the remit from one outside it; retrieval
            # says little here, since no document is near a subject they do not name.
            unnamed = " ".join(text.replace(named, " ").split())
            asked = self.intents.classify(self.searcher.query_vector(unnamed, restore=lang == "vi"))
            if asked.label == "out_of_remit":
                named = None
        outside = not named and not known_subject and self._out_of_remit(intent, retrieval)
        if named:
            # A province, fund or programme no document mentions: its neighbours' rules are not its rules.
            answer = self._abstain(question, lang, "names a place or programme no document knows", confidence, query)
            answer.answer = t(lang, "engine.unknown_name", name=named)
            answer.ranked_doc_ids = ranked
            return answer
        if outside:
            answer = self._abstain(question, lang, f"out of remit {intent.p('out_of_remit'):.2f}", confidence, query)
            answer.answer = t(lang, "engine.out_of_remit")
            answer.ranked_doc_ids = ranked
            return answer
        if not retrieval.docs or confidence < self.thresholds.abstain:
            answer = self._abstain(question, lang, f"confidence {confidence}", confidence, query)
            answer.ranked_doc_ids = ranked
            return answer
        # The follow-up asks a new aspect of the current subject in words of its own ("hồ sơ cần những gì?"), not
        # only names something ("thế còn ảnh chụp?"), which keeps the previous question's aspect.
        aspect = within is not None and checks.asks_its_own(text)
        answer = self._compose(question, text, retrieval, lang, history, aspect)
        if within and answer.note.startswith("asked"):
            # The current subject's documents do not give the aspect asked for: look in all of them.
            wider = self.retriever.retrieve(query, lang=lang, vector=retrieval.vector)
            if wider.docs:
                retrieval, ranked = wider, [d.doc_id for d in wider.docs]
                answer = self._compose(question, text, retrieval, lang, history, aspect)
        answer.confidence = confidence
        answer.search_query = query
        answer.topic = retrieval.docs[0].meta.get("topic", "other")
        answer.ranked_doc_ids = ranked
        if confidence < self.thresholds.offer:
            answer.handoff_suggested = True
            answer.answer += "\n\n" + TEXT[lang]["offer"]
        return answer

    @functools.cached_property
    def remit(self) -> RemitModel:
        # Read when first needed: `python -m bot.answering.remit` builds an engine to learn the model anew.
        return RemitModel.load()

    def _out_of_remit(self, intent: Intent, retrieval: Retrieval) -> bool:
        """Outside the centre's remit: the classifier's view weighed with how near the documents come (remit.py)."""
        return self.remit.outside(intent, retrieval)

    def _subject(self, history: list[Turn], previous: str | None, lang: str) -> list[str]:
        """The documents of the conversation's current subject: those the last answer drew on (stored with it),
        or, for a history that does not carry them, those the previous question finds."""
        last = followup.last_answer(history)
        if last is not None and last.doc_ids:
            return list(last.doc_ids[:SUBJECT_DOCS])
        if not previous:
            return []
        earlier = self.retriever.retrieve(previous, lang=detect_language(previous, (), lang) or lang)
        return [d.doc_id for d in earlier.docs[:SUBJECT_DOCS]]

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

    def _beyond_size(self, text: str) -> str:
        """The part of a size message that asks something else: its clauses without figures, when they name a
        subject of the documents other than the size classes ("" otherwise)."""
        if sme_size.asks_for_class(text):
            return ""
        rest = " ".join(p.strip() for p in re.split(r"[,;.\n]+", text) if p.strip() and not re.search(r"\d", p))
        qualifiers = sme_size.class_words(rest)
        subjects = [s for s in self.retriever.subject_terms(rest) if not set(s.split()) <= qualifiers]
        return rest if subjects else ""

    def _size(self, question: str, text: str, history: list[Turn], lang: str) -> tuple[Answer, str | None]:
        """The Article 5 calculator, and the class it decided (None: not decided, or not an SME); figures given
        earlier in the same size conversation still count, the latest message's figures win."""
        facts = sme_size.SizeFacts()
        if self._size_context(history):
            for turn in history:
                if turn.role == "user":
                    facts = facts.merged(sme_size.extract(turn.text))
        facts = facts.merged(sme_size.extract(text))
        result = sme_size.classify(facts)
        if self._size_vector is None:
            self._size_vector = self.searcher.query_vector(SIZE_QUERY)
        retrieval = self.retriever.retrieve(SIZE_QUERY, k_docs=1, vector=self._size_vector)
        sources = [self._source(d) for d in retrieval.docs[:1]]
        body = sme_size.render(result, facts, lang)
        near = sme_size.near_note(result, lang)
        answer = Answer(
            question,
            body + ("\n\n" + near if near else ""),
            sources=sources,
            confidence=0.95,
            handoff_suggested=bool(near),
            language=lang,
            kind="clarify" if result.missing and not result.at_least else "calculation",
            topic="funding",
            search_query=SIZE_QUERY,
            ranked_doc_ids=[s.doc_id for s in sources],
        )
        return answer, (result.size if answer.kind == "calculation" and not result.missing else None)

    def _compose(
        self, question: str, text: str, retrieval: Retrieval, lang: str, history: list[Turn], aspect: bool = False
    ) -> Answer:
        extractive_answer = self._extractive(question, text, retrieval, lang, aspect)
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

    def _extractive(self, question: str, text: str, retrieval: Retrieval, lang: str, aspect: bool = False) -> Answer:
        keyword = self.searcher.keyword
        similarity = dense = None
        vector = retrieval.vector
        if lang == "vi" and vector is not None:

            def dense(texts):
                # Cached sentence vectors: a dot product, at most a few model calls while the owner waits.
                found = self.sentences.cached(texts, embed_up_to=self.on_demand_sentences)
                return None if found is None else found @ vector

        if lang != "vi":
            query_vector = retrieval.vector
            if query_vector is None or retrieval.query != text:
                query_vector = self.searcher.embedder.embed_queries([text])[0]
            similarity = lambda texts: self.sentences.vectors(texts) @ query_vector
        # English: sentences are scored by embedding similarity plus the Vietnamese words of its domain terms.
        # A follow-up that asks a new aspect ("hồ sơ cần những gì?" after "… trong bao lâu?") asks its own type of
        # answer; only one that names a new subject and leaves the rest out inherits the previous question's.
        asked = checks.asked_type(text) or (None if aspect else checks.asked_type(retrieval.query))
        terms = self.retriever.subject_terms
        subjects = terms(keyword_text(text, lang)) or terms(keyword_text(retrieval.query, lang))
        units = extractive.select(
            keyword_text(retrieval.query, lang),
            retrieval.docs,
            lambda w: _idf(keyword, w),
            similarity,
            asked=asked,
            subjects=subjects,
            subject_terms=terms,
            dense=dense,
            interrogative=text if aspect else None,
        )
        used = sorted({u.doc_index for u in units})
        numbering = {d: n for n, d in enumerate(used, 1)}
        body = extractive.compose(units, numbering, polar_lead=asked == "yesno")
        covered = not units or asked not in extractive.TYPED or any(checks.carries(u.text, asked) for u in units)
        if not covered:
            # The documents do not give what was asked (a duration, a place, an amount, a date): say what they
            # do say, and offer a consultant rather than pass a neighbouring fact off as the answer.
            body = t(lang, "engine.not_covered", asked=t(lang, f"engine.asked_{asked}"), covers=body)
        elif asked == "yesno" and units and lang == "vi" and not checks.polar_start(units[0].text):
            answer = checks.lead(text, units[0].text)
            if answer:
                body = t(lang, f"engine.lead_{answer}") + " " + body
        sources = [self._source(retrieval.docs[d]) for d in used]
        note = self._change_note(retrieval, sources, lang)
        if note:
            body += " " + note
        if lang == "en":
            body = TEXT["en"]["lead"] + "\n" + body
        answer = Answer(question, body, sources=sources, language=lang, kind="answer")
        if not covered:
            answer.handoff_suggested = True
            answer.answer += "\n\n" + t(lang, "engine.not_covered_offer")
            answer.note = f"asked {asked}, not in the documents' sentences"
        return answer

    def _change_note(self, retrieval: Retrieval, sources: list[Source], lang: str) -> str:
        """When the rule answered replaced a superseded one that also matched, say when the rule changed."""
        if not sources or sources[0].effective_to:
            return ""
        current = next((d for d in retrieval.docs if d.doc_id == sources[0].doc_id), None)
        old = next((d for d in retrieval.superseded if current and replaced(current.meta, d.doc_id)), None)
        if old is None or any(s.doc_id == old.doc_id for s in sources):
            return ""
        since, until = vn_date(sources[0].effective_from), vn_date(old.meta.get("effective_to", ""))
        if not since or not until:
            return ""
        sources.append(self._source(old))
        return TEXT[lang]["changed"].format(since=since, until=until, n=len(sources))

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


def _joined(first: Answer, second: Answer) -> Answer:
    """`first` then `second` as one answer: the second's citation numbers follow the first's sources (a document
    both cite keeps its first number)."""
    sources = list(first.sources)
    numbers = {}
    for n, source in enumerate(second.sources, 1):
        known = next((i for i, s in enumerate(sources, 1) if s.doc_id == source.doc_id), None)
        if known is None:
            sources.append(source)
            known = len(sources)
        numbers[n] = known
    shifted = re.sub(r"\[(\d+)\]", lambda m: f"[{numbers.get(int(m.group(1)), m.group(1))}]", second.answer)
    first.answer = f"{first.answer}\n\n{shifted}"
    first.sources = sources
    first.handoff_suggested = first.handoff_suggested or second.handoff_suggested
    first.ranked_doc_ids = first.ranked_doc_ids + [d for d in second.ranked_doc_ids if d not in first.ranked_doc_ids]
    return first


def format_sources(sources: list[Source], lang: str = "vi") -> str:
    return "\n".join(source_line(n, s, lang) for n, s in enumerate(sources, 1))
