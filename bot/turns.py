"""One sender's updates in order across replicas: a turn per update, held in the shared database.

Behind a round-robin proxy one person's consecutive messages reach different replicas. Each replica keeps
its own updates of a sender in order (bot.telegram.ordering); this table makes the replicas take turns too:
an update runs only when no other update of the same sender is running and none with a lower id waits.
Every row carries a lease, renewed while its update is handled, so a replica killed mid-update blocks the
sender for at most the lease, not for good; Telegram then delivers that update again.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, DateTime, delete, select, text, update
from sqlalchemy.orm import Mapped, mapped_column

from bot.storage import Base, Store, _now

LEASE_SECONDS = 10.0  # a turn not renewed for this long belongs to a process that died
_NAMESPACE = 704202612  # first key of the per-sender advisory lock (the second is the sender)


class SenderTurn(Base):
    """An update of a sender that is running, or waiting for the updates before it."""

    __tablename__ = "sender_turns"
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sender: Mapped[int] = mapped_column(BigInteger, index=True)
    running: Mapped[bool] = mapped_column(Boolean, default=False)
    lease_until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Turns:
    """Take, keep and give back a sender's turn; no Telegram types."""

    def __init__(self, store: Store) -> None:
        self.session = store.session
        self.postgres = store.engine.dialect.name == "postgresql"

    def enter(self, sender: int, update_id: int, seconds: float = LEASE_SECONDS) -> bool:
        """True when `update_id` may run now; else it is queued (call again to wait, which keeps its place)."""
        moment = _now()
        until = moment + dt.timedelta(seconds=seconds)
        with self.session.begin() as s:
            if self.postgres:  # the check and the claim as one step for this sender, on every replica
                key = sender % 2147483647
                s.execute(text("SELECT pg_advisory_xact_lock(:ns, :key)"), {"ns": _NAMESPACE, "key": key})
            s.execute(delete(SenderTurn).where(SenderTurn.sender == sender, SenderTurn.lease_until < moment))
            others = s.execute(
                select(SenderTurn.update_id, SenderTurn.running).where(
                    SenderTurn.sender == sender, SenderTurn.update_id != update_id
                )
            ).all()
            go = not any(running or other < update_id for other, running in others)
            mine = s.get(SenderTurn, update_id)
            if mine is None:  # a redelivered update (its first replica died) takes over its own row
                s.add(SenderTurn(update_id=update_id, sender=sender, running=go, lease_until=until))
            else:
                mine.running, mine.lease_until = go, until
            return go

    def renew(self, update_id: int, seconds: float = LEASE_SECONDS) -> None:
        with self.session.begin() as s:
            s.execute(
                update(SenderTurn)
                .where(SenderTurn.update_id == update_id)
                .values(lease_until=_now() + dt.timedelta(seconds=seconds))
                .execution_options(synchronize_session=False)
            )

    def leave(self, update_id: int) -> None:
        with self.session.begin() as s:
            s.execute(delete(SenderTurn).where(SenderTurn.update_id == update_id))
