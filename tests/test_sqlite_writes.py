"""Writers on one SQLite file queue in the process instead of failing or sleeping in SQLite's busy handler."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import OperationalError

from bot import sqlite_writes


def _engine(path, queued: bool):
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _no_busy_wait(connection, _record):
        # SQLite's own handler would hide the queueing: with a timeout of 0 a second writer fails at once.
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()

    if queued:
        sqlite_writes.install(engine, wait=10)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER)"))
    return engine


def _write_in_parallel(engine, writers: int = 8, rows: int = 20) -> list[Exception]:
    errors: list[Exception] = []
    start = threading.Barrier(writers)

    def write() -> None:
        start.wait()
        try:
            for _ in range(rows):
                with engine.begin() as conn:
                    conn.execute(text("INSERT INTO t VALUES (1)"))
                    conn.execute(text("SELECT count(*) FROM t")).scalar()  # keep the write lock a moment
                    conn.execute(text("UPDATE t SET n = n + 1 WHERE rowid = 1"))
        except OperationalError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_parallel_writers_all_land_when_they_queue(tmp_path):
    engine = _engine(tmp_path / "queued.db", queued=True)
    assert _write_in_parallel(engine) == []
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 8 * 20


def test_without_the_queue_the_same_writers_collide(tmp_path):
    """The control: proves the test above would fail if the queue did nothing."""
    engine = _engine(tmp_path / "plain.db", queued=False)
    errors = _write_in_parallel(engine)
    assert errors and all("locked" in str(e) for e in errors)


@pytest.mark.parametrize("ending", ["rollback", "error"])
def test_a_transaction_that_fails_gives_the_write_lock_back(tmp_path, ending):
    engine = _engine(tmp_path / "ending.db", queued=True)
    with pytest.raises((RuntimeError, OperationalError)), engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        if ending == "error":
            conn.execute(text("INSERT INTO no_such_table VALUES (1)"))
        raise RuntimeError("the handler failed")
    done = threading.Event()

    def other_writer() -> None:  # another thread: the owner's own re-entry would not prove the lock is free
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (2)"))
        done.set()

    threading.Thread(target=other_writer).start()
    assert done.wait(5), "the next writer still waits for a transaction that ended"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t")).scalars().all() == [2]


def test_readers_do_not_wait_for_a_writer(tmp_path):
    engine = _engine(tmp_path / "read.db", queued=True)
    read = threading.Event()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))

        def reader() -> None:
            with engine.connect() as other:
                other.execute(text("SELECT count(*) FROM t")).scalar()
            read.set()

        threading.Thread(target=reader).start()
        assert read.wait(5), "a reader queued behind the open write transaction"
