"""Handoff latency through the fake Bot API, with the real `python -m bot run` process.

Measures, per round: the owner's /human -> the ticket card in the consultants' group, and a message in
either direction -> the relayed copy (time.monotonic() stamps of the fake server: update injected ->
request received). Rounds are paced so that the group stays under Telegram's 20 messages a minute,
which the bot's rate limiter enforces (with --pace 0 the limiter's waits show in the figures).

Run from the project root: .venv/bin/python -m benchmarks.bench_handoff [--rounds 10] [--pace 9]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.config import Settings
from indexer.embedding import offline_environment
from indexer.pipeline import Indexer
from tests.support.botapi import FakeBotAPI

ROOT = Path(__file__).resolve().parents[1]

OWNER, CONSULTANT, GROUP = 1001, 2001, -1001234567890


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def start_bot(root: Path) -> tuple[FakeBotAPI, subprocess.Popen]:
    kb, data = root / "knowledge", root / "data"
    shutil.copytree(ROOT / "tests/data/kb_sample", kb)
    data.mkdir(parents=True)
    (data / "models").symlink_to(ROOT / "data" / "models")  # the converted model, shared
    Indexer(Settings(_env_file=None, data_dir=data, knowledge_dir=kb)).refresh()
    api = FakeBotAPI()
    url = api.start()
    api.add_private_user(OWNER, first_name="Lan")
    api.add_private_user(CONSULTANT, first_name="Minh")
    api.add_group(GROUP, "Chuyên gia")
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": url,
        "DATA_DIR": str(data),
        "KNOWLEDGE_DIR": str(kb),
        "HF_HUB_OFFLINE": "1",
        "WEBHOOK_URL": "",
        "CONSULTANTS_CHAT_ID": str(GROUP),
        "WORKING_HOURS": "00:00-24:00",
        "WORKING_DAYS": "1-7",
        "LOG_LEVEL": "WARNING",
    }
    subprocess.run(
        [sys.executable, "-m", "bot", "consultants", "add", str(CONSULTANT), "--name", "Minh", "--topics", "ip"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    api.wait_for_call("getUpdates", timeout=120)
    return api, proc


def one_round(api: FakeBotAPI, n: int, first: bool) -> dict[str, float]:
    upd = api.send_command(OWNER, "/human")
    if first:  # the optional intake question, once per owner
        intake = api.wait_for_message(OWNER, contains="tên doanh nghiệp", after=upd, timeout=20)
        upd = api.send_text(OWNER, "Công ty Lúa Vàng, Thái Bình")
        assert intake
    card = api.wait_for_message(
        GROUP, contains="Yêu cầu #", after=upd, timeout=60, predicate=lambda r: bool(r["reply_markup"])
    )
    out = {"card": card["received_at"] - api.injected_at(upd)}
    tid = int(re.search(r"#(\d+)", card["text"]).group(1))
    api.press_button(CONSULTANT, card, callback_data=f"hc:{tid}")
    api.wait_for_message(OWNER, contains=f"đã nhận yêu cầu #{tid}", timeout=60)
    upd = api.send_text(CONSULTANT, f"Chuyên gia trả lời {n}")
    got = api.wait_for_message(OWNER, contains=f"Chuyên gia trả lời {n}", after=upd, timeout=30)
    out["consultant_to_owner"] = got["received_at"] - api.injected_at(upd)
    upd = api.send_text(OWNER, f"Chủ doanh nghiệp hỏi tiếp {n}")
    got = api.wait_for_message(CONSULTANT, contains=f"Chủ doanh nghiệp hỏi tiếp {n}", after=upd, timeout=30)
    out["owner_to_consultant"] = got["received_at"] - api.injected_at(upd)
    upd = api.send_command(CONSULTANT, "/close")
    api.wait_for_message(OWNER, contains="đánh giá", after=upd, timeout=30)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--pace", type=float, default=9.0, help="seconds per round (3 group messages each)")
    args = parser.parse_args()
    offline_environment()
    root = Path(tempfile.mkdtemp(prefix="bench-handoff-"))
    api, proc = start_bot(root)
    results: dict[str, list[float]] = {}
    try:
        for n in range(args.rounds):
            started = time.monotonic()
            for key, value in one_round(api, n, n == 0).items():
                results.setdefault(key, []).append(value * 1000)
            time.sleep(max(0.0, args.pace - (time.monotonic() - started)))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        api.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"handoff latency over {args.rounds} rounds (ms, fake Bot API on loopback, SQLite):")
    for key, values in results.items():
        print(
            f"  {key:<22} median {statistics.median(values):7.1f}   p90 {percentile(values, 90):7.1f}"
            f"   max {max(values):7.1f}"
        )


if __name__ == "__main__":
    main()
