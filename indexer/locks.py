"""The re-index lock: one refresh at a time on this machine and, with PostgreSQL, across every machine.

The file lock under DATA_DIR serves replicas that share a folder; replicas on several machines share only the
database, so with a PostgreSQL DATABASE_URL a session advisory lock is taken as well. PostgreSQL releases it
by itself when the holder's connection dies (a replica killed mid-refresh never leaves it held).
"""

from __future__ import annotations

import logging
import time
import zlib
from typing import Self

from filelock import FileLock, Timeout

from indexer.config import IndexerSettings, with_driver

log = logging.getLogger(__name__)
# A fixed key every replica agrees on; advisory locks are 64-bit integers in one namespace per database.
ADVISORY_KEY = zlib.crc32(b"sme-advisor:index-refresh")
POLL_SECONDS = 0.5


class LockTimeout(Exception):
    """Another refresh holds the lock for longer than the caller waits."""


def postgres_url(settings: IndexerSettings) -> str | None:
    """The SQLAlchemy URL when DATABASE_URL is PostgreSQL (with the driver the project installs), else None."""
    url = with_driver(settings.database_url.get_secret_value().strip())
    return url if url.startswith("postgresql") else None


class RefreshLock:
    def __init__(self, settings: IndexerSettings) -> None:
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        self.file = FileLock(str(settings.index_dir / "refresh.lock"))
        self.url = postgres_url(settings)
        self._engine = None
        self._connection = None
        self._held = False

    def acquire(self, timeout: float = -1) -> None:
        """Wait up to `timeout` seconds (negative: as long as it takes)."""
        deadline = time.monotonic() + timeout if timeout >= 0 else float("inf")
        try:
            self.file.acquire(timeout=timeout)
        except Timeout as exc:
            raise LockTimeout from exc
        if self.url is not None:
            try:
                self._acquire_advisory(deadline)
            except BaseException:
                self._close()
                self.file.release()
                raise
        self._held = True

    def _acquire_advisory(self, deadline: float) -> None:
        from sqlalchemy import create_engine, text
        from sqlalchemy.pool import NullPool

        # Its own connection, held for the whole refresh: the lock lives and dies with it.
        self._engine = create_engine(self.url, poolclass=NullPool)
        self._connection = self._engine.connect()
        while True:
            got = self._connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar()
            self._connection.commit()
            if got:
                return
            if time.monotonic() >= deadline:
                raise LockTimeout
            time.sleep(POLL_SECONDS)

    def release(self) -> None:
        try:
            if self._connection is not None:
                from sqlalchemy import text

                self._connection.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                self._connection.commit()
        except Exception:  # noqa: BLE001 - the connection is gone, and with it the lock
            log.warning("could not release the re-index lock explicitly; closing its connection releases it")
        finally:
            self._close()
            self._held = False
            self.file.release()

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
        if self._engine is not None:
            self._engine.dispose()
        self._connection = self._engine = None

    @property
    def is_locked(self) -> bool:
        return self.file.is_locked

    def __enter__(self) -> Self:
        if not self._held:  # `with lock_for(settings):` waits for it; `with indexer._locked(...)` already holds it
            self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
