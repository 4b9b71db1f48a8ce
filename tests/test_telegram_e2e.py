"""The real `python -m bot run` process against the fake Bot API: polling, webhook, and on PostgreSQL."""

import contextlib
import json
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ROOT, postgres_database
from tests.support.botapi import FakeBotAPI
from tests.support.chroma_server import chroma_server, index_into
from tests.workspace import bot_env, free_port, indexed_sample, listening, stop_bot, webhook_settings

pytestmark = pytest.mark.slow
OWNER = 1001


@pytest.fixture(scope="module", params=["polling", "webhook", "postgresql", "servers"])
def bot(request, tmp_path_factory, embedder):
    """The bot process: polling or webhook on SQLite and embedded Chroma; polling on PostgreSQL (DATABASE_URL);
    and polling on PostgreSQL with a real Chroma server (CHROMA_HOST), the production layout."""
    with contextlib.ExitStack() as stack:
        yield from _bot(request, tmp_path_factory, embedder, stack)


def _bot(request, tmp_path_factory, embedder, stack):
    database = postgres_database(request) if request.param in ("postgresql", "servers") else ""
    root = tmp_path_factory.mktemp("tg")
    kb, data = indexed_sample(root, embedder)
    api = FakeBotAPI()
    url = api.start()
    api.add_private_user(OWNER, first_name="Lan")
    env = bot_env(api, url, kb, data, DATABASE_URL=database)
    if request.param == "servers":
        host, port = stack.enter_context(chroma_server(root))
        env.update(CHROMA_HOST=host, CHROMA_PORT=str(port))
        index_into(env)  # the same documents, now in the server
    if request.param == "webhook":
        port = free_port()
        env.update(webhook_settings(port), LOG_FORMAT="json")  # JSON: what a log collector in front reads
    log_path = data / "bot.log"
    with open(log_path, "w") as log:  # a file, not a pipe nobody reads (a full pipe would stall the bot)
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True
        )
    api.log_path, api.log_format = log_path, env.get("LOG_FORMAT", "text")
    try:
        api.wait_for_call("setWebhook" if request.param == "webhook" else "getUpdates", timeout=240)
        if request.param == "webhook":
            hook = env["WEBHOOK_URL"]
            deadline = time.monotonic() + 30
            while not listening(int(env["WEBHOOK_PORT"])) and time.monotonic() < deadline:
                time.sleep(0.2)
            refused = httpx.post(hook, json={"update_id": 1}, headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"})
            assert refused.status_code == 403
        yield api
    finally:
        stop_bot(proc)
        api.stop()


def test_conversation(bot):
    api = bot
    upd = api.send_command(OWNER, "/start")
    welcome = api.wait_for_message(OWNER, contains="Trung tâm", after=upd, timeout=30)
    assert api.buttons(welcome)

    upd = api.send_text(OWNER, "nhan hieu duoc bao ho bao lau")
    answer = api.wait_for_message(OWNER, contains="10 năm", after=upd, timeout=30)
    labels = [text for text, _ in api.buttons(answer)]
    assert any("chuyên gia" in label for label in labels) and "[1]" in answer["text"]

    upd = api.send_text(OWNER, "còn sáng chế thì sao?")
    api.wait_for_message(OWNER, contains="20 năm", after=upd, timeout=30)

    qid = api.press_button(OWNER, answer, callback_data=api.buttons(answer)[0][1])
    api.wait_for_callback_answer(qid, timeout=15)

    upd = api.send_command(OWNER, "/new")
    api.wait_for_message(OWNER, contains="mới", after=upd, timeout=15)

    upd = api.send_sticker(OWNER)
    api.wait_for_message(OWNER, contains="chữ", after=upd, timeout=15)

    upd = api.send_text(OWNER, "nhãn hiệu " * 1100)
    api.wait_for_message(OWNER, contains="dài", after=upd, timeout=30)

    upd = api.send_command(OWNER, "/forget")
    confirm = api.wait_for_message(OWNER, contains="xoá", after=upd, timeout=15)
    qid = api.press_button(OWNER, confirm, callback_data="forget:yes")
    api.wait_for_edit(OWNER, confirm["message_id"], contains="Đã xoá", timeout=15)
    assert api.errors() == []
    if api.log_format == "json":
        _check_json_log(api.log_path.read_text(encoding="utf-8"))


def _check_json_log(log: str) -> None:
    """Every line one JSON object; the lines of an owner's update name it and the owner, pseudonymised; no
    message text and no Telegram id in clear."""
    lines = [json.loads(line) for line in log.splitlines() if line.strip()]
    answered = [line for line in lines if line["message"].startswith("answered ")]
    assert answered and all(line["update_id"] and line["user"].startswith("u_") for line in answered)
    assert str(OWNER) not in log and "nhan hieu duoc bao ho" not in log
