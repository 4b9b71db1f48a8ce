"""Indexer throughput vs raw model encode on the same chunks, no-op refresh time, peak memory.

Run from the project root: .venv/bin/python -m benchmarks.bench_index
"""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from pathlib import Path

from bot.config import Settings
from indexer import chunking, loaders
from indexer.embedding import get_embedder, offline_environment
from indexer.pipeline import Indexer, scan

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    offline_environment()
    work = Path(tempfile.mkdtemp(prefix="bench-index-"))
    kb = work / "knowledge"
    shutil.copytree(ROOT / "knowledge", kb)
    settings = Settings(_env_file=None, data_dir=work / "data", knowledge_dir=kb)
    model = get_embedder(Settings(_env_file=None, data_dir=ROOT / "data"))
    texts = []
    for path in scan(kb):
        doc = loaders.load(path, kb)
        texts += [c.embedding_text(doc.meta["title"]) for c in chunking.split(doc.text, doc.meta["title"])]
    model.embed_passages(texts[:32])  # warm-up
    started = time.perf_counter()
    model.embed_passages(texts, batch_size=32)
    raw = len(texts) / (time.perf_counter() - started)

    indexer = Indexer(settings, embedder_factory=lambda: model)
    summary = indexer.build()
    build_rate = summary.chunks_embedded / summary.seconds
    noop = indexer.refresh()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"chunks: {len(texts)}")
    print(f"raw encode: {raw:.1f} chunks/s")
    print(
        f"full build: {build_rate:.1f} chunks/s ({summary.seconds:.1f} s) = {100 * build_rate / raw:.0f}% of raw encode"
    )
    print(f"no-op refresh: {noop.seconds:.2f} s (embedded {noop.chunks_embedded})")
    print(f"peak RSS: {peak_mb:.0f} MB")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
