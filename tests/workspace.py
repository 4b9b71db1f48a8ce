"""Shared set-up for tests that run the bot: an indexed copy of the sample knowledge base, the bot's env."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from bot.answering.intents import IntentClassifier
from bot.config import Settings
from indexer.pipeline import Indexer
from tests.conftest import ROOT, SAMPLE_KB


def free_port() -> int:
    """A TCP port on loopback nobody listens on, for a server a test starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


WEBHOOK_SECRET = "s3cret-token"


def webhook_settings(port: int) -> dict[str, str]:
    """The bot's settings for webhook mode on a loopback port, path /tg-hook, with WEBHOOK_SECRET."""
    return {
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/tg-hook",
        "WEBHOOK_LISTEN": "127.0.0.1",
        "WEBHOOK_PORT": str(port),
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
    }


def indexed_sample(root: Path, embedder) -> tuple[Path, Path]:
    """Copy the sample knowledge base under `root`, index it, share the converted model; (kb, data)."""
    kb, data = root / "knowledge", root / "data"
    shutil.copytree(SAMPLE_KB, kb)
    Indexer(Settings(_env_file=None, data_dir=data, knowledge_dir=kb), embedder_factory=lambda: embedder).refresh()
    (data / "models").symlink_to(ROOT / "data" / "models")
    # The intent model too, as `python -m bot warmup` leaves it: else every bot process the tests start trains it
    # anew on one thread per pass (over a minute on a slow machine) before it serves.
    IntentClassifier.load_or_train(embedder, data / "cache")
    return kb, data


def bot_env(api, url: str, kb: Path, data: Path, **settings: str) -> dict[str, str]:
    """Environment for `python -m bot run` against the fake Bot API, offline."""
    return {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": url,
        "DATA_DIR": str(data),
        "KNOWLEDGE_DIR": str(kb),
        "HF_HUB_OFFLINE": "1",
        "WEBHOOK_URL": "",
        "CONSULTANTS_CHAT_ID": "",
        **settings,
    }


def stop_bot(proc: subprocess.Popen, kill: bool = False) -> None:
    """End a bot process: politely (SIGTERM, SIGKILL after 20 s), or at once with `kill` (a crash)."""
    if kill:
        proc.send_signal(signal.SIGKILL)
    else:
        proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    # A pipe left open is a ResourceWarning, and warnings are errors in this suite.
    if proc.stdout is not None:
        proc.stdout.close()


def listening(port: int) -> bool:
    """Something accepts connections on this loopback port (a webhook server that is up)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


class BotProcess:
    """The real bot process (`python -m bot run`); start() waits until it polls, stop() ends or kills it."""

    def __init__(self, api, env: dict, log_path: Path) -> None:
        self.api, self.env, self.log_path, self.proc = api, env, log_path, None

    def start(self) -> None:
        since = time.monotonic()
        self.launch()
        self.wait_ready(since)

    def launch(self) -> None:
        """Start the process without waiting (several replicas load the model at the same time)."""
        with open(self.log_path, "a") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )

    def wait_ready(self, since: float) -> None:
        """Wait until this process (launched after `since`) polls, or set its webhook."""
        try:
            ready = "setWebhook" if self.env.get("WEBHOOK_URL") else "getUpdates"  # polling, or the webhook set
            self.api.wait_until(
                lambda: any(c["at"] > since for c in self.api.calls_to(ready)),
                timeout=240,
                message=f"the bot to call {ready}",
            )
            if self.env.get("WEBHOOK_URL"):  # another replica's setWebhook does not say this one listens
                deadline = time.monotonic() + 240
                while not listening(int(self.env["WEBHOOK_PORT"])):
                    assert self.proc.poll() is None and time.monotonic() < deadline, "the bot did not listen"
                    time.sleep(0.2)
        except BaseException:
            self.stop()  # a bot that never came up must not outlive the test
            raise

    def stop(self, kill: bool = False) -> None:
        if self.proc is not None:
            stop_bot(self.proc, kill)
            self.proc = None


def add_consultant(env: dict, user_id: int, name: str, topics: str) -> None:
    """Register a consultant through the real command line (`python -m bot consultants add`)."""
    added = subprocess.run(
        [sys.executable, "-m", "bot", "consultants", "add", str(user_id), "--name", name, "--topics", topics],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert added.returncode == 0, added.stderr


@contextlib.contextmanager
def running_bot(api, env: dict, log_path: Path):
    """The bot process for a module's tests; on the way out it stops, with the fake, and prints its log's tail."""
    bot = BotProcess(api, env, log_path)
    bot.start()
    try:
        yield bot
    finally:
        bot.stop()
        api.stop()
        print("\n--- bot log (tail) ---\n" + log_path.read_text()[-3000:])
