"""Schema migrations: a database created by an older version is brought up to date, data kept."""

import sqlite3
import time

from sqlalchemy import func, select

from bot.storage import MIGRATIONS, Message, Store, UserState


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


def test_a_new_users_first_messages_at_once_do_not_collide(database_url):
    from concurrent.futures import ThreadPoolExecutor

    store = Store(database_url)
    calls = (
        [lambda u=u: store.add_turn(u, "user", "xin chào") for u in (7, 7, 8, 8)]
        + [lambda u=u: store.record_consent(u) for u in (7, 8)]
        + [lambda u=u: store.new_context(u) for u in (7, 8)]
    )
    for _ in range(5):
        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            for future in [pool.submit(call) for call in calls]:
                future.result()  # an insert racing another for the same new user would raise here
        for user in (7, 8):
            # both messages stored once each, in one user row, consent recorded, context moved on once
            assert store.consented_at(user) is not None
            with store.session() as s:
                stored = s.scalars(select(Message).where(Message.user_id == user)).all()
                users = s.scalars(select(UserState).where(UserState.user_id == user)).all()
            assert len(stored) == 2 and len(users) == 1 and users[0].context_epoch == 1
            assert store.forget(user) == 2


def test_rate_limit_holds_across_processes(database_url):
    """Two bot processes (two Store objects) on one database: a burst still gets exactly `limit` through."""
    from concurrent.futures import ThreadPoolExecutor

    if database_url.startswith("sqlite"):
        import pytest

        pytest.skip("SQLite serves one bot process; several processes share a PostgreSQL database")
    replicas = [Store(database_url), Store(database_url)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        admitted = list(pool.map(lambda n: replicas[n % 2].admit_question(42, f"câu hỏi {n}", 4), range(12)))
    assert sum(a is not None for a in admitted) == 4


def test_forget_racing_with_new_messages_loses_nothing_it_should_keep(database_url):
    """/forget pressed while a question is being stored: every call finishes, nothing raises."""
    from concurrent.futures import ThreadPoolExecutor

    store = Store(database_url)
    calls = []
    for n in range(30):
        calls += [
            lambda n=n: store.admit_question(77, f"hỏi {n}", 0),
            lambda: store.add_turn(77, "assistant", "ok"),
            lambda: store.record_consent(77),
            lambda: store.forget(77),
        ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        for future in [pool.submit(call) for call in calls]:
            future.result()  # nothing raises: the user row is recreated by whichever write comes after a forget
    # After the race the store still works for the user, and a last /forget leaves nothing behind.
    assert store.admit_question(77, "sau cùng", 0) is not None
    assert [t.text for t in store.history(77, 50) if t.role == "user"][-1] == "sau cùng"
    store.forget(77)
    with store.session() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.user_id == 77)) == 0
        assert s.get(UserState, 77) is None


def test_a_version_1_database_is_migrated_on_either_engine(database_url):
    """The same migration path on SQLite and PostgreSQL: the v1 schema gains its new column, data kept."""
    from sqlalchemy import create_engine, inspect, text

    url = database_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    with engine.begin() as db:  # the schema as version 1 created it
        db.execute(text("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP)"))
        db.execute(text("INSERT INTO schema_version VALUES (1, '2026-01-01')"))
        db.execute(
            text(
                "CREATE TABLE users (user_id BIGINT PRIMARY KEY, language VARCHAR(8), context_epoch INTEGER,"
                " first_seen TIMESTAMP)"
            )
        )
        db.execute(text("INSERT INTO users VALUES (42, 'vi', 3, '2026-01-01')"))
    engine.dispose()
    store = Store(database_url)
    columns = {c["name"] for c in inspect(store.engine).get_columns("users")}
    with store.session() as s:
        versions = list(s.scalars(text("SELECT version FROM schema_version ORDER BY version")))
        epoch = s.get(UserState, 42).context_epoch
    assert "consented_at" in columns and versions == [v for v, _ in MIGRATIONS] and epoch == 3
    store.record_consent(42)
    assert store.consented_at(42) is not None
    Store(database_url).close()  # running again changes nothing and does not fail


def test_a_throttle_holds_across_replicas(database_url):
    """Two processes' stores on one database: one of them alerts, the other waits out the period."""
    first, second = Store(database_url), Store(database_url)
    try:
        assert first.claim("admin_error_alert", 60)
        assert not second.claim("admin_error_alert", 60) and not first.claim("admin_error_alert", 60)
        assert second.claim("another_alert", 60)  # keys are independent
        assert first.claim("short", 0.05)
        time.sleep(0.1)
        assert second.claim("short", 0.05)  # the period is over: the next one may
    finally:
        first.close()
        second.close()


def test_the_send_rate_is_shared_by_replicas(database_url):
    """Telegram counts the bot's messages, not each process's: slots of one second are shared in the database."""
    first, second = Store(database_url), Store(database_url)
    try:
        time.sleep(1.02 - time.time() % 1)  # at the start of a second, so all the tries fall within it
        waits = [store.take_send_slot(3) for store in (first, second, first, second, first)]
        assert [w == 0 for w in waits] == [True, True, True, False, False]
        assert all(0 < w <= 1 for w in waits[3:])  # until the next second
        time.sleep(waits[3])
        assert second.take_send_slot(3) == 0
    finally:
        first.close()
        second.close()


def test_an_update_stores_its_question_and_answer_once(database_url):
    """Turns stored for a Telegram update are found, not added, when the update is handled again; the conversation
    it sees then is the one before it."""
    store = Store(database_url)
    store.admit_question(9, "câu trước", 0)
    first = store.admit_question(9, "nhãn hiệu bảo hộ bao lâu", 2, update_id=700)
    answer = store.add_turn(9, "assistant", "10 năm", update_id=700)
    assert store.admit_question(9, "nhãn hiệu bảo hộ bao lâu", 2, update_id=700) == first  # limit 2: not counted
    assert store.add_turn(9, "assistant", "10 năm", update_id=700) == answer
    assert [t.text for t in store.history(9)] == ["câu trước", "nhãn hiệu bảo hộ bao lâu", "10 năm"]
    assert [t.text for t in store.history(9, before_update=700)] == ["câu trước"]
    assert store.admit_question(9, "câu khác", 2, update_id=701) is None  # a new update is counted
    store.close()


def test_admit_gives_the_conversation_before_the_question(database_url):
    """`admit` returns the history as `history(before_update=...)` saw it before the question was stored, also
    when the update is handled again or the question is over the limit."""
    store = Store(database_url)
    store.admit_question(5, "câu một", 0, update_id=800)
    store.add_turn(5, "assistant", "trả lời một", {"kind": "answer", "sources": ["ip"]}, update_id=800)
    first = store.admit(5, "câu hai", 3, update_id=801)
    assert [t.text for t in first.history] == ["câu một", "trả lời một"]
    assert first.history[-1].doc_ids == ["ip"] and first.message_id is not None
    again = store.admit(5, "câu hai", 3, update_id=801)  # handled again: not its own question as history
    assert again == first
    store.add_turn(5, "assistant", "trả lời hai", update_id=801)
    store.new_context(5)
    assert store.admit(5, "mới", 3, update_id=802).history == []  # /new: an empty conversation
    over = store.admit(5, "quá", 3, update_id=803)  # the fourth question in a minute
    assert over.message_id is None and [t.text for t in over.history] == ["mới"]
    assert [t.text for t in store.history(5)] == ["mới"]  # not stored
    assert store.admit(6, "người mới", 3, history=2).history == []
    store.close()
