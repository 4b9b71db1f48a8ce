"""`python -m bot eval`: retrieval and answer quality of the engine against two baselines."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bot.answering.engine import AnswerEngine
from bot.answering.types import Turn
from indexer.textnorm import fold, tokens


@dataclass
class Case:
    id: str
    question: str
    doc_ids: list[str]
    key_fact: str
    topic: str
    diacritics: bool
    lang: str
    out_of_scope: bool
    history: list[Turn]


def load_cases(path: Path) -> list[Case]:
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        cases.append(
            Case(
                id=str(row.get("id", n)),
                question=row["question"],
                doc_ids=list(row.get("doc_ids") or []),
                key_fact=row.get("key_fact") or "",
                topic=row.get("topic") or "other",
                diacritics=bool(row.get("diacritics", True)),
                lang=row.get("lang") or "vi",
                out_of_scope=bool(row.get("out_of_scope") or not row.get("doc_ids")),
                history=[Turn(t["role"], t["text"]) for t in row.get("history") or []],
            )
        )
    return cases


@dataclass
class Outcome:
    ranked_docs: list[str]
    answer: str
    abstained: bool


System = Callable[[Case], Outcome]


def engine_system(engine: AnswerEngine) -> System:
    def run(case: Case) -> Outcome:
        answer = engine.answer(case.question, case.history)
        return Outcome(answer.ranked_doc_ids, answer.answer, answer.abstained)

    return run


def dense_baseline(engine: AnswerEngine, settings) -> System:
    """LangChain's Chroma retriever over the same collection and model, answer from its top chunks."""
    from langchain_chroma import Chroma
    from langchain_core.embeddings import Embeddings

    from indexer.store import COLLECTION

    embedder = engine.searcher.embedder

    class _E5(Embeddings):
        def embed_documents(self, texts):
            return embedder.embed_passages(texts).tolist()

        def embed_query(self, text):
            return embedder.embed_queries([text])[0].tolist()

    store = engine.searcher.store
    vectorstore = Chroma(client=store.client, collection_name=COLLECTION, embedding_function=_E5())
    retriever = vectorstore.as_retriever(search_kwargs={"k": 12})

    def run(case: Case) -> Outcome:
        query = _with_previous_question(case)
        docs = retriever.invoke(query)
        ranked = _unique([d.metadata.get("doc_id", "") for d in docs])
        scored = vectorstore.similarity_search_with_relevance_scores(query, k=1)
        top = scored[0][1] if scored else 0.0
        answer = docs[0].page_content if docs else ""
        return Outcome(ranked, answer, abstained=top < 0.5)

    return run


def bm25_baseline(engine: AnswerEngine) -> System:
    def run(case: Case) -> Outcome:
        engine.searcher.ensure_fresh()
        keyword = engine.searcher.keyword
        query = _with_previous_question(case)
        hits = keyword.search(tokens(query), 30)
        ranked = _unique([keyword.meta[i].get("doc_id", "") for i, _ in hits])
        answer = keyword.text[hits[0][0]] if hits else ""
        return Outcome(ranked, answer, abstained=not hits or hits[0][1] < 5.0)

    return run


def _with_previous_question(case: Case) -> str:
    """Baselines have no follow-up logic: they simply prepend the previous user question."""
    return " ".join([t.text for t in case.history if t.role == "user"][-1:] + [case.question])


def _unique(items: list[str]) -> list[str]:
    seen: list[str] = []
    for item in items:
        if item and item not in seen:
            seen.append(item)
    return seen


def score(cases: list[Case], system: System) -> dict:
    rows = []
    for case in cases:
        out = system(case)
        row = {
            "id": case.id,
            "diacritics": case.diacritics,
            "topic": case.topic,
            "oos": case.out_of_scope,
            "abstain_ok": out.abstained == case.out_of_scope,
        }
        if not case.out_of_scope:
            rank = next((i for i, d in enumerate(out.ranked_docs) if d in case.doc_ids), None)
            row.update(
                hit1=rank == 0,
                hit3=rank is not None and rank < 3,
                rr=0.0 if rank is None else 1.0 / (rank + 1),
                fact=bool(case.key_fact) and fold(case.key_fact) in fold(out.answer) and not out.abstained,
                ranked=out.ranked_docs[:3],
            )
        rows.append(row)
    return {
        "overall": _metrics(rows),
        "with_diacritics": _metrics([r for r in rows if r["diacritics"]]),
        "without_diacritics": _metrics([r for r in rows if not r["diacritics"]]),
        "by_topic": {t: _metrics([r for r in rows if r["topic"] == t]) for t in sorted({r["topic"] for r in rows})},
        "rows": rows,
    }


def _metrics(rows: list[dict]) -> dict:
    inscope = [r for r in rows if not r["oos"]]
    n = len(inscope) or 1
    out = {"n": len(inscope), "n_out_of_scope": len(rows) - len(inscope)}
    if inscope:
        out.update(
            hit_at_1=sum(r["hit1"] for r in inscope) / n,
            hit_at_3=sum(r["hit3"] for r in inscope) / n,
            mrr=sum(r["rr"] for r in inscope) / n,
            key_fact_recall=sum(r["fact"] for r in inscope) / n,
        )
    out["abstention_accuracy"] = sum(r["abstain_ok"] for r in rows) / (len(rows) or 1)
    return out


def evaluate(engine: AnswerEngine, settings, path: Path) -> dict:
    cases = load_cases(path)
    systems = {
        "engine": engine_system(engine),
        "dense_only": dense_baseline(engine, settings),
        "bm25_only": bm25_baseline(engine),
    }
    return {name: score(cases, system) for name, system in systems.items()}


METRICS = ("hit_at_1", "hit_at_3", "mrr", "key_fact_recall", "abstention_accuracy")


def render_table(report: dict) -> str:
    lines = []
    slices = ["overall", "with_diacritics", "without_diacritics"]
    topics = sorted(report["engine"]["by_topic"])
    header = f"{'system':<11} {'slice':<20} {'n':>3} " + " ".join(
        f"{m:>10}" for m in ("hit@1", "hit@3", "MRR", "fact", "abstain")
    )
    lines.append(header)
    for name, result in report.items():
        for sl in slices + topics:
            m = result[sl] if sl in slices else result["by_topic"][sl]
            vals = " ".join(f"{m.get(k, float('nan')):>10.3f}" for k in METRICS)
            lines.append(f"{name:<11} {sl:<20} {m['n']:>3} {vals}")
        lines.append("")
    return "\n".join(lines)
