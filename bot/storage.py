"""Conversations, feedback and consent in a SQL database (SQLite by default, PostgreSQL via DATABASE_URL)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from bot import sqlite_writes
from bot.answering.language import language_evidence
from bot.answering.types import Turn
from indexer.config import with_driver

# Modules that define further tables on `Base`; imported before the schema is created.
MODEL_MODULES: list[str] = [
    "bot.handoff.models",
    "bot.needs.models",
    "bot.answers.models",
    "bot.answers.curation",
    "bot.web.models",
    "bot.turns",
]
# Functions (session, user_id) that delete a feature's own rows about a user in the /forget transaction.
FORGET_HOOKS: list = []


# Threads that may use the database at once: the Telegram front end's worker pool (bot.telegram.runner).
WORKER_THREADS = 32
BUSY_SECONDS = 15  # how long a SQLite writer waits for the one before it


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _sqlite_pragmas(connection, _record) -> None:
    """WAL lets readers run beside the writer; NORMAL sync is durable across a process crash."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_SECONDS * 1000}")
    cursor.close()


class Base(DeclarativeBase):
    pass


class SchemaVersion(Base):
    __tablename__ = "schema_version"
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    applied_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class Message(Base):
    __tablename__ = "messages"
    # One question and one answer per Telegram update: an update handled again (the replica that took it died
    # midway) finds the turns it already stored instead of storing them twice.
    __table_args__ = (Index("ix_messages_update_role", "update_id", "role", unique=True),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    role: Mapped[str] = mapped_column(String(16))  # user | assistant
    text: Mapped[str] = mapped_column(Text)
    context_epoch: Mapped[int] = mapped_column(Integer, default=0)  # /new starts a new epoch
    meta: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)
    update_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # the update that brought it


class Feedback(Base):
    __tablename__ = "feedback"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    message_id: Mapped[int] = mapped_column(Integer)
    value: Mapped[int] = mapped_column(Integer)  # +1 / -1
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)


class UserState(Base):
    __tablename__ = "users"
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    language: Mapped[str] = mapped_column(String(8), default="vi")
    context_epoch: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now)
    # When the user was shown the privacy notice and went on using the bot (their consent); /forget clears it.
    consented_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Throttle(Base):
    """Something done at most once per period by all replicas together (an alert to the admins)."""

    __tablename__ = "throttles"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    until: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class HandledUpdate(Base):
    """Webhook updates already handled: one delivered again (its answer to Telegram was lost) is skipped."""

    __tablename__ = "handled_updates"
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=_now, index=True)


class SendSlots(Base):
    """Messages sent in one second by all replicas together (Telegram's limit is per bot, not per process)."""

    __tablename__ = "send_slots"
    second: Mapped[int] = mapped_column(BigInteger, primary_key=True)  # Unix time, whole seconds
    used: Mapped[int] = mapped_column(Integer, default=0)


def written_language(s: Session, user_id: int) -> str | None:
    """'vi' or 'en' from the user's latest questions that show a language; None when none does."""
    recent = s.scalars(
        select(Message.text)
        .where(Message.user_id == user_id, Message.role == "user")
        .order_by(Message.id.desc())
        .limit(10)
    ).all()
    return next((found for found in map(language_evidence, recent) if found), None)


def _turn(row: Message) -> Turn:
    """A stored message as a conversation turn; an answer carries the subject it left (kind, documents, topic)."""
    meta = row.meta if isinstance(row.meta, dict) else {}
    if row.role != "assistant":
        return Turn(row.role, row.text)
    sources = meta.get("subject") or meta.get("sources") or []
    return Turn(
        row.role,
        row.text,
        kind=str(meta.get("kind") or ""),
        doc_ids=[str(d) for d in sources if d] if isinstance(sources, list) else [],
        topic=str(meta.get("topic") or ""),
    )


def _upsert_user(dialect: str):
    """INSERT … ON CONFLICT DO UPDATE … RETURNING for the user row (parameter `user_id`), on the databases we
    support; None for others. One statement creates the row or returns it, locked (PostgreSQL) until the
    transaction ends. Built once per store: every question runs it twice, and building it (with its cache key)
    cost more than running it."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        return None
    statement = insert(UserState).values(user_id=bindparam("user_id"))
    return (
        statement.on_conflict_do_update(
            index_elements=[UserState.user_id], set_={"user_id": statement.excluded.user_id}
        )
        .returning(UserState)
        .execution_options(populate_existing=True)
    )


def _add_column(table: str, column: str, ddl: str):
    """A migration step that adds a column unless the table already has it (fresh databases do)."""

    def step(connection) -> None:
        if column not in {c["name"] for c in inspect(connection).get_columns(table)}:
            connection.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {ddl}"))

    return step


def _add_index(table: str, *columns: str):
    """A migration step that creates the index the model declares on `columns`, unless it exists (fresh databases
    have it): the name and uniqueness come from the model, not from a second copy here."""

    def step(connection) -> None:
        for index in Base.metadata.tables[table].indexes:
            if [c.name for c in index.columns] == list(columns):
                index.create(connection, checkfirst=True)

    return step


# Ordered schema changes: (version, what it does). Version 1 is the tables as first created.
MIGRATIONS = [
    (1, lambda connection: None),
    (2, _add_column("users", "consented_at", "TIMESTAMP WITH TIME ZONE NULL")),
    (3, _add_column("handoff_outbox", "reply_to_message_id", "BIGINT NULL")),
    (4, _add_column("handoff_outbox", "uncertain", "BOOLEAN NOT NULL DEFAULT FALSE")),
    (5, _add_column("handoff_outbox", "origin", "VARCHAR(48) NULL")),
    (6, _add_index("handoff_outbox", "origin")),
    (7, _add_column("messages", "update_id", "BIGINT NULL")),
    (8, _add_index("messages", "update_id", "role")),
]


@dataclass(frozen=True)
class Admission:
    """A question as `Store.admit` took it: the conversation before it, and its stored id (None: over the limit)."""

    history: list[Turn]
    message_id: int | None


class Store:
    """Repository used by every front end; no Telegram types."""

    def __init__(self, url: str) -> None:
        url = with_driver(url)
        sqlite = url.startswith("sqlite")
        args = {"check_same_thread": False} if sqlite else {}
        # One process owns a SQLite file, its handlers on up to WORKER_THREADS threads at once. SQLAlchemy's
        # default pool keeps 5 connections: past that, every call opened a connection (and ran its PRAGMAs)
        # and closed it again, under the load of fifty owners asking at once.
        pool = {"pool_size": WORKER_THREADS, "max_overflow": WORKER_THREADS} if sqlite and ":memory:" not in url else {}
        self.engine = create_engine(url, connect_args=args, pool_pre_ping=not sqlite, **pool)
        if sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
            if ":memory:" not in url:  # one shared connection there: nobody to queue behind
                sqlite_writes.install(self.engine, wait=BUSY_SECONDS)
        self.session = sessionmaker(self.engine, expire_on_commit=False)
        self._upsert = _upsert_user(self.engine.dialect.name)
        self._admit_lock = threading.Lock()
        self.migrate()

    def close(self) -> None:
        """Close the pooled connections (a process that ends closes them anyway; tests open many stores)."""
        self.engine.dispose()

    def migrate(self) -> None:
        """Ordered migrations recorded in schema_version; version 1 creates the tables."""
        import importlib

        for module in MODEL_MODULES:
            importlib.import_module(module)
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":  # two bot processes starting together take turns
                connection.execute(text("SELECT pg_advisory_xact_lock(704202611)"))
            Base.metadata.create_all(connection)
            current = connection.execute(select(func.max(SchemaVersion.version))).scalar() or 0
            for version, step in MIGRATIONS:
                if version > current:
                    step(connection)
                    connection.execute(SchemaVersion.__table__.insert().values(version=version, applied_at=_now()))

    def claim(self, key: str, seconds: float) -> bool:
        """True for the one caller, on any replica, that may do `key` now; then nobody for `seconds`."""
        moment = _now()
        until = moment + dt.timedelta(seconds=seconds)
        with self.session.begin() as s:
            taken = s.execute(
                update(Throttle)
                .where(Throttle.key == key, Throttle.until < moment)
                .values(until=until)
                .execution_options(synchronize_session=False)
            ).rowcount
            if taken:
                return True
            if s.get(Throttle, key) is not None:
                return False
        try:
            with self.session.begin() as s:
                s.add(Throttle(key=key, until=until))
            return True
        except IntegrityError:  # another replica claimed it first
            return False

    def update_handled(self, update_id: int) -> bool:
        with self.session() as s:
            return s.get(HandledUpdate, update_id) is not None

    def mark_update_handled(self, update_id: int) -> None:
        try:
            with self.session.begin() as s:
                s.add(HandledUpdate(update_id=update_id))
                if update_id % 500 == 0:  # now and then, forget those older than Telegram keeps updates
                    s.execute(delete(HandledUpdate).where(HandledUpdate.at < _now() - dt.timedelta(days=2)))
        except IntegrityError:  # handled twice after all (two deliveries at once): already recorded
            pass

    def take_send_slot(self, per_second: int) -> float:
        """One message of the bot's shared rate: 0 when it may go now, else how long to wait for the next second."""
        moment = _now().timestamp()
        second = int(moment)
        with self.session.begin() as s:
            taken = s.execute(
                update(SendSlots)
                .where(SendSlots.second == second, SendSlots.used < per_second)
                .values(used=SendSlots.used + 1)
                .execution_options(synchronize_session=False)
            ).rowcount
            if taken:
                return 0.0
            if s.get(SendSlots, second) is not None:
                return max(0.01, second + 1 - moment)
        try:
            with self.session.begin() as s:
                s.add(SendSlots(second=second, used=1))
                s.execute(delete(SendSlots).where(SendSlots.second < second - 60))  # only the last minute is kept
            return 0.0
        except IntegrityError:  # another replica opened this second first: try again at once
            return 0.001

    def record_consent(self, user_id: int) -> None:
        """The user saw the privacy notice and continues: remember when (first time only)."""
        with self.session.begin() as s:  # statements, not object changes: a /forget meanwhile simply wins
            self._user(s, user_id)
            s.execute(
                update(UserState)
                .where(UserState.user_id == user_id, UserState.consented_at.is_(None))
                .values(consented_at=_now())
            )

    def consented_at(self, user_id: int) -> dt.datetime | None:
        with self.session() as s:
            user = s.get(UserState, user_id)
            return user.consented_at if user else None

    def _user(self, s: Session, user_id: int) -> UserState:
        """The user's row, created if missing, in one statement: two first messages at once do not collide
        on the key, and a /forget cannot delete the row between creating and reading it. On PostgreSQL the
        row stays locked until the transaction ends, so one user's writes take turns across processes."""
        if self._upsert is not None:
            return s.scalars(self._upsert, {"user_id": user_id}).one()
        user = s.get(UserState, user_id)
        if user is None:
            user = UserState(user_id=user_id)
            s.add(user)
            s.flush()
        return user

    def add_turn(
        self, user_id: int, role: str, text: str, meta: dict | None = None, update_id: int | None = None
    ) -> int:
        """Store a turn; with `update_id`, once per update and role (handled again, it returns the stored one)."""
        try:  # the insert first: handled again is rare, a lookup before every turn would not be
            with self.session.begin() as s:
                user = self._user(s, user_id)
                row = Message(
                    user_id=user_id,
                    role=role,
                    text=text,
                    context_epoch=user.context_epoch,
                    meta=json.loads(json.dumps(meta or {}, default=str)),
                    update_id=update_id,
                )
                s.add(row)
                s.flush()
                return row.id
        except IntegrityError:  # stored already: by this update's first handling, or another replica's
            if update_id is None:
                raise
            with self.session() as s:
                return self._turn_of(s, update_id, role)

    @staticmethod
    def _turn_of(s: Session, update_id: int | None, role: str) -> int | None:
        if update_id is None:
            return None
        return s.scalar(select(Message.id).where(Message.update_id == update_id, Message.role == role))

    def written_language(self, user_id: int) -> str | None:
        """'vi' or 'en' from the user's last question; None before they asked anything."""
        with self.session() as s:
            return written_language(s, user_id)

    def history(self, user_id: int, limit: int = 6, before_update: int | None = None) -> list[Turn]:
        """The latest turns of the current conversation; `before_update`: without that update's own turns (it is
        being handled again and must see the conversation as it was when it came)."""
        with self.session() as s:
            user = s.get(UserState, user_id)
            return self._history(s, user_id, user.context_epoch if user else 0, limit, before_update)

    @staticmethod
    def _history(s: Session, user_id: int, epoch: int, limit: int, before_update: int | None) -> list[Turn]:
        query = select(Message).where(Message.user_id == user_id, Message.context_epoch == epoch)
        if before_update is not None:
            query = query.where(or_(Message.update_id.is_(None), Message.update_id != before_update))
        rows = s.scalars(query.order_by(Message.id.desc()).limit(limit)).all()
        return [_turn(r) for r in reversed(rows)]

    def admit_question(
        self, user_id: int, text: str, limit: int, seconds: float = 60, update_id: int | None = None
    ) -> int | None:
        """Store the user's question unless they asked `limit` questions in the last `seconds`.

        Count and insert are one step, so a burst of concurrent messages cannot all pass: under a lock in
        this process, and on PostgreSQL (several bot processes) under a lock on the user's row.
        Returns the stored message id, or None when the question is over the limit (limit 0: no limit).
        `update_id`: a question already stored for that update (handled again) is admitted as it was.
        """
        return self.admit(user_id, text, limit, seconds, update_id, history=0).message_id

    def admit(
        self,
        user_id: int,
        text: str,
        limit: int,
        seconds: float = 60,
        update_id: int | None = None,
        history: int = 6,
    ) -> Admission:
        """`admit_question` and the conversation before the question (`history` turns, without this update's own, as
        `history(before_update=update_id)` gives them), in one session on one worker thread: the front end needs
        both for every question, and the bot's busy process spends less CPU on one call than on two."""
        with self.session() as s:
            turns: list[Turn] = []
            if history:
                # Read before taking the lock and the write (SQLite's writer lock, PostgreSQL's row lock): the
                # admissions of everybody queue behind those, so they are kept as short as before.
                user = s.get(UserState, user_id)
                turns = self._history(s, user_id, user.context_epoch if user else 0, history, update_id)
                s.commit()  # the read ends here; the admission is a transaction of its own, under the lock
            with self._admit_lock, s.begin():
                return self._admit(s, user_id, text, limit, seconds, update_id, turns)

    def _admit(
        self, s: Session, user_id: int, text: str, limit: int, seconds: float, update_id: int | None, turns: list
    ) -> Admission:
        since = _now() - dt.timedelta(seconds=seconds)
        user = self._user(s, user_id)  # on PostgreSQL, the user's row lock: one replica at a time from here
        found = self._turn_of(s, update_id, "user")
        if found is not None:
            return Admission(turns, found)
        if (
            limit
            and (
                s.scalar(
                    select(func.count())
                    .select_from(Message)
                    .where(Message.user_id == user_id, Message.role == "user", Message.created_at >= since)
                )
                or 0
            )
            >= limit
        ):
            return Admission(turns, None)
        row = Message(
            user_id=user_id, role="user", text=text, context_epoch=user.context_epoch, meta={}, update_id=update_id
        )
        s.add(row)
        s.flush()
        return Admission(turns, row.id)

    def new_context(self, user_id: int) -> None:
        with self.session.begin() as s:
            self._user(s, user_id)
            s.execute(
                update(UserState).where(UserState.user_id == user_id).values(context_epoch=UserState.context_epoch + 1)
            )

    def add_feedback(self, user_id: int, message_id: int, value: int) -> bool:
        """Record 👍 (+1) or 👎 (-1) on one of the bot's answers to this user; a second press replaces the first.

        Button data comes from the network, so the answer must exist and have been given to the presser:
        otherwise nothing is stored and False comes back (forged or stale presses never reach /stats).
        """
        if value not in (1, -1):
            return False
        with self.session.begin() as s:
            owner = s.scalar(select(Message.user_id).where(Message.id == message_id, Message.role == "assistant"))
            if owner != user_id:
                return False
            s.execute(delete(Feedback).where(Feedback.user_id == user_id, Feedback.message_id == message_id))
            s.add(Feedback(user_id=user_id, message_id=message_id, value=value))
            return True

    def answer_meta(self, user_id: int, message_id: int) -> dict | None:
        """What was stored with one of the bot's answers to this user (a button's id comes from the network)."""
        with self.session() as s:
            row = s.get(Message, message_id)
            if row is None or row.role != "assistant" or row.user_id != user_id:
                return None
            return dict(row.meta or {})

    def forget(self, user_id: int) -> int:
        """Delete everything stored about a user; returns the number of messages removed."""
        with self.session.begin() as s:
            count = s.scalar(select(func.count()).select_from(Message).where(Message.user_id == user_id)) or 0
            s.execute(delete(Message).where(Message.user_id == user_id))
            s.execute(delete(Feedback).where(Feedback.user_id == user_id))
            s.execute(delete(UserState).where(UserState.user_id == user_id))
            for hook in FORGET_HOOKS:
                hook(s, user_id)
            return count
