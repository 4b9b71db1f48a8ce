"""Choose the curated-answer thresholds on the TUNING part of tests/data/qa_owner.jsonl only.

    .venv/bin/python -m scripts.tune_curated [--set tests/data/qa_owner.jsonl] [--part tune] [--show]

For every question of the part the engine answers as it would without curated answers; where a curated
answer could take over (a question reaching retrieval, not a follow-up), the best curated match is
recorded. Then every (similarity, margin) pair of a grid is scored: per kind, the share of questions the
combined system gets right (bot.answering.eval_kinds.judge). Printed best first; the test part is never read
unless asked for explicitly (to report, not to choose).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

from bot.answering import eval_kinds, followup
from bot.answering.curated import CuratedAnswers, Thresholds
from bot.answering.evaluation import load_cases, load_split
from bot.app import build_services
from bot.config import load_settings

ROOT = Path(__file__).resolve().parents[1]
LATE_KINDS = {"answer", "abstain"}  # answers that reached retrieval (not small talk, handoff, size)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--set", default=str(ROOT / "tests/data/qa_owner.jsonl"))
    parser.add_argument("--part", default="tune", choices=("tune", "test", "all"))
    parser.add_argument("--show", action="store_true", help="print every candidate match")
    args = parser.parse_args()
    path = Path(args.set)
    split = load_split(path)
    cases = load_cases(path)
    if split and args.part != "all":
        wanted = set(split[args.part])
        cases = [c for c in cases if c.id in wanted]
    services = build_services(load_settings())
    engine = services.engine
    engine.curated = None  # the engine as it answers without curated answers
    curated = CuratedAnswers(engine.searcher, cache_dir=services.settings.data_dir / "cache")
    rows = []
    for case in cases:
        base = engine.answer(case.question, case.history)
        base_ok = eval_kinds.judge(case, base)
        found = None
        if base.kind in LATE_KINDS and not followup.is_followup(case.question, case.history):
            query = base.search_query or case.question
            vector = engine.searcher.query_vector(query, restore=base.language == "vi")
            found = curated.match(vector, base.language)
        cur_ok = eval_kinds.judge(case, curated.reply(case.question, found, base.language)) if found else None
        rows.append((case, base_ok, found, cur_ok))
        if args.show and found:
            print(
                f"{case.id} {case.kind:<12} base={base_ok!s:<5} cur={cur_ok!s:<5} sim={found.similarity:.3f} "
                f"margin={found.margin:+.3f} {found.entry.doc_id} | {case.question} -> {found.entry.question}"
            )
    kinds = sorted({c.kind for c, *_ in rows})
    base_total = sum(ok for _, ok, _, _ in rows)
    print(f"{len(rows)} questions of part {args.part}; without curated answers {base_total} right")
    results = []
    for sim, margin in itertools.product(np.arange(0.86, 0.9751, 0.005), np.arange(0.0, 0.0601, 0.005)):
        t = Thresholds(similarity=round(float(sim), 3), margin=round(float(margin), 3))
        right = {k: 0 for k in kinds}
        used = 0
        for case, base_ok, found, cur_ok in rows:
            take = found is not None and found.similarity >= t.similarity and found.margin >= t.margin
            used += take
            right[case.kind] += cur_ok if take else base_ok
        results.append((sum(right.values()), used, -t.similarity, -t.margin, t, right))
    # Equally right: the pair answering most questions with the staff's own words, then the loosest.
    results.sort(key=lambda r: r[:4], reverse=True)
    n = {k: sum(c.kind == k for c, *_ in rows) for k in kinds}
    print("right  similarity margin used  " + " ".join(f"{k:>12}" for k in kinds))
    for total, used, _, _, t, right in results[:15]:
        print(
            f"{total:>5}  {t.similarity:>10.3f} {t.margin:>6.3f} {used:>4}  "
            + " ".join(f"{right[k]:>5}/{n[k]:<6}" for k in kinds)
        )
    current = Thresholds()
    for total, used, _, _, t, right in results:
        if (t.similarity, t.margin) == (current.similarity, current.margin):
            print(f"the shipped thresholds ({t.similarity}, {t.margin}): {total} right, {used} curated answers")
    services.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
