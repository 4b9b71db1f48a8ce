"""Staff keep the knowledge base current: add, replace, list and remove documents, refresh the index.

Free of Telegram types; blocking (run it in a worker thread from async code). Every change goes through
`Indexer.refresh` under the indexer's file lock, and the answer engine's HybridSearcher reloads by
itself when the manifest changes, so an added document is answerable at once and a removed one is not.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.i18n import STAFF, t
from indexer import loaders, worker
from indexer.config import TOPICS
from indexer.manifest import Manifest
from indexer.pipeline import IndexBusy, Indexer, Progress, Summary, manifest_path, scan

log = logging.getLogger(__name__)
UPLOAD_WAIT = 600.0  # an upload waits this long for a running refresh to finish
REINDEX_WAIT = 5.0  # an explicit refresh does not queue behind another one
# Titles and reasons go into staff replies: cut so that a reply (a few of them plus a template, escaped
# for HTML) stays far below Telegram's 4096 characters, whatever a file's front matter or metadata holds.
TITLE_CHARS = 300
DETAIL_CHARS = 400

REFUSALS = {  # AddResult.reason -> the staff message (Telegram and the web console)
    "type": "admin.refused_type",
    "size": "admin.refused_size",
    "unreadable": "admin.refused_unreadable",
    "duplicate": "admin.refused_duplicate",
    "id_taken": "admin.refused_id_taken",
    "busy": "admin.refused_busy",
    "index": "admin.refused_index",
    "download": "admin.refused_download",
}


@dataclass
class AddResult:
    ok: bool
    reason: str = ""  # refusals: type | size | unreadable | duplicate | id_taken | busy | index
    detail: str = ""  # the loader's or indexer's explanation, or the path of the duplicate
    path: str = ""  # relative to KNOWLEDGE_DIR
    title: str = ""
    doc_id: str = ""
    topic: str = ""
    chunks: int = 0
    replaced: bool = False


@dataclass
class Document:
    path: str
    doc_id: str
    title: str
    topic: str
    chunks: int
    indexed_at: str = ""
    failed: str = ""  # why the file is not indexed, if it is not

    @property
    def key(self) -> str:
        """A short stable reference for buttons (callback data is limited to 64 bytes)."""
        return hashlib.sha1(self.path.encode("utf-8")).hexdigest()[:12]


@dataclass
class RemoveResult:
    ok: bool
    document: Document | None = None
    reason: str = ""  # not_found | ambiguous | busy
    detail: str = ""


def safe_name(name: str) -> str:
    """A file name that stays inside its folder and is not skipped by the indexer (no leading . or _)."""
    name = unicodedata.normalize("NFC", Path(name.replace("\\", "/")).name)
    stem, suffix = os.path.splitext(name)
    stem = re.sub(r"[^\w\-]+", "-", stem, flags=re.UNICODE).strip("-._") or "tai-lieu"
    return stem[:100] + suffix.lower()


class KnowledgeAdmin:
    def __init__(self, settings: Settings, embedder=None) -> None:
        self.settings = settings
        self.embedder = embedder  # the process's loaded model; None loads it on first use

    # -- reading -----------------------------------------------------------------
    def manifest(self) -> Manifest:
        return Manifest.load(manifest_path(self.settings))

    def status(self) -> dict:
        from indexer.cli import status_data

        return status_data(self.settings)

    def documents(self) -> list[Document]:
        """Indexed documents, then files that failed, by topic and title."""
        manifest = self.manifest()
        docs = [
            Document(
                rel,
                e.get("doc_id", ""),
                short(e.get("title", ""), TITLE_CHARS),  # manifests written before the limits may hold huge ones
                e.get("topic", "other"),
                int(e.get("chunks", 0)),
                e.get("indexed_at", ""),
            )
            for rel, e in manifest.documents.items()
        ]
        docs.sort(key=lambda d: (d.topic, d.title.lower(), d.path))
        known = {d.path for d in docs}
        for item in manifest.failed:
            if item.get("path") not in known:
                reason = short(item.get("reason", ""), DETAIL_CHARS)
                docs.append(
                    Document(item["path"], "", short(Path(item["path"]).name, TITLE_CHARS), "", 0, failed=reason)
                )
        return docs

    def find(self, ref: str) -> list[Document]:
        """Documents matching an id, a key, a path or a file name."""
        ref = ref.strip()
        docs = self.documents()
        for match in (lambda d: ref in (d.doc_id, d.key, d.path), lambda d: Path(d.path).name == ref):
            found = [d for d in docs if match(d)]
            if found:
                return found
        return []

    # -- checks ------------------------------------------------------------------
    def precheck(self, filename: str, size: int | None) -> AddResult | None:
        """Refuse by type and size before downloading anything; None when the file may be fine."""
        suffix = Path(filename or "").suffix.lower()
        if suffix not in loaders.SUPPORTED:
            return AddResult(False, "type", suffix or "(none)")
        if size is not None and size > self.settings.max_file_mb * 1024 * 1024:
            return AddResult(False, "size", f"{self.settings.max_file_mb:g} MB")
        return None

    def _folder(self, name: str, topic: str | None, meta_topic: str) -> str:
        if topic in TOPICS:
            return topic
        root = self.settings.knowledge_dir
        for path in scan(root) if root.is_dir() else []:
            if path.name == name and len(path.relative_to(root).parts) > 1:
                return path.relative_to(root).parts[0]  # a new version of an existing file
        return meta_topic if meta_topic in TOPICS else "other"

    # -- changing ------------------------------------------------------------------
    def add(self, filename: str, data: bytes, topic: str | None = None, progress: Progress | None = None) -> AddResult:
        """Check, store under KNOWLEDGE_DIR/<topic>/, refresh the index; report the chunks made."""
        name = safe_name(filename or "")
        refused = self.precheck(name, len(data))
        if refused:
            return refused
        root = self.settings.knowledge_dir
        limits = loaders.Limits.from_settings(self.settings)
        try:
            # The same checks and limits as the indexer, before the file lands in KNOWLEDGE_DIR: a file the
            # indexer would refuse (and quarantine) is refused here and never written.
            probe = worker.load(root / "_upload" / name, root, data, limits)
        except loaders.LoadError as exc:
            return refusal(exc)
        rel = f"{self._folder(name, topic, probe.meta['topic'])}/{name}"
        target = root / rel
        try:
            doc = worker.load(target, root, data, limits)  # its fields as stored at `rel` (id, topic, path)
        except loaders.LoadError as exc:  # the time limit may strike on the second reading
            return refusal(exc)
        sha = hashlib.sha256(data).hexdigest()
        manifest = self.manifest()
        for other, entry in manifest.documents.items():
            if entry.get("sha256") == sha:
                return AddResult(
                    False, "duplicate", other, path=other, title=short(entry.get("title", ""), TITLE_CHARS)
                )
            if entry.get("doc_id") == doc.meta["id"] and other != rel:
                return AddResult(False, "id_taken", short(f"{doc.meta['id']} ({other})", DETAIL_CHARS), path=other)
        previous = target.read_bytes() if target.exists() else None
        _write_atomic(target, data)
        result = AddResult(
            True,
            path=rel,
            title=short(doc.meta["title"], TITLE_CHARS),
            doc_id=doc.meta["id"],
            topic=doc.meta["topic"],
            replaced=previous is not None,
        )
        try:
            self._refresh(UPLOAD_WAIT, progress)
        except IndexBusy as exc:
            self._undo(target, previous, refresh=False)
            return AddResult(False, "busy", str(exc), path=rel)
        entry = self.manifest().documents.get(rel)
        if entry is None or entry.get("sha256") != sha:
            failed = next((f["reason"] for f in self.manifest().failed if f.get("path") == rel), "not indexed")
            self._undo(target, previous, refresh=True)
            return AddResult(False, "index", short(failed, DETAIL_CHARS), path=rel)
        result.chunks = int(entry.get("chunks", 0))
        log.info("knowledge file %s %s: %d chunks", rel, "replaced" if result.replaced else "added", result.chunks)
        return result

    def remove(self, ref: str, progress: Progress | None = None) -> RemoveResult:
        """Delete a document's file and refresh, so no answer can come from it any more."""
        found = self.find(ref)
        if not found:
            return RemoveResult(False, reason="not_found", detail=ref)
        if len(found) > 1:
            return RemoveResult(False, reason="ambiguous", detail=", ".join(d.path for d in found))
        doc = found[0]
        root = self.settings.knowledge_dir.resolve()
        path = (root / doc.path).resolve()
        if root not in path.parents:
            return RemoveResult(False, doc, "not_found", doc.path)
        path.unlink(missing_ok=True)
        try:
            if doc.failed:  # it may be in quarantine: delete it there too, or status reports it for ever
                self._indexer(None).forget_quarantined(doc.path, wait=UPLOAD_WAIT)
            self._refresh(UPLOAD_WAIT, progress)
        except IndexBusy as exc:
            # The file is gone; the next refresh (any) drops its chunks.
            return RemoveResult(False, doc, "busy", str(exc))
        log.info("knowledge file %s removed (%d chunks)", doc.path, doc.chunks)
        return RemoveResult(True, doc)

    def refresh(self, progress: Progress | None = None, wait: float = REINDEX_WAIT) -> Summary:
        """Incremental refresh of the whole folder (raises IndexBusy when another one is running)."""
        return self._refresh(wait, progress)

    # -- internals -----------------------------------------------------------------
    def _indexer(self, progress: Progress | None) -> Indexer:
        factory = (lambda: self.embedder) if self.embedder is not None else None
        return Indexer(self.settings, embedder_factory=factory, progress=progress)

    def _refresh(self, wait: float, progress: Progress | None) -> Summary:
        summary = self._indexer(progress).refresh(wait=wait)
        log.info("refresh: %s", summary.line())
        return summary

    def _undo(self, target: Path, previous: bytes | None, refresh: bool) -> None:
        if previous is None:
            target.unlink(missing_ok=True)
        else:
            _write_atomic(target, previous)
        if refresh:
            try:
                self._refresh(UPLOAD_WAIT, None)
            except IndexBusy:
                log.warning("could not refresh after undoing %s; the next refresh will", target)


def short(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, marked with an ellipsis when cut."""
    text = " ".join(str(text).split()) if len(text) > limit else text
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def refusal(exc: loaders.LoadError) -> AddResult:
    """The loader's refusal as staff read it: the reason in short Vietnamese, its kind in `reason`."""
    if exc.code == "too_large":
        return AddResult(False, "size", str(exc.params.get("limit", "")))
    if exc.code == "type":
        return AddResult(False, "type", short(str(exc).rsplit(" ", 1)[-1], 20))
    try:
        detail = t(STAFF, f"admin.load_{exc.code}", **exc.params)
    except (KeyError, IndexError, ValueError):  # a fault without its own text, or a placeholder it lacks
        detail = t(STAFF, "admin.load_unreadable")
    return AddResult(False, "unreadable", short(detail, DETAIL_CHARS))


def _write_atomic(target: Path, data: bytes) -> None:
    """Write beside the target under a dot-name (skipped by the indexer), then rename into place."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".upload-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
