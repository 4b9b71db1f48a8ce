"""50 simulated users, 5 questions each, all at once, through the fake Bot API against the real bot process.

Prints p50/p95 time from a user's message to the bot's reply, replies lost, and the bot's peak RSS.
Run from the project root: .venv/bin/python -m benchmarks.bench_bot   (needs `python -m indexer refresh` first)
Each user waits for the answer, reads it for THINK seconds (random 1-3 s by default; --think 0 for a flood),
then asks the next question. The bot sends at most TELEGRAM_MESSAGES_PER_SECOND (default 30, Telegram's own
limit) messages a second: in a flood that, not the answering, sets the pace (50 users / 30 per s ≈ 1.7 s).
"""

from __future__ import annotations

import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.support.botapi import FakeBotAPI

ROOT = Path(__file__).resolve().parents[1]

USERS = 50
QUESTIONS = 5
THREADS = {"OMP_NUM_THREADS": os.environ["BENCH_OMP"]} if os.environ.get("BENCH_OMP") else {}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    import argparse
    import random

    parser = argparse.ArgumentParser()
    parser.add_argument("--think", type=float, default=2.0, help="mean seconds a user reads before asking again")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="skip `python -m bot warmup`: start with no cached sentence vectors for English answers",
    )
    args = parser.parse_args()
    rng = random.Random(1)
    rows = [json.loads(line) for line in (ROOT / "tests/data/qa_dev.jsonl").read_text().splitlines() if line.strip()]
    questions = [r["question"] for r in rows if r.get("doc_ids") and not r.get("history")]
    api = FakeBotAPI()
    url = api.start()
    work = Path(tempfile.mkdtemp(prefix="bench-bot-"))
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_API_URL": url,
        "HF_HUB_OFFLINE": "1",
        "DATABASE_URL": f"sqlite:///{work / 'bot.sqlite3'}",
        "WEBHOOK_URL": "",
        "LLM_PROVIDER": "",
        "RATE_LIMIT_PER_MINUTE": "10000",  # the per-user limit out of the way: 5 questions in seconds
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "WARNING"),
        **THREADS,
    }
    if args.cold:  # the same index and model, an empty cache folder
        data = Path(env.get("DATA_DIR") or ROOT / "data").resolve()
        (work / "data").mkdir()
        for name in ("index", "models"):
            (work / "data" / name).symlink_to(data / name)
        env["DATA_DIR"] = str(work / "data")
    if not args.cold:  # as scripts/run.sh does after indexing; --cold: the bot fills it while users ask
        subprocess.run(
            [sys.executable, "-m", "bot", "warmup"],
            cwd=ROOT,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(os.environ.get("BENCH_BOT_LOG", os.devnull), "w"),  # noqa: SIM115
    )
    latencies: list[float] = []
    by_round: dict[int, list[float]] = {n: [] for n in range(QUESTIONS)}
    lost = 0
    lock = threading.Lock()
    try:
        api.wait_for_call("getUpdates", timeout=120)
        inbox: dict[int, queue.Queue] = {}
        for uid in range(USERS):
            api.add_private_user(10_000 + uid, first_name=f"User {uid}")
            inbox[10_000 + uid] = queue.Queue()
        # Each user's thread sleeps on its own queue: with wait_for_message all 50 would wake on every call.
        api.add_message_listener(lambda r: r["from_bot"] and r["chat_id"] in inbox and inbox[r["chat_id"]].put(r))

        def user(uid: int) -> None:
            nonlocal lost
            for n in range(QUESTIONS):
                if n and args.think:
                    time.sleep(rng.uniform(0.5 * args.think, 1.5 * args.think))
                mine = inbox[10_000 + uid]
                while not mine.empty():  # the rest of a previous answer split over several messages
                    mine.get_nowait()
                update = api.send_text(10_000 + uid, questions[(uid * QUESTIONS + n) % len(questions)])
                sent = api.injected_at(update)
                try:
                    reply = mine.get(timeout=60)
                    while reply["received_at"] < sent:
                        reply = mine.get(timeout=60)
                    with lock:
                        latencies.append(reply["received_at"] - sent)
                        by_round[n].append(latencies[-1])
                except queue.Empty:
                    with lock:
                        lost += 1

        started = time.perf_counter()
        cpu_before = cpu_seconds(proc.pid)
        harness_before = time.process_time()
        threads = [threading.Thread(target=user, args=(uid,)) for uid in range(USERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        rss = peak_rss_mb(proc.pid)
        bot_cpu = cpu_seconds(proc.pid) - cpu_before
        harness_cpu = time.process_time() - harness_before
        errors = [f"{c['method']}: {c.get('description')}" for c in api.errors()]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        api.stop()
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))] if latencies else float("nan")
    limit = os.environ.get("TELEGRAM_MESSAGES_PER_SECOND", "30")
    print(
        f"{USERS} users x {QUESTIONS} questions in {elapsed:.1f} s (think time ~{args.think:g} s; "
        f"the bot sends at most {limit} messages/s, Telegram's limit)"
    )
    print(f"message -> reply: p50 {statistics.median(latencies):.2f} s, p95 {p95:.2f} s")
    print(
        "by round (p50/p95 s): "
        + ", ".join(
            f"{n + 1}: {statistics.median(v):.2f}/{sorted(v)[int(0.95 * (len(v) - 1))]:.2f}"
            for n, v in by_round.items()
            if v
        )
    )
    print(f"replies lost: {lost}; Bot API errors: {len(errors)} {errors[:3]}")
    print(
        f"bot peak RSS: {rss:.0f} MB; bot CPU {bot_cpu:.1f} s ({1000 * bot_cpu / (USERS * QUESTIONS):.0f} ms/question); "
        f"fake Bot API and users CPU {harness_cpu:.1f} s"
    )


if __name__ == "__main__":
    main()
