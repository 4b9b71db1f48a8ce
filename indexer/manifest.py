"""The manifest: what was indexed from which file, by content hash, written atomically."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STALE_DAYS = 365


@dataclass
class Manifest:
    path: Path
    model: str = ""
    chunker: str = ""
    last_refresh: str | None = None
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # rel path -> entry
    failed: list[dict[str, str]] = field(default_factory=list)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls(path=path)
        except (OSError, ValueError):
            # A damaged manifest only costs a re-embedding: the store is repaired against it.
            return cls(path=path)
        data.pop("path", None)
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(path=path, **known)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = asdict(self)
        payload.pop("path")
        fd, tmp = tempfile.mkstemp(prefix=".manifest-", dir=self.path.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, ensure_ascii=False, indent=1)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def stale(self, today: dt.date | None = None) -> list[dict[str, str]]:
        """Documents not reviewed for a year, or describing a rule no longer in force."""
        today = today or dt.date.today()
        out = []
        for rel, entry in sorted(self.documents.items()):
            reasons = []
            reviewed = _date(entry.get("last_reviewed"))
            if reviewed and (today - reviewed).days > STALE_DAYS:
                reasons.append(f"last_reviewed {reviewed.isoformat()} is over 12 months old")
            ends = _date(entry.get("effective_to"))
            if ends and ends < today:
                reasons.append(f"effective_to {ends.isoformat()} has passed")
            if reasons:
                out.append(
                    {
                        "path": rel,
                        "id": entry.get("doc_id", ""),
                        "title": entry.get("title", ""),
                        "reason": "; ".join(reasons),
                    }
                )
        return out


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None
