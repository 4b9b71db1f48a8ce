"""Warm latency of `ask` on the shipped knowledge base, query-embedding floor, peak memory.

Run from the project root: .venv/bin/python -m benchmarks.bench_answer   (needs `python -m indexer refresh` first)
Optional: --synthetic N  also measures on an index of N synthetic chunks (e.g. 100000).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time
from pathlib import Path

from bot.app import build_services
from bot.config import load_settings

ROOT = Path(__file__).resolve().parents[1]


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


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


def build_synthetic(settings, engine, n: int):
    """Real chunks plus `n` perturbed copies (noisy vectors, shuffled words) in a temporary index."""
    import random
    import tempfile

    import numpy as np

    from indexer.manifest import Manifest
    from indexer.pipeline import manifest_path
    from indexer.store import ChunkStore

    rng = random.Random(7)
    nprng = np.random.default_rng(7)
    live = engine.searcher.store.collection.get(include=["embeddings", "documents", "metadatas"])
    target = settings.model_copy(update={"data_dir": Path(tempfile.mkdtemp(prefix="bench-synth-"))})
    store = ChunkStore(target)
    store.upsert(live["ids"], np.asarray(live["embeddings"]), live["documents"], live["metadatas"])
    base = np.asarray(live["embeddings"], dtype=np.float32)
    started = time.perf_counter()
    for start in range(0, n, 5000):
        count = min(5000, n - start)
        picks = nprng.integers(0, len(base), count)
        vectors = base[picks] + nprng.normal(0, 0.03, (count, base.shape[1])).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        docs, metas, ids = [], [], []
        for j, p in enumerate(picks):
            words = live["documents"][p].split()
            rng.shuffle(words)
            docs.append(" ".join(words))
            meta = dict(live["metadatas"][p])
            i = start + j
            meta.update(
                doc_id=f"synthetic-{i // 10}",
                path=f"synthetic/{i // 10}.md",
                title=f"Tài liệu {i // 10}",
                chunk_index=i % 10,
                doc_hash="synthetic",
            )
            metas.append(meta)
            ids.append(f"synthetic-{i}")
        store.upsert(ids, vectors, docs, metas)
    manifest = Manifest(path=manifest_path(target), model="synthetic", last_refresh="synthetic")
    manifest.save()
    print(f"synthetic index built in {time.perf_counter() - started:.0f} s")
    return target


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--synthetic", type=int, default=0)
    args = parser.parse_args()
    settings = load_settings()
    engine = build_services(settings).engine
    rows = [json.loads(line) for line in (ROOT / "tests/data/qa_dev.jsonl").read_text().splitlines() if line.strip()]
    questions = [r["question"] for r in rows]
    lat, emb = measure(engine, questions)
    print(
        f"shipped KB: ask p50 {statistics.median(lat):.1f} ms, p95 {percentile(lat, 95):.1f} ms "
        f"(query embedding alone p50 {statistics.median(emb):.1f} ms, p95 {percentile(emb, 95):.1f} ms), "
        f"{len(lat)} asks"
    )
    first = lat[: len(questions)]
    print(
        f"first round only (no warm sentence cache): p50 {statistics.median(first):.1f} ms, "
        f"p95 {percentile(first, 95):.1f} ms"
    )
    if args.synthetic:
        synthetic = build_synthetic(settings, engine, args.synthetic)
        big = build_services(synthetic, embedder=engine.searcher.embedder).engine
        lat, emb = measure(big, questions, rounds=1)
        print(
            f"synthetic index of {big.searcher.store.count()} chunks: ask p50 {statistics.median(lat):.1f} ms, "
            f"p95 {percentile(lat, 95):.1f} ms (query embedding alone p50 {statistics.median(emb):.1f} ms)"
        )
    print(f"peak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
