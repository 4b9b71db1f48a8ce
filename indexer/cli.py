"""`python -m indexer refresh | build | status [--json] | search "query" [-k N]`."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from indexer.config import IndexerSettings, load_settings
from indexer.embedding import offline_environment


def _progress_bar():
    from tqdm import tqdm

    bar = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = tqdm(total=total, unit="chunk", desc="embedding", file=sys.stderr, disable=None)
        bar.update(done - bar.n)
        if done >= total:
            bar.close()

    return update


def status_data(settings: IndexerSettings) -> dict:
    from indexer.manifest import Manifest
    from indexer.pipeline import manifest_path, model_name
    from indexer.store import ChunkStore

    manifest = Manifest.load(manifest_path(settings))
    try:
        chunks = ChunkStore(settings).count()
    except Exception as exc:  # noqa: BLE001 - an unreachable Chroma server is a status, not a crash
        chunks = None
        logging.getLogger(__name__).warning("cannot reach the index: %s", exc)
    topics: dict[str, int] = {}
    for entry in manifest.documents.values():
        topics[entry.get("topic", "other")] = topics.get(entry.get("topic", "other"), 0) + 1
    return {
        "documents": len(manifest.documents),
        "chunks": chunks,
        "model": manifest.model or model_name(settings),
        "last_refresh": manifest.last_refresh,
        "stale": manifest.stale(),
        "failed": manifest.failed,
        "topics": topics,
        "knowledge_dir": str(settings.knowledge_dir),
    }


def _print_status(data: dict) -> None:
    print(f"Documents:     {data['documents']}  ({', '.join(f'{k} {v}' for k, v in sorted(data['topics'].items()))})")
    print(f"Chunks:        {data['chunks'] if data['chunks'] is not None else 'index unreachable'}")
    print(f"Model:         {data['model']}")
    print(f"Last refresh:  {data['last_refresh'] or 'never'}")
    print(f"Stale:         {len(data['stale'])}")
    for item in data["stale"]:
        print(f"  - {item['path']}: {item['reason']}")
    print(f"Failed:        {len(data['failed'])}")
    for item in data["failed"]:
        print(f"  - {item['path']}: {item['reason']}")


def _run_index(settings: IndexerSettings, build: bool, wait: float) -> int:
    from indexer.pipeline import IndexBusy, Indexer

    indexer = Indexer(settings, progress=_progress_bar())
    try:
        summary = indexer.build(wait=wait) if build else indexer.refresh(wait=wait)
    except IndexBusy as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for item in summary.failed:
        print(f"skipped {item['path']}: {item['reason']}", file=sys.stderr)
    print(("build: " if build else "refresh: ") + summary.line())
    return 0


def _search(settings: IndexerSettings, query: str, k: int) -> int:
    from indexer.embedding import get_embedder
    from indexer.search import HybridSearcher

    searcher = HybridSearcher(settings, get_embedder(settings))
    hits = searcher.search(query, k=k)
    if not hits:
        print("No results (is the index built? run: python -m indexer refresh)")
        return 0
    for n, hit in enumerate(hits, 1):
        m = hit.meta
        where = f" — {m.get('section')}" if m.get("section") else ""
        print(f"[{n}] {hit.score:.4f} (dense {hit.dense:.3f}) {m.get('doc_id')} · {m.get('title')}{where}")
        print(f"     {m.get('path')}" + (f" · {m.get('legal_basis')}" if m.get("legal_basis") else ""))
        snippet = " ".join(hit.text.split())
        print(f"     {snippet[:240]}{'…' if len(snippet) > 240 else ''}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m indexer", description="Index the knowledge base into Chroma.")
    sub = parser.add_subparsers(dest="command")
    for name, text in (("refresh", "re-index added or changed documents (default)"), ("build", "rebuild from scratch")):
        p = sub.add_parser(name, help=text)
        p.add_argument("--wait", type=float, default=600.0, help="seconds to wait for a running refresh")
    st = sub.add_parser("status", help="documents, chunks, model, stale and failed files")
    st.add_argument("--json", action="store_true")
    se = sub.add_parser("search", help="top chunks for a query")
    se.add_argument("query")
    se.add_argument("-k", type=int, default=5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    offline_environment()
    settings = load_settings()
    command = args.command or "refresh"
    if command in ("refresh", "build"):
        return _run_index(settings, command == "build", getattr(args, "wait", 600.0))
    if command == "status":
        data = status_data(settings)
        if args.json:
            print(json.dumps(data, ensure_ascii=False))
        else:
            _print_status(data)
        return 0
    return _search(settings, args.query, args.k)
