"""Shared set-up for tests that run the bot: an indexed copy of the sample knowledge base, the bot's env."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from bot.config import Settings
from indexer.pipeline import Indexer
from tests.conftest import ROOT, SAMPLE_KB


def indexed_sample(root: Path, embedder) -> tuple[Path, Path]:
    """Copy the sample knowledge base under `root`, index it, share the converted model; (kb, data)."""
    kb, data = root / "knowledge", root / "data"
    shutil.copytree(SAMPLE_KB, kb)
    Indexer(Settings(_env_file=None, data_dir=data, knowledge_dir=kb), embedder_factory=lambda: embedder).refresh()
    (data / "models").symlink_to(ROOT / "data" / "models")
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
