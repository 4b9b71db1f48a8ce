"""Refresh and build: keep the Chroma collection in step with the files in KNOWLEDGE_DIR."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer import chunking, loaders, worker
from indexer.config import DEFAULT_EMBEDDING_MODEL, IndexerSettings
from indexer.locks import LockTimeout, RefreshLock
from indexer.manifest import Manifest
from indexer.quarantine import NOTE, Quarantine
from indexer.store import COLLECTION, ChunkStore, replace_collection

log = logging.getLogger(__name__)
ENCODE_GROUP = 256  # chunks embedded per model call; bounds memory on large refreshes

Progress = Callable[[int, int], None]


class IndexBusy(Exception):
    """Another refresh holds the lock."""


@dataclass
class Summary:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    renamed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    chunks_embedded: int = 0
    seconds: float = 0.0

    def line(self) -> str:
        return (
            f"added {len(self.added)} · updated {len(self.updated)} · renamed {len(self.renamed)} · "
            f"removed {len(self.removed)} · unchanged {self.unchanged} · failed {len(self.failed)} · "
            f"{self.chunks_embedded} chunks embedded · {self.seconds:.1f} s"
        )


@dataclass
class _Pending:
    rel: str
    sha: str
    doc: loaders.LoadedDocument
    chunks: list[chunking.Chunk]
    kind: str  # added | updated | renamed
    old_rel: str | None = None


def manifest_path(settings: IndexerSettings) -> Path:
    return settings.index_dir / "manifest.json"


def lock_for(settings: IndexerSettings) -> RefreshLock:
    return RefreshLock(settings)


def model_name(settings: IndexerSettings) -> str:
    return settings.embedding_model or DEFAULT_EMBEDDING_MODEL


def scan(root: Path) -> list[Path]:
    """Knowledge files to index: supported types, not hidden, not `_draft`, not the root README."""
    files = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or any(p.startswith((".", "_")) for p in rel.parts):
            continue
        if rel.as_posix().lower() == "readme.md":
            continue
        files.append(path)
    return files


def _save(store: ChunkStore, manifest: Manifest, changed: bool = True) -> None:
    """Record a change: the shared version first (other replicas reload from the collection), then the local
    manifest, so a reader that notices the manifest also reads the new version and reloads once."""
    if changed:
        store.mark_changed()
    manifest.save()


def chunk_metadata(doc: loaders.LoadedDocument, sha: str, chunk: chunking.Chunk) -> dict:
    meta = {k: doc.meta.get(k, "") for k in loaders.FIELDS}
    meta.update(
        doc_id=doc.meta["id"], path=doc.meta["path"], section=chunk.section, chunk_index=chunk.index, doc_hash=sha
    )
    meta.pop("id")
    return meta


def chunk_id(doc_id: str, sha: str, index: int) -> str:
    return f"{doc_id}::{sha[:12]}::{index:04d}"


class Indexer:
    """Runs refresh/build under the lock; the embedder is loaded only when something must be embedded."""

    def __init__(
        self,
        settings: IndexerSettings,
        embedder_factory: Callable[[], object] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self._factory = embedder_factory
        self._embedder = None
        self.progress = progress

    @property
    def embedder(self):
        if self._embedder is None:
            if self._factory is None:
                from indexer.embedding import get_embedder

                self._embedder = get_embedder(self.settings)
            else:
                self._embedder = self._factory()
        return self._embedder

    def refresh(self, wait: float = 600.0) -> Summary:
        with self._locked(wait):
            manifest = Manifest.load(manifest_path(self.settings))
            if manifest.documents and (
                manifest.model != model_name(self.settings) or manifest.chunker != chunking.CHUNKER_VERSION
            ):
                log.info("model or chunker changed: rebuilding from scratch")
                return self._build()
            store = ChunkStore(self.settings)
            return self._sync(store, manifest)

    def build(self, wait: float = 600.0) -> Summary:
        with self._locked(wait):
            return self._build()

    def forget_quarantined(self, rel: str, wait: float = 600.0) -> bool:
        """Delete a quarantined file and its entry (staff removed it); the next refresh stops reporting it."""
        with self._locked(wait):
            return Quarantine(self.settings).discard(rel)

    # -- internals -------------------------------------------------------------
    def _locked(self, wait: float) -> RefreshLock:
        lock = lock_for(self.settings)
        try:
            lock.acquire(timeout=wait)
        except LockTimeout as exc:
            raise IndexBusy("another refresh is running; try again when it has finished") from exc
        return lock

    def _build(self) -> Summary:
        """Fill a fresh collection, then swap it in: queries use the old one until the end."""
        shadow_name = f"{COLLECTION}-build-{int(time.time())}"
        shadow = ChunkStore(self.settings, name=shadow_name)
        fresh = Manifest(path=manifest_path(self.settings).with_name("manifest.build.json"))
        try:
            summary = self._sync(shadow, fresh)
        except BaseException:
            shadow.drop()
            fresh.path.unlink(missing_ok=True)
            raise
        replace_collection(self.settings, shadow)
        fresh.path.replace(manifest_path(self.settings))
        return summary

    def _sync(self, store: ChunkStore, manifest: Manifest) -> Summary:
        started = time.perf_counter()
        root = self.settings.knowledge_dir
        if not root.is_dir():
            raise FileNotFoundError(f"knowledge folder not found: {root}")
        summary = Summary()
        self._repair(store, manifest)
        files = {p.relative_to(root).as_posix(): p for p in scan(root)}
        gone = {rel: e for rel, e in manifest.documents.items() if rel not in files}
        gone_by_sha = {e["sha256"]: rel for rel, e in gone.items()}
        seen_ids = {e["doc_id"]: rel for rel, e in manifest.documents.items() if rel in files}
        limits = loaders.Limits.from_settings(self.settings)
        quarantine = Quarantine(self.settings)
        quarantined: list[str] = []
        pending: list[_Pending] = []
        for rel, path in files.items():
            before, sha = None, ""
            try:
                before = path.stat()
                if before.st_size > limits.max_file_bytes:
                    raise loaders.too_large(limits)  # refused unread
                data = path.read_bytes()
                sha = hashlib.sha256(data).hexdigest()
                entry = manifest.documents.get(rel)
                if entry and entry["sha256"] == sha:
                    summary.unchanged += 1
                    continue
                doc = worker.load(path, root, data, limits)  # bounded, in a child process
                owner = seen_ids.get(doc.meta["id"])
                if owner and owner != rel:
                    raise loaders.LoadError(
                        f"duplicate id {doc.meta['id']!r} (already used by {owner})", "duplicate_id", quarantine=False
                    )
                chunks = chunking.split(doc.text, doc.meta["title"])
                if not chunks:
                    raise loaders.LoadError("no text to index after splitting", "no_text", quarantine=False)
            except loaders.LoadError as exc:
                reason = str(exc)
                if exc.quarantine and _unchanged_since(path, before) and quarantine.put(path, rel, reason, sha):
                    quarantined.append(rel)
                    reason += NOTE
                summary.failed.append({"path": rel, "reason": reason})
                continue
            except OSError as exc:
                summary.failed.append({"path": rel, "reason": f"cannot read the file ({exc.strerror or exc})"})
                continue
            seen_ids[doc.meta["id"]] = rel
            for warning in doc.warnings:
                log.warning("%s: %s", rel, warning)
            old_rel = gone_by_sha.pop(sha, None) if not entry else None
            kind = "updated" if entry else ("renamed" if old_rel else "added")
            if old_rel:
                gone.pop(old_rel, None)
            pending.append(_Pending(rel, sha, doc, chunks, kind, old_rel))

        failed_now = {f["path"] for f in summary.failed}
        for rel in quarantined:  # an earlier good version went with the file: the index follows the folder
            if rel in manifest.documents:
                gone[rel] = manifest.documents[rel]
        for rel in quarantine.entries():
            if rel in files and rel not in failed_now:
                quarantine.discard(rel)  # staff put a good file where the bad one was
        # Status keeps reporting what earlier refreshes quarantined; the summary tells only this refresh.
        reported = summary.failed + [f for f in quarantine.failed() if f["path"] not in failed_now]
        for rel in gone:
            store.delete_path(rel)
            manifest.documents.pop(rel, None)
            summary.removed.append(rel)
        manifest.model = model_name(self.settings)
        manifest.chunker = chunking.CHUNKER_VERSION
        manifest.failed = reported
        _save(store, manifest, changed=bool(gone))

        self._write(store, manifest, pending, summary)
        manifest.last_refresh = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        manifest.failed = reported
        manifest.save()
        summary.seconds = time.perf_counter() - started
        return summary

    def _write(self, store: ChunkStore, manifest: Manifest, pending: list[_Pending], summary: Summary) -> None:
        """Embed in large groups (throughput) and commit document by document (crash safety)."""
        renamed = [p for p in pending if p.kind == "renamed"]
        for item in renamed:
            old = manifest.documents.get(item.old_rel or "")
            reused = self._reuse(store, item, old) if old else None
            if reused is None:
                item.kind = "added"
                continue
            self._commit(store, manifest, item, reused)
            store.delete_path(item.old_rel or "")
            manifest.documents.pop(item.old_rel or "", None)
            _save(store, manifest)
            summary.renamed.append(f"{item.old_rel} -> {item.rel}")
        todo = [p for p in pending if p.kind != "renamed"]
        total = sum(len(p.chunks) for p in todo)
        done = 0
        group: list[_Pending] = []
        for item in todo + [None]:
            if item is not None:
                group.append(item)
                if sum(len(p.chunks) for p in group) < ENCODE_GROUP:
                    continue
            if not group:
                break
            texts = [c.embedding_text(p.doc.meta["title"]) for p in group for c in p.chunks]
            vectors = self.embedder.embed_passages(texts, batch_size=32)
            offset = 0
            for p in group:
                n = len(p.chunks)
                self._commit(store, manifest, p, vectors[offset : offset + n])
                offset += n
                (summary.updated if p.kind == "updated" else summary.added).append(p.rel)
            summary.chunks_embedded += len(texts)
            done += len(texts)
            if self.progress:
                self.progress(done, total)
            group = []

    def _reuse(self, store: ChunkStore, item: _Pending, old: dict) -> np.ndarray | None:
        ids = [chunk_id(old["doc_id"], old["sha256"], i) for i in range(old.get("chunks", 0))]
        if len(ids) != len(item.chunks):
            return None
        found = store.embeddings_for(ids)
        if len(found) != len(ids):
            return None
        return np.stack([found[i] for i in ids])

    def _commit(self, store: ChunkStore, manifest: Manifest, p: _Pending, vectors: np.ndarray) -> None:
        ids = [chunk_id(p.doc.meta["id"], p.sha, c.index) for c in p.chunks]
        store.upsert(ids, vectors, [c.text for c in p.chunks], [chunk_metadata(p.doc, p.sha, c) for c in p.chunks])
        store.delete_path(p.rel, keep_hash=p.sha)
        meta = p.doc.meta
        manifest.documents[p.rel] = {
            "doc_id": meta["id"],
            "title": meta["title"],
            "topic": meta["topic"],
            "sha256": p.sha,
            "chunks": len(p.chunks),
            "last_reviewed": meta["last_reviewed"],
            "effective_from": meta["effective_from"],
            "effective_to": meta["effective_to"],
            "indexed_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        _save(store, manifest)

    def _repair(self, store: ChunkStore, manifest: Manifest) -> None:
        """Bring the manifest and the collection back in step: delete chunks the manifest does not know (left by a
        refresh that died half-way), and forget documents whose chunks the collection lacks (a new or emptied
        Chroma server, CHROMA_HOST changed) so this refresh indexes them again instead of calling them unchanged."""
        expected = {rel: e["sha256"] for rel, e in manifest.documents.items()}
        present: dict[str, int] = {}
        orphans = []
        for cid, meta, _ in store.all_entries():
            rel = meta.get("path", "")
            if expected.get(rel) != meta.get("doc_hash"):
                orphans.append(cid)
            else:
                present[rel] = present.get(rel, 0) + 1
        if orphans:
            log.warning("removing %d chunks left by an interrupted refresh", len(orphans))
            store.delete_ids(orphans)
            store.mark_changed()
        missing = [rel for rel, e in manifest.documents.items() if present.get(rel, 0) != int(e.get("chunks", 0))]
        if missing:
            log.warning("%d document(s) missing from the vector store: indexing them again", len(missing))
            for rel in missing:
                store.delete_path(rel)
                manifest.documents.pop(rel, None)


def _unchanged_since(path: Path, before) -> bool:
    """True when the file is as it was before reading: one still being copied in is not quarantined."""
    if before is None:
        return False
    try:
        after = path.stat()
    except OSError:
        return False
    return (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
