"""Two bot replicas in webhook mode behind a round-robin proxy, on one PostgreSQL and one Chroma server.

The production layout of deploy/ on loopback, driven through the fake Bot API: owners ask questions, an owner
and a consultant exchange messages through a ticket, an admin uploads a document and removes it, and one
replica is killed (SIGKILL) half-way. `run()` returns what every chat received, for the test
(tests/test_replicas_e2e.py) to check and the benchmark (benchmarks/bench_replicas.py) to print.
"""

from __future__ import annotations

import contextlib
import json
import queue
import re
import shutil
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text

from bot.telegram import render
from indexer.config import with_driver
from tests.conftest import DATA, ROOT, SAMPLE_KB
from tests.support.botapi import FakeBotAPI
from tests.support.chroma_server import chroma_server, index_into
from tests.support.proxy import RoundRobinProxy
from tests.workspace import WEBHOOK_SECRET, BotProcess, add_consultant, bot_env, free_port

OWNER_BASE, RELAY_OWNER, CONSULTANT, ADMIN = 51_000, 6001, 6002, 6003
PROBE_BASE = 61_000  # users who ask about the upload, one question each
GROUP = -1006543210987
UPLOAD_ID = "funding-kiem-dinh-may-say-lam-vien"
UPLOAD_TITLE = "Hỗ trợ kiểm định máy sấy nông sản tỉnh Lâm Viên"
UPLOAD = f"""---
id: {UPLOAD_ID}
title: "{UPLOAD_TITLE}"
topic: funding
---
# {UPLOAD_TITLE}

Doanh nghiệp nhỏ ở tỉnh Lâm Viên được Trung tâm hỗ trợ một nửa chi phí kiểm định máy sấy nông sản trước khi đưa
máy vào sản xuất.
""".encode()
UPLOAD_QUESTIONS = [
    "Trung tâm có hỗ trợ chi phí kiểm định máy sấy nông sản không?",
    "kiem dinh may say nong san co duoc ho tro khong",
    "Máy sấy nông sản của công ty tôi cần kiểm định, có được hỗ trợ không?",
]


@dataclass
class Outcome:
    """What happened, read from the fake Bot API once everything settled."""

    asked: dict[int, list[dict]] = field(default_factory=dict)  # each owner's questions (updates), in order
    latencies: list[float] = field(default_factory=list)  # seconds from a question to its first reply
    answered: int = 0  # questions the owners saw a reply to (their pace)
    lost: list[str] = field(default_factory=list)  # questions or relayed messages that got nothing
    duplicated: list[str] = field(default_factory=list)  # texts delivered twice for one cause
    resent_after_kill: list[str] = field(default_factory=list)  # ... of which the second came after a lease ran out
    upload_answers: list[str] = field(default_factory=list)  # replies to questions about the upload
    after_removal: list[str] = field(default_factory=list)  # replies to the same questions once it was removed
    relayed: int = 0
    killed_after: int = 0  # answers delivered when the replica was killed
    taken_over: int = 0  # outbox rows sent after another sender's lease ran out (possibly sent twice)
    served_by_each: list[int] = field(default_factory=list)  # webhook posts each replica answered 200
    logs: dict[str, str] = field(default_factory=dict)

    def p95(self) -> float:
        ordered = sorted(self.latencies)
        return ordered[int(0.95 * (len(ordered) - 1))] if ordered else float("nan")


def questions() -> list[str]:
    rows = [json.loads(line) for line in (DATA / "qa_dev.jsonl").read_text().splitlines() if line.strip()]
    return [r["question"] for r in rows if r.get("doc_ids") and not r.get("history")]


def run(
    root: Path, database_url: str, owners: int = 40, per_owner: int = 5, relay: int = 30, knowledge: Path = SAMPLE_KB
) -> Outcome:
    """The scenario on a copy of `knowledge`, indexed into a new Chroma server under `root`."""
    with contextlib.ExitStack() as stack:
        kb, data = root / "knowledge", root / "data"
        shutil.copytree(knowledge, kb, ignore=shutil.ignore_patterns("README.md"))
        data.mkdir()
        (data / "models").symlink_to(ROOT / "data" / "models")
        if (ROOT / "data" / "cache").is_dir():  # warm sentence vectors, as after `python -m bot warmup`
            shutil.copytree(ROOT / "data" / "cache", data / "cache")
        host, chroma_port = stack.enter_context(chroma_server(root))
        api = FakeBotAPI()
        url = api.start()
        stack.callback(api.stop)
        api.webhook_retry_delay = 0.3
        ports = [free_port(), free_port()]
        proxy = RoundRobinProxy([("127.0.0.1", p) for p in ports])
        hook = proxy.start() + "/tg-hook"
        stack.callback(proxy.stop)
        env = bot_env(
            api,
            url,
            kb,
            data,
            DATABASE_URL=database_url,
            CHROMA_HOST=host,
            CHROMA_PORT=str(chroma_port),
            CONSULTANTS_CHAT_ID=str(GROUP),
            ADMIN_IDS=str(ADMIN),
            WORKING_HOURS="00:00-24:00",
            WORKING_DAYS="1-7",
            RATE_LIMIT_PER_MINUTE="10000",
            TELEGRAM_MESSAGES_PER_SECOND="1000",
            WEBHOOK_URL=hook,
            WEBHOOK_LISTEN="127.0.0.1",
            WEBHOOK_SECRET=WEBHOOK_SECRET,
        )
        index_into(env)  # the sample documents, in the Chroma server
        add_consultant(env, CONSULTANT, "Minh", "ip,tech_transfer,funding,process")
        api.add_group(GROUP, "Chuyên gia Trung tâm")
        for uid, name in ((RELAY_OWNER, "Lan"), (CONSULTANT, "Minh"), (ADMIN, "Hoa")):
            api.add_private_user(uid, first_name=name)
        users = [OWNER_BASE + n for n in range(owners)]
        probes = [PROBE_BASE + n for n in range(2 * len(UPLOAD_QUESTIONS))]
        for uid in users + probes:
            api.add_private_user(uid, first_name=f"Chủ {uid}")
        replicas = [BotProcess(api, {**env, "WEBHOOK_PORT": str(p)}, root / f"bot{n}.log") for n, p in enumerate(ports)]
        for replica in replicas:
            stack.callback(replica.stop)
        since = time.monotonic()
        for replica in replicas:
            replica.launch()
        for replica in replicas:
            replica.wait_ready(since)
        outcome = _drive(api, replicas, users, probes, questions(), per_owner, relay)
        outcome.taken_over = _settled(database_url)
        time.sleep(2)  # anything sent twice would be here by now
        _tally(api, outcome, database_url, users, per_owner)
        outcome.served_by_each = [sum(1 for i, s in proxy.routed if i == n and s == 200) for n in range(len(ports))]
        outcome.logs = {r.log_path.name: r.log_path.read_text()[-3000:] for r in replicas}
        return outcome


def _drive(api, replicas, users, probes, pool, per_owner, relay) -> Outcome:
    outcome = Outcome()
    inbox = {uid: queue.Queue() for uid in users}
    api.add_message_listener(lambda r: r["from_bot"] and r["chat_id"] in inbox and inbox[r["chat_id"]].put(r))
    answered = threading.Semaphore(0)
    lock = threading.Lock()
    outcome.asked = {uid: [] for uid in users}
    admin_done = threading.Event()
    errors: list[BaseException] = []

    def owner(n: int, uid: int) -> None:
        admin_done.wait(timeout=600)  # the upload and its removal first, while both replicas serve
        for k in range(per_owner):
            question = pool[(n * per_owner + k) % len(pool)]
            update = api.send_text(uid, question)
            outcome.asked[uid].append(update)
            sent = api.injected_at(update)
            try:
                reply = inbox[uid].get(timeout=90)
                while reply["received_at"] < sent:
                    reply = inbox[uid].get(timeout=90)
            except queue.Empty:
                continue  # counted as lost by _tally
            with lock:
                outcome.answered += 1
            answered.release()
            _rest_of_answer(inbox[uid])

    def admin() -> None:
        reply = _upload(api)
        assert reply["text"].startswith("✅"), reply["text"]
        outcome.upload_answers = _ask_probes(api, probes[: len(UPLOAD_QUESTIONS)])
        upd = api.send_command(ADMIN, f"/kb_remove {UPLOAD_ID}")
        confirm = api.wait_for_message(ADMIN, contains="khỏi kho?", after=upd, timeout=60)
        api.press_button(ADMIN, confirm, text="🗑 Xoá")
        api.wait_for_edit(ADMIN, confirm["message_id"], contains="Đã xoá", timeout=90)
        outcome.after_removal = _ask_probes(api, probes[len(UPLOAD_QUESTIONS) :])
        admin_done.set()

    def consultation() -> None:
        admin_done.wait(timeout=600)
        outcome.relayed = _relay(api, relay, outcome)

    def guarded(target, *args):
        def body():
            try:
                target(*args)
            except BaseException as exc:  # noqa: BLE001 - reported by the test, with the bots' logs
                errors.append(exc)
                admin_done.set()

        return threading.Thread(target=body, daemon=True)

    threads = [guarded(owner, n, uid) for n, uid in enumerate(users)]
    threads += [guarded(admin), guarded(consultation)]
    for thread in threads:
        thread.start()
    # The kill: once the admin's upload and removal went through both replicas, and 40% of the owners' questions
    # were answered.
    admin_done.wait(timeout=600)
    target = int(0.4 * len(users) * per_owner)
    for _ in range(target):
        if not answered.acquire(timeout=120):
            break
    outcome.killed_after = outcome.answered
    replicas[0].stop(kill=True)
    for thread in threads:
        thread.join(timeout=600)
    if errors:
        raise errors[0]
    return outcome


def _rest_of_answer(inbox: queue.Queue, quiet: float = 0.6) -> None:
    """Take the rest of an answer sent as several messages (the text, then an offer...) before asking again: it
    would otherwise be taken for the next question's reply."""
    with contextlib.suppress(queue.Empty):
        while True:
            inbox.get(timeout=quiet)


def _upload(api) -> dict:
    upd = api.send_document(ADMIN, "kiem-dinh-may-say.md", UPLOAD)
    return api.wait_for_message(
        ADMIN, after=upd, timeout=120, predicate=lambda r: (r["text"] or "").startswith(("✅", "❌"))
    )


def _ask_probes(api, probes: list[int]) -> list[str]:
    """One question about the upload from each probe user: several posts, so both replicas answer some."""
    replies = []
    for uid, question in zip(probes, UPLOAD_QUESTIONS, strict=True):
        upd = api.send_text(uid, question)
        replies.append(api.wait_for_message(uid, after=upd, timeout=90)["text"] or "")
    return replies


def _relay(api, count: int, outcome: Outcome) -> int:
    """A ticket opened by the owner and claimed by the consultant, then `count` messages both ways."""
    upd = api.send_command(RELAY_OWNER, "/human")
    api.wait_for_message(RELAY_OWNER, contains="tên doanh nghiệp", after=upd, timeout=60)
    upd = api.send_text(RELAY_OWNER, "Công ty TNHH Sấy Lâm Viên")
    card = api.wait_for_message(
        GROUP, contains="Yêu cầu #", after=upd, timeout=60, predicate=lambda r: bool(r["reply_markup"])
    )
    tid = int(re.search(r"#(\d+)", card["text"]).group(1))
    api.wait_for_callback_answer(api.press_button(CONSULTANT, card, callback_data=f"hc:{tid}"), timeout=60)
    api.wait_for_message(RELAY_OWNER, contains="Minh", after=upd, timeout=60)
    sent = 0
    for k in range(count):
        sender, receiver = (RELAY_OWNER, CONSULTANT) if k % 2 == 0 else (CONSULTANT, RELAY_OWNER)
        message = f"Tin nhắn trao đổi số {k + 1:02d} về máy sấy"
        upd = api.send_text(sender, message)
        try:
            api.wait_for_message(receiver, contains=message, after=upd, timeout=90)
        except AssertionError:
            outcome.lost.append(message)
            continue
        sent += 1
        time.sleep(0.3)  # at a person's pace: the exchange goes on while the replica is killed
    return sent


def _settled(database_url: str, timeout: float = 90.0) -> int:
    """Wait until the shared outbox holds nothing undelivered; the rows sent by another sender than the one that
    first took them (a lease that ran out: the killed replica's)."""
    engine = create_engine(with_driver(database_url))
    try:
        deadline = time.monotonic() + timeout
        while True:
            with engine.connect() as connection:
                pending = connection.execute(text("SELECT count(*) FROM handoff_outbox WHERE NOT done")).scalar()
                if not pending or time.monotonic() > deadline:
                    return connection.execute(
                        text("SELECT count(*) FROM handoff_outbox WHERE sent_at IS NOT NULL AND attempts > 1")
                    ).scalar()
            time.sleep(0.2)
    finally:
        engine.dispose()


def _tally(api, outcome: Outcome, database_url: str, users: list[int], per_owner: int) -> None:
    """What each owner's question caused, told apart by the shared outbox rather than by timing: a reply row names
    its update ("<update id>:<n>") and every row the message Telegram made of it, so a message on the wire that
    no row recorded is a second send of a row, and a question none of whose rows reached Telegram is lost. The
    latency of a question: from its update to the first of its replies. Relayed texts: each exactly once in the
    receiver's chat."""
    rows = _outbox(database_url, users)
    for uid in users:
        received = api.messages(uid)
        mine = [r for r in rows if r["chat_id"] == uid]
        asked = outcome.asked[uid]
        row_of = {r["sent_message_id"]: r for r in mine if r["sent_message_id"] is not None}
        first: dict[int, float] = {}  # update id -> when its first reply arrived
        caused: Counter = Counter()  # (update id, text): one update's replies, each once
        for m in received:
            row = row_of.get(m["message_id"])
            if row is None:
                continue  # a second send of a row: counted below
            if row["origin"]:
                cause = int(row["origin"].split(":")[0])
            else:  # queued outside an answer (a handoff notice): the question asked last before it arrived
                before = [u for u in asked if api.injected_at(u) < m["received_at"]]
                if not before:
                    continue
                cause = before[-1]["update_id"]
            first[cause] = min(first.get(cause, m["received_at"]), m["received_at"])
            caused[cause, m["raw"] or ""] += 1
        for (cause, body), count in caused.items():
            if count > 1:  # queued twice for one update (two replicas handled it, both queued the text)
                outcome.duplicated.append(f"{uid}: {body[:40]!r} {count} times for update {cause}")
        for update in asked:
            if update["update_id"] in first:
                outcome.latencies.append(first[update["update_id"]] - api.injected_at(update))
            else:
                outcome.lost.append(f"{uid}: {update['message']['text']}")
        # Each row sent once is its parts once each (a long text goes as several messages).
        expected = Counter(part for r in mine if r["sent_message_id"] is not None for part in render.split(r["text"]))
        for body, count in Counter(m["raw"] or "" for m in received).items():
            if count <= expected[body]:
                continue
            twins = [(r["id"], r["origin"], r["attempts"]) for r in mine if body in r["text"]]
            line = f"{uid}: {body[:40]!r} {count} times, rows (id, origin, attempts) {twins or 'none: not queued'}"
            # Sent again once the killed replica's lease ran out: it was in flight when the process died
            # (Telegram may or may not have carried it out; the outbox counts it as a possible duplicate).
            (outcome.resent_after_kill if any(a > 1 for _, _, a in twins) else outcome.duplicated).append(line)
        if len(outcome.asked[uid]) < per_owner:
            outcome.lost.append(f"{uid}: {per_owner - len(outcome.asked[uid])} questions never asked")
    relays = _outbox(database_url, [RELAY_OWNER, CONSULTANT])
    for chat in (RELAY_OWNER, CONSULTANT):
        texts = [m["text"] or "" for m in api.messages(chat)]
        for line in {t for t in texts if "Tin nhắn trao đổi số" in t}:
            if texts.count(line) > 1:
                relayed = line[line.index("Tin nhắn trao đổi số") :]
                rows = [r for r in relays if r["chat_id"] == chat and relayed in (r["text"] or "")]
                # As for replies: one row sent again after the killed replica's lease ran out is the one allowed
                # exception; two rows for one relayed message, or a second send without a takeover, are not.
                taken_over = len(rows) == 1 and rows[0]["attempts"] > 1 and texts.count(line) == 2
                (outcome.resent_after_kill if taken_over else outcome.duplicated).append(
                    f"relay to {chat}: {line[:60]}, rows (id, attempts) {[(r['id'], r['attempts']) for r in rows]}"
                )


def _outbox(database_url: str, chats: list[int]) -> list[dict]:
    engine = create_engine(with_driver(database_url))
    try:
        with engine.connect() as connection:
            result = connection.execute(
                text(
                    "SELECT id, chat_id, origin, text, attempts, sent_message_id FROM handoff_outbox"
                    " WHERE method = 'send' AND chat_id >= :low AND chat_id <= :high"
                ),
                {"low": min(chats), "high": max(chats)},
            )
            return [dict(row._mapping) for row in result]
    finally:
        engine.dispose()
