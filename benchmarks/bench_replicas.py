"""Two replicas as one bot: webhook mode behind a round-robin proxy, one PostgreSQL, one Chroma server, and one
replica killed with SIGKILL half-way (the scenario of tests/support/replicas.py, at full size).

Prints, for the owners' questions, p50/p95 from a question to its reply, and for everything (answers, the
consultant relay, the upload and its removal) what was lost or delivered twice.
Run from the project root: .venv/bin/python -m benchmarks.bench_replicas   (--sample: the small test documents
instead of knowledge/; PostgreSQL is started by the script, as the tests do)
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from tests.conftest import SAMPLE_KB
from tests.postgres import create_database, postgres_server
from tests.support import replicas

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--owners", type=int, default=40)
    parser.add_argument("--per-owner", type=int, default=5)
    parser.add_argument("--relay", type=int, default=30, help="messages between the owner and the consultant")
    parser.add_argument("--sample", action="store_true", help="the five test documents instead of knowledge/")
    args = parser.parse_args()
    with postgres_server() as server:
        if server is None:
            raise SystemExit("PostgreSQL is not installed: run scripts/setup.sh dev first")
        url = create_database(server, f"bench_replicas_{os.getpid()}")
        root = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
        knowledge = SAMPLE_KB if args.sample else ROOT / "knowledge"
        outcome = replicas.run(root, url, args.owners, args.per_owner, args.relay, knowledge=knowledge)
    questions = args.owners * args.per_owner
    print(
        f"2 replicas (webhook, round-robin proxy, PostgreSQL, Chroma server); {args.owners} owners x "
        f"{args.per_owner} questions, think time 0; a relay of {args.relay} messages; an upload and its removal"
    )
    print(f"replica 1 killed (SIGKILL) after {outcome.killed_after} of {questions} answers")
    print(f"webhook posts answered by each replica: {outcome.served_by_each}")
    lat = outcome.latencies
    print(f"question -> reply: p50 {statistics.median(lat):.2f} s, p95 {outcome.p95():.2f} s, max {max(lat):.2f} s")
    print(f"answered {len(lat)}/{questions}; relayed {outcome.relayed}/{args.relay}")
    print(f"lost: {len(outcome.lost)} {outcome.lost[:3]}")
    print(f"duplicated: {len(outcome.duplicated)} {outcome.duplicated[:3]}")
    print(
        f"sent again after the killed replica's lease ran out: {outcome.taken_over} outbox rows, of which "
        f"{len(outcome.resent_after_kill)} had reached Telegram before the kill {outcome.resent_after_kill[:3]}"
    )
    cited = sum(replicas.UPLOAD_TITLE in r for r in outcome.upload_answers)
    print(f"upload cited in {cited}/{len(outcome.upload_answers)} answers just after it was sent")
    stale = sum(replicas.UPLOAD_TITLE in r for r in outcome.after_removal)
    print(f"removed document cited in {stale}/{len(outcome.after_removal)} answers after its removal")


if __name__ == "__main__":
    main()
