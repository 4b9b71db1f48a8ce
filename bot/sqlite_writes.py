"""One writer at a time on a SQLite file, queued in this process instead of by SQLite's busy handler.

SQLite lets one connection write at a time. A second writer is told "busy" and SQLite's own handler retries it
after sleeping 1, 2, 5, 10 … up to 100 ms, so under fifty owners at once a write waited up to a tenth of a second
after the file was free again, and every handler queued behind it. Here a connection about to write first takes
a lock of the process (whoever frees it wakes the next writer at once) and gives it back when the connection
returns to the pool, after its commit or rollback. Readers never take it: WAL lets them read beside the writer.
One process owns a SQLite file (replicas share PostgreSQL), so a lock of the process covers every writer.
"""

from __future__ import annotations

import logging
import re
import threading

from sqlalchemy import event
from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)
# Statements after which SQLite holds the file's write lock until the transaction ends (the sqlite3 module
# opens its transaction just before the first of them).
_WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|ALTER|DROP)\b", re.IGNORECASE)
_MARK = "sqlite_writer"


class WriterLock:
    """Installed on a SQLite engine by `install`; `wait` seconds later a writer goes ahead anyway (SQLite's own
    busy timeout then applies), so a connection that never came back can slow writes down but not stop them."""

    def __init__(self, wait: float) -> None:
        self.wait = wait
        self._lock = threading.Lock()
        self._owner: int | None = None  # the thread holding it: its other connections do not wait for it

    def before_execute(self, conn, _cursor, statement, _parameters, _context, _executemany) -> None:
        if conn.info.get(_MARK) or self._owner == threading.get_ident() or not _WRITES.match(statement):
            return
        if not self._lock.acquire(timeout=self.wait):
            log.warning("sqlite: a writer waited %.0f s for the write lock; going ahead", self.wait)
            return
        self._owner = threading.get_ident()
        conn.info[_MARK] = True

    def checkin(self, _dbapi_connection, record, *_exception) -> None:
        """Back in the pool (its transaction ended), or invalidated after an error: the next writer goes."""
        if record is not None and record.info.pop(_MARK, False):
            self._owner = None
            self._lock.release()


def install(engine: Engine, wait: float) -> WriterLock:
    writer = WriterLock(wait)
    event.listen(engine, "before_cursor_execute", writer.before_execute)
    event.listen(engine.pool, "checkin", writer.checkin)
    event.listen(engine.pool, "invalidate", writer.checkin)
    return writer
