"""Document-level retrieval: hybrid chunk search, grouped by document, rules in force first."""

from __future__ import annotations

import datetime as dt
import itertools
import math
import re
from dataclasses import dataclass, field

import numpy as np

from bot.answering.glossary import keyword_text
from indexer.search import Candidate, HybridSearcher
from indexer.textnorm import fold, tokens

SUPERSEDED_FACTOR = 0.5
RARE_WORD_CHUNKS = 60  # a single title word names a subject only when this few chunks use it ("kaizen")
SUBJECT_CACHE = 50_000  # sentences whose subjects are remembered (the shipped documents have ~3,500)
_ASKS_OLD = re.compile(
    r"(truoc (ngay )?1/4/2026|truoc 2026|quy dinh cu|luat cu|nam 20(1\d|2[0-5])|old rule|before april 2026)"
)
_STOP = {
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
    "can",
    "phai",
    "khi",
    "o",
    "dau",
    "ai",
    "ve",
    "nhu",
    "ma",
    "roi",
    "nhe",
    "a",
    "oi",
    "voi",
    "tu",
    "den",
    "trong",
    "tren",
    "duoi",
    "hay",
    "hoac",
    "vay",
    "ra",
    "lam",
    "bi",
    "bay",
    "gio",
    "hien",
    "ban",
    "biet",
    "hoi",
    "xin",
    "muon",
    "ko",
    "k",
    "dc",
    "j",
    "vs",
    "an",
    "is",
    "are",
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
    "does",
    "my",
    "our",
    "your",
    "i",
    "we",
    "you",
    "it",
    "this",
    "that",
    "much",
    "many",
    "long",
    "need",
    "please",
    "about",
    "should",
    "get",
    "have",
}


# Words that ask about an aspect (when, how long, which fee, what file) rather than name a subject.
_ASPECT = {
    "nop",
    "ky",
    "luc",
    "han",
    "thoi",
    "phi",
    "le",
    "ho",
    "so",
    "thu",
    "tuc",
    "mat",
    "ton",
    "lam",
    "xin",
    "cap",
    "muc",
    "nhieu",
    "nua",
    "tiep",
    "sau",
    "truoc",
    "khi",
    "ngay",
    "thang",
    "nam",
    "tuan",
    "bao",
    "lau",
    "gio",
    "dau",
    "nao",
    "buoc",
    "gom",
    "can",
    "giay",
    "to",
    "dieu",
    "kien",
    "duoc",
    "khong",
}


@dataclass
class RetrievedDoc:
    doc_id: str
    meta: dict
    chunks: list[Candidate] = field(default_factory=list)
    score: float = 0.0
    superseded: bool = False

    @property
    def best(self) -> Candidate:
        return self.chunks[0]


@dataclass
class Retrieval:
    query: str
    docs: list[RetrievedDoc]
    coverage: float  # idf-weighted share of the query's content words found in the top document
    top_dense: float
    known_pairs: float  # share of the query's word pairs the knowledge base uses anywhere
    lang: str = "vi"
    superseded: list[RetrievedDoc] = field(default_factory=list)  # matched, but no longer in force
    off_topic: float = 0.0  # how much closer the question is to an out-of-remit topic than to any chunk
    vector: np.ndarray | None = None  # the query's embedding


def content_tokens(text: str) -> list[str]:
    return [t for t in tokens(text) if t not in _STOP and len(t) > 1 or t.isdigit()]


def in_force(meta: dict, today: dt.date | None = None) -> bool:
    ends = meta.get("effective_to") or ""
    if not ends:
        return True
    try:
        return dt.date.fromisoformat(ends[:10]) >= (today or dt.date.today())
    except ValueError:
        return True


class Retriever:
    def __init__(self, searcher: HybridSearcher, scope=None) -> None:
        self.searcher = searcher
        self.scope = scope
        # (keyword index, (title pairs, title words, doc id -> title, text -> subjects)) of the index last loaded;
        # the subjects of the documents' sentences are remembered there, since every answer weighs them again.
        self._titles: tuple | None = None

    def retrieve(
        self,
        query: str,
        k_docs: int = 4,
        focus: str | None = None,
        lang: str = "vi",
        previous: str | None = None,
        vector: np.ndarray | None = None,
        within: list[str] | None = None,
    ) -> Retrieval:
        """Retrieve for `query`; with `focus` (a follow-up's own words) that text weighs double.

        `vector`: the query's embedding when the caller already has it. `within`: the documents of the
        conversation's current subject; a follow-up that only asks for a new aspect is answered from them.
        """
        words = keyword_text(query, lang)
        self.searcher.ensure_fresh()
        if vector is None:
            vector = self.searcher.query_vector(query, restore=lang == "vi")
        k, pool = (80, 120) if within else (24, 40)  # the subject's chunks must be among those searched
        chunks = self.searcher.search(query, k=k, pool=pool, keyword=bool(words), vector=vector, keyword_text=words)
        if focus:
            # A follow-up that names its own subject ("còn kiểu dáng thì sao?") steers; one that
            # only asks about an aspect ("phải nộp trong bao lâu?") leaves the previous subject in charge.
            # "còn kiểu dáng thì sao?" names a new subject: it steers. "phải nộp trong bao lâu?" only asks
            # about an aspect: the previous question's subject stays in charge.
            steer, weight = (focus, 2.0) if self.names_subject(focus) else (previous, 1.0)
            if steer:
                steer_words = keyword_text(steer, lang)
                for cand in self.searcher.search(
                    steer, k=24, pool=40, keyword=bool(steer_words), keyword_text=steer_words
                ):
                    cand.score *= weight
                    chunks.append(cand)
        if within:
            inside = [c for c in chunks if c.meta.get("doc_id", c.id) in within]
            chunks = inside or chunks
        asks_old = bool(_ASKS_OLD.search(fold(query)))
        docs: dict[str, RetrievedDoc] = {}
        for cand in sorted(chunks, key=lambda c: c.score, reverse=True):
            doc_id = cand.meta.get("doc_id", cand.id)
            doc = docs.get(doc_id)
            if doc is None:
                doc = docs[doc_id] = RetrievedDoc(doc_id, cand.meta, superseded=not in_force(cand.meta))
            if all(c.id != cand.id for c in doc.chunks):
                doc.chunks.append(cand)
        for doc in docs.values():
            # The best chunk alone decides: a bonus per further matching chunk would rank a long document
            # above a one-paragraph one that search put first. Ties keep search order (a stable sort).
            doc.score = doc.chunks[0].score
        before_penalty = sorted(docs.values(), key=lambda d: d.score, reverse=True)
        superseded = [d for d in before_penalty[:3] if d.superseded]
        if not asks_old:
            for doc in superseded:
                doc.score *= SUPERSEDED_FACTOR
        ranked = sorted(docs.values(), key=lambda d: d.score, reverse=True)[:k_docs]
        for doc in ranked[:2]:
            summary = self.searcher.keyword.summary(doc.doc_id) if self.searcher.keyword else None
            if summary is not None and all(c.id != summary.id for c in doc.chunks[:2]):
                doc.chunks.insert(min(2, len(doc.chunks)), summary)
        coverage = self._coverage(focus or query, ranked[0]) if ranked else 0.0
        top_dense = max((c.dense for d in ranked[:2] for c in d.chunks[:2]), default=0.0)
        return Retrieval(
            query=query,
            docs=ranked,
            coverage=coverage,
            top_dense=top_dense,
            known_pairs=self._known_pairs(focus or query),
            lang=lang,
            superseded=[] if asks_old else superseded,
            off_topic=self.scope.margin(vector, top_dense) if self.scope else 0.0,
            vector=vector,
        )

    def subject_terms(self, text: str) -> list[str]:
        """The subjects the text names, in the documents' own vocabulary: word pairs of the documents' titles
        ("sáng chế", "kiểu dáng", "chuyển đổi số") and words rare in the whole knowledge base that a title uses
        ("kaizen", "NAFOSTED"). Aspect words ("nộp", "phí", "bao lâu") are not subjects."""
        vocabulary = self._title_vocabulary()
        if vocabulary is None:
            return []
        pairs, words, _, cache = vocabulary
        keyword = self.searcher.keyword
        known = cache.get(text)
        if known is not None:
            return list(known)
        found = []
        folded = tokens(text)
        for a, b in itertools.pairwise(folded):
            if (a, b) in pairs and not ({a, b} & (_STOP | _ASPECT)):
                found.append(f"{a} {b}")
        for w in folded:
            if w in words and w not in _STOP and w not in _ASPECT and keyword.doc_freq(w) <= RARE_WORD_CHUNKS:
                found.append(w)
        if len(cache) >= SUBJECT_CACHE:
            cache.clear()
        cache[text] = found
        return list(found)

    def _title_vocabulary(self) -> tuple[set, set, dict, dict] | None:
        keyword = self.searcher.keyword
        if keyword is None:
            return None
        cached = self._titles
        if cached is not None and cached[0] is keyword:
            return cached[1]
        titles = {m.get("doc_id", ""): m.get("title", "") for m in keyword.meta}
        pairs: set[tuple[str, str]] = set()
        words: set[str] = set()
        for title in titles.values():
            folded = tokens(title)
            pairs.update(itertools.pairwise(folded))
            words.update(w for w in folded if len(w) > 2 and not w.isdigit())
        vocabulary = (pairs, words, titles, {})
        self._titles = (keyword, vocabulary)
        return vocabulary

    def title_words(self, doc_ids: list[str]) -> set[str]:
        """The folded words of these documents' titles (those the live index has)."""
        vocabulary = self._title_vocabulary()
        if vocabulary is None:
            return set()
        return {w for d in doc_ids for w in tokens(vocabulary[2].get(d, ""))}

    @staticmethod
    def without_aspect(text: str) -> str:
        """`text` as written, less the words that ask rather than name ("trong bao lâu", "ở đâu", "là gì"): what
        it is about, for a follow-up that asks a new aspect of it."""
        kept = [w for w in text.split() if not (set(tokens(w)) <= (_STOP | _ASPECT))]
        return " ".join(kept)

    def names_subject(self, text: str) -> bool:
        """The text names a subject the documents know (a known word pair beyond aspect words), not only an aspect."""
        keyword = self.searcher.keyword
        words = [w for w in tokens(text) if w not in _STOP and w not in _ASPECT and not w.isdigit()]
        if keyword is None:
            return len(words) >= 2
        return any(keyword.known_pair(a, b) for a, b in itertools.pairwise(words))

    def _known_pairs(self, query: str) -> float:
        """Vietnamese meaning lives in two-syllable words: "ly hôn", "giá vàng" never occur in the documents."""
        keyword = self.searcher.keyword
        words = tokens(query)
        pairs = [(a, b) for a, b in itertools.pairwise(words) if not (a in _STOP and b in _STOP)]
        if keyword is None or not pairs:
            return 0.0
        return sum(keyword.known_pair(a, b) for a, b in pairs) / len(pairs)

    def _coverage(self, query: str, doc: RetrievedDoc) -> float:
        words = set(content_tokens(query))
        if not words:
            return 0.0
        keyword = self.searcher.keyword
        # Each part folded on its own: fold() caches its texts, which recur across questions; their join would not.
        text = set(tokens(doc.meta.get("title", "")))
        for c in doc.chunks[:3]:
            text.update(tokens(c.meta.get("section", "")))
            text.update(tokens(c.text))
        total = found = 0.0
        for w in words:
            weight = _idf(keyword, w)
            total += weight
            if w in text:
                found += weight
        return found / total if total else 0.0


def _idf(keyword, word: str) -> float:
    """Rare words weigh more; a word the knowledge base never uses weighs most."""
    if keyword is None or not keyword.ids:
        return 1.0
    df = keyword.doc_freq(word)
    n = len(keyword.ids)
    return math.log((n + 1) / (df + 0.5))
