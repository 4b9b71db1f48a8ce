"""Health of one bot process: the database, the vector store, the index and the outbox backlog.

`python -m bot health [--json]` and the webhook server's `GET /healthz` report the same object:
`{"ok": bool, "checks": {"database": {...}, "vector_store": {...}, "index": {...}, "outbox": {...}}}`, each
check with its own `ok`. Nothing here knows about Telegram; the checks only read (no index or collection is
created where there was none), and error texts never carry the database password.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text

if TYPE_CHECKING:
    from bot.app import Services
    from bot.config import Settings

# A row waiting this long means nobody is sending (every replica down, or Telegram refusing); reported, but
# not a failure: the backlog is shared by all replicas, and a proxy that dropped every replica for it would
# make the outage worse.
OUTBOX_STUCK_SECONDS = 600
CHANGED_FILES_SHOWN = 20


def check(services: Services) -> dict[str, Any]:
    """Every check, on the services of this process."""
    settings = services.settings
    return _report(
        {
            "database": _timed(lambda: _database(services), settings),
            "vector_store": _timed(lambda: _vector_store(settings), settings),
            "index": _timed(lambda: _index(settings), settings),
            "outbox": _timed(lambda: _outbox(services), settings),
        }
    )


def check_without_services(settings: Settings, error: BaseException) -> dict[str, Any]:
    """The report when the services could not be built (the database is unreachable or its URL unusable):
    the database and the outbox fail with the reason, the vector store and the index are still checked."""
    reason = describe(error, settings)
    return _report(
        {
            "database": {"ok": False, "dialect": _dialect(settings), "error": reason},
            "vector_store": _timed(lambda: _vector_store(settings), settings),
            "index": _timed(lambda: _index(settings), settings),
            "outbox": {"ok": False, "pending": None, "error": "database unavailable"},
        }
    )


def _report(checks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"ok": all(c["ok"] for c in checks.values()), "checks": checks}


def _timed(run: Callable[[], dict[str, Any]], settings: Settings) -> dict[str, Any]:
    """One check; an exception is that check failing, never the whole report."""
    started = time.perf_counter()
    try:
        result = run()
    except Exception as exc:  # noqa: BLE001 - any failure of a dependency is what a health check reports
        result = {"ok": False, "error": describe(exc, settings)}
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


# -- the checks ----------------------------------------------------------------
def _database(services: Services) -> dict[str, Any]:
    with services.store.session() as s:
        s.execute(text("SELECT 1"))
    return {"ok": True, "dialect": services.store.engine.dialect.name}


def _vector_store(settings: Settings) -> dict[str, Any]:
    from indexer.manifest import Manifest
    from indexer.pipeline import manifest_path
    from indexer.store import COLLECTION, ChunkStore

    out: dict[str, Any] = {
        "ok": False,
        "backend": f"server {settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else "embedded",
        "collection": COLLECTION,
    }
    expected = sum(int(e.get("chunks", 0)) for e in Manifest.load(manifest_path(settings)).documents.values())
    try:
        store = ChunkStore(settings, create=False)
        chunks = store.count()
        metadata = store.collection.metadata or {}
    except FileNotFoundError:
        return {**out, "error": "no index yet: run python -m indexer refresh"}
    except Exception as exc:  # noqa: BLE001 - unreachable server, missing collection: the report says which
        return {**out, "error": describe(exc, settings)}
    out.update(chunks=chunks, expected_chunks=expected, index_version=metadata.get("index_version"))
    if chunks != expected:
        # Fewer: answers miss documents; more: removed documents can still be cited. Both need a refresh.
        out["error"] = (
            f"{chunks} chunks in the collection, the manifest lists {expected}: run python -m indexer refresh"
        )
        return out
    out["ok"] = True
    return out


def _index(settings: Settings) -> dict[str, Any]:
    from indexer.manifest import Manifest
    from indexer.pipeline import manifest_path, model_name

    path = manifest_path(settings)
    if not path.exists():
        return {"ok": False, "error": "no index yet: run python -m indexer refresh"}
    manifest = Manifest.load(path)
    out: dict[str, Any] = {
        "ok": False,
        "documents": len(manifest.documents),
        "model": manifest.model,
        "last_refresh": manifest.last_refresh,
        "stale": [item["path"] for item in manifest.stale()],
        "failed": [item["path"] for item in manifest.failed],
    }
    changed = _changed_files(settings, manifest)
    out["changed_files"] = len(changed)
    if changed:
        out["changed_examples"] = changed[:CHANGED_FILES_SHOWN]
    if not manifest.documents:
        return {**out, "error": "the index holds no documents: run python -m indexer refresh"}
    if manifest.model and manifest.model != model_name(settings):
        # Questions embedded by one model against passages of another retrieve nonsense.
        return {
            **out,
            "error": f"index built with {manifest.model}, EMBEDDING_MODEL is {model_name(settings)}: "
            "run python -m indexer build",
        }
    out["ok"] = True
    return out


def _changed_files(settings: Settings, manifest) -> list[str]:
    """Files added, modified (by time) or removed since they were indexed: a refresh is due.

    Modification times are enough for a report, and cheaper than hashing the knowledge base on every probe.
    Files that failed to load are not counted: they are listed under `failed`.
    """
    from indexer.pipeline import scan

    root = settings.knowledge_dir
    if not root.is_dir():
        return sorted(manifest.documents)
    failed = {item.get("path") for item in manifest.failed}
    seen: set[str] = set()
    changed: list[str] = []
    for path in scan(root):
        rel = path.relative_to(root).as_posix()
        seen.add(rel)
        entry = manifest.documents.get(rel)
        if entry is None:
            if rel not in failed:
                changed.append(rel)
            continue
        indexed = _when(entry.get("indexed_at"))
        try:
            modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        except OSError:
            continue
        if indexed is not None and modified > indexed + dt.timedelta(seconds=1):
            changed.append(rel)
    changed.extend(rel for rel in manifest.documents if rel not in seen)
    return sorted(changed)


def _outbox(services: Services) -> dict[str, Any]:
    from bot.handoff.models import Outbox, now, utc

    with services.store.session() as s:
        pending, oldest = s.execute(
            select(func.count(Outbox.id), func.min(Outbox.created_at)).where(Outbox.done.is_(False))
        ).one()
    age = max(0.0, (now() - utc(oldest)).total_seconds()) if oldest is not None else None
    # The last day's delivery: a message sent again after a try whose outcome was unknown (the connection broke
    # once the request had left) may have arrived twice; that share is the duplicate rate.
    day = services.handoff.outbox.delivery(now() - dt.timedelta(hours=24))
    return {
        "ok": True,
        "pending": int(pending),
        "oldest_pending_seconds": None if age is None else round(age),
        "stuck": age is not None and age > OUTBOX_STUCK_SECONDS,
        "last_24h": {
            **day,
            "duplicate_rate": round(day["resent_after_unknown_outcome"] / day["sent"], 4) if day["sent"] else 0.0,
        },
    }


# -- helpers -------------------------------------------------------------------
def _when(value: object) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def _dialect(settings: Settings) -> str:
    return settings.sqlalchemy_url.split(":", 1)[0].split("+", 1)[0]


def describe(exc: BaseException, settings: Settings) -> str:
    """A one-line reason: the driver's message when SQLAlchemy wraps one, with any password masked."""
    inner = getattr(exc, "orig", None) or exc
    lines = str(inner).strip().splitlines()
    message = f"{type(inner).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    for secret in _secrets(settings):
        message = message.replace(secret, "***")
    return message[:300]


def _secrets(settings: Settings) -> list[str]:
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    secrets = [settings.database_url.get_secret_value(), settings.token]
    try:
        secrets.append(make_url(settings.sqlalchemy_url).password or "")
    except ArgumentError:  # an unparsable URL: masking the whole URL (above) is all there is to do
        pass
    return sorted((s for s in secrets if s), key=len, reverse=True)


# -- rendering -----------------------------------------------------------------
def render(report: dict[str, Any]) -> str:
    """A short human summary, one line per check."""
    lines = [f"health: {'ok' if report['ok'] else 'FAILING'}"]
    for name, c in report["checks"].items():
        lines.append(f"  {name:<13} {'ok  ' if c['ok'] else 'FAIL'}  {_detail(name, c)}")
    return "\n".join(lines)


def _detail(name: str, c: dict[str, Any]) -> str:
    parts: list[str] = []
    if name == "database" and c.get("dialect"):
        parts.append(c["dialect"])
    elif name == "vector_store":
        parts.append(c.get("backend", ""))
        if c.get("chunks") is not None:
            parts.append(f"{c['chunks']} chunks")
    elif name == "index" and "documents" in c:
        parts.append(f"{c['documents']} documents, last refresh {c.get('last_refresh') or 'never'}")
        parts.append(f"{len(c.get('stale', []))} stale, {len(c.get('failed', []))} failed")
        if c.get("changed_files"):
            parts.append(f"{c['changed_files']} files changed since (refresh due)")
    elif name == "outbox" and c.get("pending") is not None:
        parts.append(f"{c['pending']} pending")
        if c.get("stuck"):
            parts.append(f"oldest waiting {c['oldest_pending_seconds']} s (is any replica sending?)")
    if c.get("error"):
        parts.append(c["error"])
    text_ = ", ".join(p for p in parts if p)
    return f"{text_} ({c['ms']:g} ms)" if "ms" in c else text_


def run(args, report: dict[str, Any]) -> int:
    """`python -m bot health [--json]`: print the report; 0 when every check is ok, 1 otherwise."""
    import json

    print(json.dumps(report, ensure_ascii=False) if args.json else render(report))
    return 0 if report["ok"] else 1


class HealthProbe:
    """`check(services)` for a serving process (`GET /healthz`): off the event loop, one run at a time.

    Its own thread, so a pool busy with answers does not make a healthy replica look down; concurrent probes
    share the run in flight, so a hanging database does not pile up threads; a run slower than `timeout`
    is reported as a failure (the run still finishes in the background and is reused by the next probe).
    """

    def __init__(self, services: Services, timeout: float = 10.0) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.services = services
        self.timeout = timeout
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="health")
        self._running = None

    async def __call__(self) -> dict[str, Any]:
        import asyncio

        if self._running is None or self._running.done():
            self._running = asyncio.get_running_loop().run_in_executor(self._pool, check, self.services)
        try:
            return await asyncio.wait_for(asyncio.shield(self._running), self.timeout)
        except TimeoutError:
            return {"ok": False, "checks": {}, "error": f"the checks did not finish within {self.timeout:g} s"}

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
