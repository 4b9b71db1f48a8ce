"""`python -m bot run | chat | ask | eval | consultants | report | setup | warmup | start | health | answers | web`."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError

from bot import logs
from bot.config import SettingsError, load_settings
from indexer.pipeline import manifest_path

if TYPE_CHECKING:
    from bot.app import Services


def _ask(args, services: Services) -> int:
    from bot.answering.engine import format_sources
    from bot.answering.types import Turn

    engine = services.engine
    if args.batch:
        _prepare_caches(engine)
        with open(args.batch, encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                row_id = n
                try:
                    row = json.loads(line)
                    row_id = row.get("id", n) if isinstance(row, dict) else n
                    history = [Turn(t["role"], t["text"]) for t in row.get("history") or []]
                    answer = engine.answer(str(row["question"]), history)
                    out = answer.to_json(row_id)
                except (ValueError, KeyError, TypeError, AttributeError) as exc:
                    out = {"id": row_id, "error": f"bad input line {n}: {exc}"}
                except Exception as exc:  # one failing question must not cost the rest of the batch
                    logging.getLogger(__name__).exception("question on line %d failed", n)
                    out = {"id": row_id, "error": f"could not answer line {n}: {type(exc).__name__}"}
                print(json.dumps(out, ensure_ascii=False), flush=True)
        return 0
    if not args.question:
        print("error: give a question, or --batch FILE.jsonl", file=sys.stderr)
        return 2
    engine.on_demand_sentences = 10_000  # one question: embed just what it needs rather than the whole index
    cached = len(engine.sentences)
    answer = engine.answer(args.question)
    if len(engine.sentences) != cached:
        engine.sentences.save()  # the next question reuses them
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        print(answer.answer)
        if answer.sources:
            print("\nNguồn:" if answer.language == "vi" else "\nSources:")
            print(format_sources(answer.sources, answer.language))
    return 0


def _prepare_caches(engine) -> None:
    """Many questions: embed every sentence not cached yet first (once per index; saved under DATA_DIR), so
    the answers are the ones the running bot gives, not the ones it gives while its cache is filling."""
    if engine.missing_sentences():
        print("preparing the answer caches (once per index)…", file=sys.stderr, flush=True)
        engine.fill_sentence_cache()


def _eval(args, services: Services) -> int:
    from bot.answering.evaluation import evaluate_parts, render_kinds, render_table

    _prepare_caches(services.engine)
    try:
        report = evaluate_parts(services.engine, services.settings, Path(args.file), args.part)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        slim = {name: {k: v for k, v in r.items() if k != "rows"} for name, r in report["legacy"].items()}
        slim["by_kind"] = report["by_kind"]
        if args.rows:
            slim["rows"] = report["rows"]
        print(json.dumps(slim, ensure_ascii=False, indent=1))
    else:
        print(render_kinds(report))
        print(render_table(report["legacy"]))
        misses = [r for r in report["rows"] if not r["correct"]["engine"]]
        if misses and args.rows:
            print("engine misses:")
            for r in misses:
                print(" ", json.dumps(r, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description="SME innovation advisor bot.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the Telegram bot (polling, or webhook when WEBHOOK_URL is set)")
    sub.add_parser("chat", help="chat with the bot in this terminal")
    sub.add_parser("start", help="Telegram when a token is configured, the console chat otherwise")
    sub.add_parser("setup", help="prepare the data folder and the bundled embedding model")
    sub.add_parser("warmup", help="prepare the answer caches for the current index (run after indexer refresh)")
    ask = sub.add_parser("ask", help="answer one question, or a JSONL batch")
    ask.add_argument("question", nargs="?")
    ask.add_argument("--json", action="store_true")
    ask.add_argument("--batch", metavar="FILE.jsonl")
    ev = sub.add_parser("eval", help="evaluate the engine and two baselines on a JSONL question set")
    ev.add_argument("file")
    ev.add_argument("--json", action="store_true")
    ev.add_argument("--rows", action="store_true", help="also print per-question results")
    ev.add_argument("--part", choices=("tune", "test", "all"), help="part of a split set (default: each part)")
    cons = sub.add_parser("consultants", help="manage consultants")
    cons_sub = cons.add_subparsers(dest="action", required=True)
    add = cons_sub.add_parser("add")
    add.add_argument("telegram_id", type=int)
    add.add_argument("--name", required=True)
    add.add_argument(
        "--topics", default="other", help="comma-separated: ip, tech_transfer, process, funding, startup, other"
    )
    lst = cons_sub.add_parser("list")
    lst.add_argument("--json", action="store_true")
    rm = cons_sub.add_parser("remove")
    rm.add_argument("telegram_id", type=int)
    sub.add_parser("web", help="serve the staff web console (WEB_HOST:WEB_PORT; admins log in with /web)")
    hc = sub.add_parser("health", help="check the database, the vector store, the index and the outbox")
    hc.add_argument("--json", action="store_true")
    from bot.reports.cli import add_parser as add_report_parser

    add_report_parser(sub)
    from bot.needs.cli import add_parser as add_needs_parser

    add_needs_parser(sub)
    from bot.answers.cli import add_parser as add_answers_parser

    add_answers_parser(sub)
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    console = args.command == "chat" or (args.command == "start" and not settings.token)
    # Commands that print for a person or a script keep the terminal for that: warnings only.
    quiet = args.command in ("ask", "eval", "report", "needs", "health", "answers") or console
    logs.configure(settings, quiet=quiet)
    if args.command == "setup":
        from indexer.embedding import offline_environment, resolve_model_path

        offline_environment()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        print(f"embedding model ready: {resolve_model_path(settings)}")
        return 0
    if args.command in ("run", "start") and not console and not settings.token:
        print(
            "TELEGRAM_BOT_TOKEN is not set, so the Telegram bot cannot start.\n"
            "Set it in .env (see .env.example), or talk to the bot in this terminal with:\n"
            "  python -m bot chat",
            file=sys.stderr,
        )
        return 2
    needs_index = args.command in ("warmup", "ask", "eval", "run", "start")
    if needs_index and not manifest_path(settings).exists():
        print(
            "Chưa có chỉ mục tài liệu (no index yet): chạy trước / run first: python -m indexer refresh",
            file=sys.stderr,
        )
        return 2
    from bot.app import build_services

    try:
        services = build_services(settings, serving=args.command in ("run", "start") and not console)
    except SettingsError as exc:  # e.g. a broken NEEDS_RULES_FILE, named with its problems
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SQLAlchemyError as exc:  # the database is unreachable: that is what `health` reports
        if args.command != "health":
            raise
        from bot import health

        return health.run(args, health.check_without_services(settings, exc))
    if args.command == "health":
        from bot import health

        return health.run(args, health.check(services))
    if args.command == "warmup":
        engine = services.engine
        done = engine.fill_sentence_cache()
        print(f"answer caches ready: {len(engine.sentences)} sentence vectors ({done} new)")
        return 0
    if args.command == "ask":
        return _ask(args, services)
    if args.command == "eval":
        return _eval(args, services)
    if args.command == "needs":
        from bot.needs.cli import run as run_needs

        return run_needs(args, services)
    if args.command == "answers":
        from bot.answers.cli import run as run_answers

        return run_answers(args, services)
    if args.command == "report":
        from bot.reports.cli import run as run_report

        return run_report(args, services)
    if args.command == "consultants":
        from bot.consultants_cli import run as run_consultants

        return run_consultants(args, services)
    if args.command == "web":
        from bot.web.server import run_web

        return run_web(services)
    if console:
        from bot.console import run_console

        return run_console(services)
    from bot.telegram.runner import run_telegram

    return run_telegram(services)
