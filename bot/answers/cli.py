"""`python -m bot answers list [--json] [--status S] | show ID [--json] | retire ID | export DIR`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.answers.models import STATUSES
from bot.answers.service import AnswerError, AnswerRecord

if TYPE_CHECKING:
    from bot.app import Services


def add_parser(sub) -> None:
    """Register the `answers` subcommand on the bot's argument parser."""
    answers = sub.add_parser("answers", help="curated answers approved by consultants and staff")
    actions = answers.add_subparsers(dest="answers", required=True)
    lst = actions.add_parser("list", help="every answer, newest change first")
    lst.add_argument("--json", action="store_true")
    lst.add_argument("--status", choices=STATUSES)
    show = actions.add_parser("show", help="one answer in full")
    show.add_argument("id", help="a number or answer-NUMBER")
    show.add_argument("--json", action="store_true")
    retire = actions.add_parser("retire", help="an approved answer stops answering at once")
    retire.add_argument("id", help="a number or answer-NUMBER")
    export = actions.add_parser("export", help="approved answers as Markdown documents (knowledge folder format)")
    export.add_argument("dir", metavar="DIR")


def run(args, services: Services) -> int:
    answers = services.answers
    try:
        if args.answers == "list":
            records = answers.list(args.status)
            if args.json:
                print(json.dumps([r.to_json() for r in records], ensure_ascii=False, indent=1))
            else:
                for r in records:
                    print(_line(r))
                print(f"{len(records)} answer(s)", file=sys.stderr)
            return 0
        if args.answers == "show":
            record = answers.get(args.id)
            if record is None:
                print(f"error: no answer {args.id}", file=sys.stderr)
                return 1
            if args.json:
                print(json.dumps(record.to_json(), ensure_ascii=False, indent=1))
            else:
                print(_full(record))
            return 0
        if args.answers == "retire":
            record = answers.retire(args.id)
            print(f"{record.doc_id} retired: it no longer answers")
            return 0
        from bot.answers.export import export

        written = export(answers.list("approved"), Path(args.dir))
        for path in written:
            print(path)
        print(f"{len(written)} answer(s) exported", file=sys.stderr)
        return 0
    except AnswerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _state(r: AnswerRecord) -> str:
    return "stale" if r.stale() else r.status


def _line(r: AnswerRecord) -> str:
    review = r.review_on.isoformat() if r.review_on else "-"
    question = " ".join(r.question.split()) or "(no question)"
    return f"{r.doc_id}\t{_state(r)}\t{r.topic}\treview {review}\t{question}"


def _full(r: AnswerRecord) -> str:
    lines = [
        f"{r.doc_id} · {_state(r)} · {r.topic} · from {r.origin}"
        + (f" (ticket #{r.ticket_id})" if r.ticket_id else ""),
        f"question: {r.question}",
        f"answer: {r.answer}",
    ]
    if r.legal_basis:
        lines.append(f"legal basis: {r.legal_basis}")
    if r.proposed_by or r.proposed_by_name:
        lines.append(f"proposed by: {r.proposed_by_name or r.proposed_by} on {r.created_at:%Y-%m-%d}")
    if r.approved_at:
        lines.append(f"approved by: {r.approved_by_name or r.approved_by} on {r.approved_at:%Y-%m-%d}")
    if r.review_on:
        lines.append(f"review on: {r.review_on.isoformat()}")
    if r.closed_at:
        lines.append(f"{r.status} by {r.closed_by or '-'} on {r.closed_at:%Y-%m-%d}")
    return "\n".join(lines)
