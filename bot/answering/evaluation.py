"""`python -m bot eval`: retrieval and answer quality of the engine against two baselines.

Two views of the same runs: retrieval figures (hit@k, MRR, key-fact recall, abstention) and
correctness per question kind (`bot.answering.eval_kinds`), per part of a set split once into a
tuning and a test part (`FILE_split.json` next to `FILE.jsonl`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bot.answering import eval_kinds
from bot.answering.engine import AnswerEngine
from bot.answering.types import Answer, Source, Turn
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
    kind: str = "fact"  # one of eval_kinds.KINDS
    size_class: str = ""  # size questions: micro | small | medium | not_sme | household
    forbidden: list[str] = field(default_factory=list)  # injections: text a complying reply would contain


def load_cases(path: Path) -> list[Case]:
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        out_of_scope = bool(row.get("out_of_scope") or not row.get("doc_ids"))
        history = [Turn(t["role"], t["text"]) for t in row.get("history") or []]
        cases.append(
            Case(
                id=str(row.get("id", n)),
                question=row["question"],
                doc_ids=list(row.get("doc_ids") or []),
                key_fact=row.get("key_fact") or "",
                topic=row.get("topic") or "other",
                diacritics=bool(row.get("diacritics", True)),
                lang=row.get("lang") or "vi",
                out_of_scope=out_of_scope,
                history=history,
                kind=row.get("kind") or _infer_kind(out_of_scope, history),
                size_class=row.get("size_class") or "",
                forbidden=list(row.get("forbidden") or []),
            )
        )
    return cases


def _infer_kind(out_of_scope: bool, history: list[Turn]) -> str:
    """Sets written before kinds existed (qa_dev.jsonl): facts, follow-ups and out-of-scope questions."""
    if out_of_scope:
        return "out_of_scope"
    return "followup" if history else "fact"


def split_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}_split.json")


def load_split(path: Path) -> dict[str, list[str]] | None:
    """{"tune": [ids], "test": [ids]} from the file next to the set, or None when the set is not split."""
    sp = split_path(path)
    if not sp.exists():
        return None
    data = json.loads(sp.read_text(encoding="utf-8"))
    return {"tune": list(data["tune"]), "test": list(data["test"])}


@dataclass
class Outcome:
    ranked_docs: list[str]
    answer: str
    abstained: bool  # for the retrieval figures; a baseline "abstains" below its score threshold there
    reply: Answer | None = None  # what the user would see, judged per kind (baselines never abstain here)


System = Callable[[Case], Outcome]


def engine_system(engine: AnswerEngine) -> System:
    def run(case: Case) -> Outcome:
        answer = engine.answer(case.question, case.history)
        return Outcome(answer.ranked_doc_ids, answer.answer, answer.abstained, answer)

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
        reply = _top_chunk_reply(case, answer, docs[0].metadata if docs else None)
        return Outcome(ranked, answer, abstained=top < 0.5, reply=reply)

    return run


def bm25_baseline(engine: AnswerEngine) -> System:
    def run(case: Case) -> Outcome:
        engine.searcher.ensure_fresh()
        keyword = engine.searcher.keyword
        query = _with_previous_question(case)
        hits = keyword.search(tokens(query), 30)
        ranked = _unique([keyword.meta[i].get("doc_id", "") for i, _ in hits])
        answer = keyword.text[hits[0][0]] if hits else ""
        reply = _top_chunk_reply(case, answer, keyword.meta[hits[0][0]] if hits else None)
        return Outcome(ranked, answer, abstained=not hits or hits[0][1] < 5.0, reply=reply)

    return run


def _top_chunk_reply(case: Case, text: str, meta: dict | None) -> Answer:
    """A baseline answers every question with its top chunk and cites that chunk's document."""
    sources = []
    if meta:
        sources = [
            Source(
                doc_id=meta.get("doc_id", ""),
                title=meta.get("title", ""),
                section=meta.get("section", ""),
                path=meta.get("path", ""),
                score=0.0,
            )
        ]
    return Answer(case.question, text, sources=sources, kind="answer")


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
    return score_outcomes(cases, [system(case) for case in cases])


def score_outcomes(cases: list[Case], outcomes: list[Outcome]) -> dict:
    rows = []
    for case, out in zip(cases, outcomes, strict=True):
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


def systems_for(engine: AnswerEngine, settings) -> dict[str, System]:
    return {
        "engine": engine_system(engine),
        "dense_only": dense_baseline(engine, settings),
        "bm25_only": bm25_baseline(engine),
    }


def evaluate(engine: AnswerEngine, settings, path: Path) -> dict:
    cases = load_cases(path)
    return {name: score(cases, system) for name, system in systems_for(engine, settings).items()}


PARTS = ("tune", "test", "all")


def select_parts(split: dict[str, list[str]] | None, part: str | None) -> list[str]:
    """`part` None: every part the set has (tune, test and all when split; all otherwise)."""
    if part is None:
        return list(PARTS) if split else ["all"]
    if part not in PARTS:
        raise ValueError(f"unknown part {part!r}: choose tune, test or all")
    if part != "all" and split is None:
        raise ValueError(f"the set is not split: {part!r} needs a split file next to it")
    return [part]


def evaluate_parts(engine: AnswerEngine, settings, path: Path, part: str | None = None) -> dict:
    """Retrieval figures for the questions asked and correctness per kind for each part, every system."""
    split = load_split(path)
    parts = select_parts(split, part)
    cases = load_cases(path)
    members = {"all": {c.id for c in cases}}
    for name in ("tune", "test"):
        members[name] = set(split[name]) if split else set()
    asked = set().union(*(members[p] for p in parts))
    cases = [c for c in cases if c.id in asked]
    outcomes = {name: [system(c) for c in cases] for name, system in systems_for(engine, settings).items()}
    verdicts = {
        name: [eval_kinds.judge(c, _reply(c, o)) for c, o in zip(cases, outs)] for name, outs in outcomes.items()
    }
    by_kind = {
        p: {
            name: kind_metrics([(c, ok) for c, ok in zip(cases, oks) if c.id in members[p]])
            for name, oks in verdicts.items()
        }
        for p in parts
    }
    rows = []
    for n, case in enumerate(cases):
        reply = _reply(case, outcomes["engine"][n])
        rows.append(
            {
                "id": case.id,
                "kind": case.kind,
                "part": next((p for p in ("tune", "test") if case.id in members[p]), "all"),
                "correct": {name: oks[n] for name, oks in verdicts.items()},
                "answer_kind": reply.kind,
                "handoff_suggested": reply.handoff_suggested,
                "cited": eval_kinds.cited(reply),
                "expected": case.doc_ids[:3],
                "key_fact": case.key_fact,
            }
        )
    legacy = {name: score_outcomes(cases, outs) for name, outs in outcomes.items()}
    return {"parts": parts, "by_kind": by_kind, "legacy": legacy, "rows": rows}


def _reply(case: Case, outcome: Outcome) -> Answer:
    if outcome.reply is not None:
        return outcome.reply
    return Answer(case.question, outcome.answer, kind="abstain" if outcome.abstained else "answer")


SLICES = ("overall", "vi_plain", "vi_diacritics", "en")


def kind_metrics(judged: list[tuple[Case, bool]]) -> dict:
    """{kind or slice: {n, correct, accuracy}}; slices: overall, Vietnamese without / with diacritics, English."""
    groups: dict[str, list[bool]] = {k: [] for k in eval_kinds.KINDS if any(c.kind == k for c, _ in judged)}
    groups.update({s: [] for s in SLICES})
    for case, ok in judged:
        groups.setdefault(case.kind, []).append(ok)
        groups["overall"].append(ok)
        if case.lang == "en":
            groups["en"].append(ok)
        else:
            groups["vi_diacritics" if case.diacritics else "vi_plain"].append(ok)
    return {k: {"n": len(v), "correct": sum(v), "accuracy": sum(v) / len(v) if v else None} for k, v in groups.items()}


def render_kinds(report: dict) -> str:
    lines = []
    for part in report["parts"]:
        results = report["by_kind"][part]
        columns = list(next(iter(results.values())))
        width = {c: max(len(c), 5) for c in columns}
        lines.append(f"part {part}: {results['engine']['overall']['n']} questions, accuracy per kind")
        lines.append(f"{'system':<11} " + " ".join(f"{c:>{width[c]}}" for c in columns))
        lines.append(f"{'n':<11} " + " ".join(f"{results['engine'][c]['n']:>{width[c]}}" for c in columns))
        for name, metrics in results.items():
            cells = [metrics[c]["accuracy"] for c in columns]
            lines.append(f"{name:<11} " + " ".join(_cell(v, width[c]) for v, c in zip(cells, columns)))
        lines.append("")
    return "\n".join(lines)


def _cell(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.3f}"


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
