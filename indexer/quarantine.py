"""Files the indexer refused for good, moved out of KNOWLEDGE_DIR into DATA_DIR/quarantine/ with their reason.

Why move them: a file that failed because of what it is (a zip bomb, a corrupt PDF, aliases in its front
matter) fails the same way at every refresh, and some cost minutes to fail; kept in the knowledge folder
it is retried by every /reindex and every replica. In quarantine it is kept (nothing is deleted behind
staff's back) and reported with its reason in `python -m indexer status` until staff remove it or put a
fixed file at the same path. To retry a file as it is, move it back into KNOWLEDGE_DIR.

Layout: `quarantine/<path in KNOWLEDGE_DIR>` holds the file, `quarantine/index.json` maps that path to
`{reason, quarantined_at, sha256}`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from indexer.config import IndexerSettings

log = logging.getLogger(__name__)
NOTE = "; moved to quarantine"  # appended to the reason in status, so staff know where the file went


def quarantine_dir(settings: IndexerSettings) -> Path:
    return settings.data_dir / "quarantine"


class Quarantine:
    """Reads and writes under the indexer's refresh lock (the callers hold it), so no lock of its own."""

    def __init__(self, settings: IndexerSettings) -> None:
        self.root = quarantine_dir(settings)
        self.index_path = self.root / "index.json"

    def entries(self) -> dict[str, dict[str, str]]:
        """Quarantined path (relative to KNOWLEDGE_DIR) -> {reason, quarantined_at, sha256}."""
        try:
            data = json.loads(self.index_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            log.warning("cannot read %s; quarantined files are not listed", self.index_path)
            return {}
        return {k: v for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}

    def failed(self) -> list[dict[str, str]]:
        """The quarantined files as the `failed` list of status (`{path, reason}`).

        Only files still there: one staff deleted from the folder by hand is no longer reported.
        """
        out = []
        for rel, entry in sorted(self.entries().items()):
            target = self._path(rel)
            if target is not None and target.is_file():
                out.append({"path": rel, "reason": f"{entry.get('reason', 'refused')}{NOTE}"})
        return out

    def put(self, source: Path, rel: str, reason: str, sha256: str) -> bool:
        """Move `source` (at `rel` under KNOWLEDGE_DIR) into quarantine; False when it cannot be moved."""
        target = self._path(rel)
        if target is None:
            return False
        entries = self.entries()
        entries[rel] = {
            "reason": reason,
            "quarantined_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "sha256": sha256,
        }
        try:
            # The entry first: a crash between the two steps leaves the file in KNOWLEDGE_DIR, where the next
            # refresh fails it again and moves it; the other order could hide a moved file from status.
            self._save(entries)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(source), str(target))  # DATA_DIR may be on another file system than KNOWLEDGE_DIR
        except OSError as exc:
            log.warning("cannot move %s to quarantine (%s); it stays where it is", rel, exc)
            entries.pop(rel, None)
            try:
                self._save(entries)
            except OSError:
                pass
            return False
        log.warning("%s moved to quarantine: %s", rel, reason)
        return True

    def discard(self, rel: str) -> bool:
        """Forget a quarantined file and delete it (staff removed it, or put a good file at its path)."""
        entries = self.entries()
        if rel not in entries:
            return False
        target = self._path(rel)
        if target is not None:
            target.unlink(missing_ok=True)
        entries.pop(rel)
        self._save(entries)
        return True

    def _path(self, rel: str) -> Path | None:
        root = self.root.resolve()
        target = (root / rel).resolve()
        return target if root in target.parents else None  # a path from the index never escapes quarantine/

    def _save(self, entries: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".index-", dir=self.root)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entries, fh, ensure_ascii=False, indent=1)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.index_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
