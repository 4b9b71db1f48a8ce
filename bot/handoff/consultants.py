"""The register of consultants (command line and admins in Telegram) and the audit log."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.handoff.models import AuditLog, Consultant
from bot.handoff.routing import parse_topics


@dataclass(frozen=True)
class ConsultantInfo:
    telegram_id: int
    name: str
    topics: list[str]

    def to_json(self) -> dict:
        return {"telegram_id": self.telegram_id, "name": self.name, "topics": list(self.topics)}


def audit(s: Session, actor_id: int | None, action: str, ticket_id: int | None = None, **detail: object) -> None:
    """Record a consultant or admin action; never the text of a message."""
    s.add(AuditLog(actor_id=actor_id, action=action, ticket_id=ticket_id, detail=detail))


def _info(row: Consultant) -> ConsultantInfo:
    return ConsultantInfo(int(row.telegram_id), row.name, list(row.topics or []))


class ConsultantRegistry:
    def __init__(self, session_factory) -> None:
        self.session = session_factory

    def add(self, telegram_id: int, name: str, topics: str | list[str], actor_id: int | None = None) -> ConsultantInfo:
        """Register (or update and re-activate) a consultant; topics are design.md keys."""
        keys = parse_topics(",".join(topics) if isinstance(topics, list) else topics)
        name = " ".join(name.split())[:128]
        if not name:
            raise ValueError("the name is empty")
        if telegram_id <= 0:
            raise ValueError("a Telegram user id is a positive number")
        with self.session.begin() as s:
            row = s.get(Consultant, telegram_id)
            if row is None:
                row = Consultant(telegram_id=telegram_id, name=name, topics=keys, added_by=actor_id)
                s.add(row)
            else:
                row.name, row.topics, row.active = name, keys, True
            audit(s, actor_id, "consultant_add", consultant=telegram_id, topics=keys)
            s.flush()
            return _info(row)

    def remove(self, telegram_id: int, actor_id: int | None = None) -> bool:
        """Deactivate; the row stays so that past tickets keep their consultant's name."""
        with self.session.begin() as s:
            row = s.get(Consultant, telegram_id)
            if row is None or not row.active:
                return False
            row.active = False
            audit(s, actor_id, "consultant_remove", consultant=telegram_id)
            return True

    def list(self) -> list[ConsultantInfo]:
        with self.session() as s:
            rows = s.scalars(select(Consultant).where(Consultant.active.is_(True)).order_by(Consultant.name)).all()
            return [_info(r) for r in rows]

    def get(self, telegram_id: int) -> ConsultantInfo | None:
        with self.session() as s:
            row = s.get(Consultant, telegram_id)
            return _info(row) if row is not None and row.active else None

    @staticmethod
    def name_of(s: Session, telegram_id: int | None) -> str:
        row = s.get(Consultant, telegram_id) if telegram_id else None
        return row.name if row else str(telegram_id or "?")
