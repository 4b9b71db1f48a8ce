"""`python -m bot consultants add TELEGRAM_ID --name NAME --topics ip,process | list [--json] | remove TELEGRAM_ID`."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import Services


def run(args, services: Services) -> int:
    svc = services.handoff
    if args.action == "add":
        try:
            info = svc.consultants.add(args.telegram_id, args.name, args.topics)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"consultant {info.telegram_id} ({info.name}) registered for: {', '.join(info.topics)}")
        return 0
    if args.action == "list":
        rows = svc.consultants.list()
        if args.json:
            print(json.dumps([c.to_json() for c in rows], ensure_ascii=False))
        elif not rows:
            print(
                "no consultants registered; add one with: python -m bot consultants add TELEGRAM_ID --name NAME "
                "--topics ip,process"
            )
        else:
            width = max(len(str(c.telegram_id)) for c in rows)
            for c in rows:
                print(f"{c.telegram_id:>{width}}  {c.name}  [{', '.join(c.topics)}]")
        return 0
    if svc.remove_consultant(args.telegram_id):
        print(f"consultant {args.telegram_id} removed; their open conversations went back to the queue")
        return 0
    print(f"error: no consultant with id {args.telegram_id}", file=sys.stderr)
    return 1
