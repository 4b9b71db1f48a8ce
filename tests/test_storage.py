"""Schema migrations: a database created by an older version is brought up to date, data kept."""

import sqlite3

from bot.storage import MIGRATIONS, Store


def test_old_database_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # the schema as version 1 created it
        db.executescript("""
            CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP);
            INSERT INTO schema_version VALUES (1, '2026-01-01');
            CREATE TABLE users (user_id BIGINT PRIMARY KEY, language VARCHAR(8), context_epoch INTEGER,
                                first_seen TIMESTAMP);
            INSERT INTO users VALUES (42, 'vi', 3, '2026-01-01');
        """)
    store = Store(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(users)")}
        versions = [row[0] for row in db.execute("SELECT version FROM schema_version ORDER BY version")]
    assert "consented_at" in columns
    assert versions == [v for v, _ in MIGRATIONS]
    store.record_consent(42)
    assert store.consented_at(42) is not None
    Store(f"sqlite:///{path}")  # running again changes nothing and does not fail


def test_fresh_database_is_at_the_latest_version(tmp_path):
    path = tmp_path / "new.sqlite3"
    Store(f"sqlite:///{path}")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT max(version) FROM schema_version").fetchone()[0] == MIGRATIONS[-1][0]
