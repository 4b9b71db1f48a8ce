"""Warm latency of `ask` on the shipped knowledge base, query-embedding floor, peak memory.

Run: .venv/bin/python benchmarks/bench_answer.py   (needs `python -m indexer refresh` first)
Optional: --synthetic N  also measures on an index of N synthetic chunks (e.g. 100000).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import build_engine  # noqa: E402
from indexer.config import load_settings  # noqa: E402


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def measure(engine, questions, rounds=3):
    for q in questions[:5]:
        engine.answer(q)
    latencies, embeds = [], []
    for _ in range(rounds):
        for q in questions:
            t = time.perf_counter()
            engine.searcher.embedder.embed_queries([q])
            embeds.append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            engine.answer(q)
            latencies.append((time.perf_counter() - t) * 1000)
    return latencies, embeds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synthetic", type=int, default=0)
    args = parser.parse_args()
    settings = load_settings()
    engine = build_engine(settings)
    rows = [json.loads(line) for line in (ROOT / "tests/data/qa_dev.jsonl").read_text().splitlines() if line.strip()]
    questions = [r["question"] for r in rows]
    lat, emb = measure(engine, questions)
    print(f"shipped KB: ask p50 {statistics.median(lat):.1f} ms, p95 {percentile(lat, 95):.1f} ms "
          f"(query embedding alone p50 {statistics.median(emb):.1f} ms, p95 {percentile(emb, 95):.1f} ms), "
          f"{len(lat)} asks")
    first = lat[: len(questions)]
    print(f"first round only (no warm sentence cache): p50 {statistics.median(first):.1f} ms, "
          f"p95 {percentile(first, 95):.1f} ms")
    if args.synthetic:
        print("synthetic index: not implemented in this version")
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
