"""Webhook mode, a replica killed while handling an update: Telegram delivers it again and it is answered once.

The bot answers Telegram's post only once the update has been handled, so the update the killed process had
taken is still pending at Telegram; the next process (or another replica) gets it. Handled updates are
recorded, so one whose answer to Telegram was lost is not handled twice.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from tests.support.botapi import FakeBotAPI
from tests.workspace import BotProcess, bot_env, free_port, indexed_sample, webhook_settings

pytestmark = pytest.mark.slow
OWNER = 1201


def test_an_update_a_killed_replica_was_handling_is_answered_by_the_next(tmp_path, embedder):
    kb, data = indexed_sample(tmp_path, embedder)
    api = FakeBotAPI()
    url = api.start()
    api.webhook_retry_delay = 0.5
    api.add_private_user(OWNER, first_name="Lan")
    port = free_port()
    env = bot_env(api, url, kb, data, **webhook_settings(port))
    first = BotProcess(api, env, tmp_path / "bot1.log")
    second = BotProcess(api, env, tmp_path / "bot2.log")
    try:
        first.start()
        upd = api.send_command(OWNER, "/help")  # the process works, and the owner exists in its database
        api.wait_for_message(OWNER, contains="Cách dùng", after=upd, timeout=30)
        # Handled through to the end (recorded, then answered to Telegram): nothing of it is left to redo.
        api.wait_until(lambda: api.update_times(upd).get("confirmed_at"), timeout=15, message="/help confirmed")
        db = Path(data) / "bot.sqlite3"
        with closing(sqlite3.connect(db, timeout=30, isolation_level=None)) as conn:
            conn.execute("BEGIN EXCLUSIVE")  # the question cannot be stored: the process is stuck on it
            question = api.send_text(OWNER, "nhan hieu duoc bao ho bao lau")
            time.sleep(3)
            first.stop(kill=True)  # SIGKILL while it handles the update
            conn.execute("COMMIT")
        assert not [m for m in api.messages(OWNER) if m["received_at"] > api.injected_at(question)]
        second.start()
        api.wait_for_message(OWNER, contains="10 năm", after=question, timeout=60)
        time.sleep(2)  # anything sent twice would be here by now
        answers = [m for m in api.messages(OWNER) if m["received_at"] > api.injected_at(question)]
        assert len(answers) == 1, [m["text"][:60] for m in answers]
    finally:
        first.stop()
        second.stop()
        api.stop()
        for name in ("bot1.log", "bot2.log"):
            print(f"\n--- {name} (tail) ---\n" + (tmp_path / name).read_text()[-2000:])
