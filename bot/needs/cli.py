"""`python -m bot needs list [--json] | export --xlsx FILE [--from D --to D] [--raw] | stats [--json] [--chart PNG]
| match [--json] [--lang en] < PROFILE.json`."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.reports.cli import date_argument

if TYPE_CHECKING:
    from bot.app import Services


def add_parser(sub) -> None:
    """Register the `needs` subcommand on the bot's argument parser."""
    needs = sub.add_parser("needs", help="the technology-needs database: profiles, export, statistics, matching")
    kinds = needs.add_subparsers(dest="needs", required=True)
    lst = kinds.add_parser("list", help="submitted profiles (and drafts)")
    lst.add_argument("--json", action="store_true")
    export = kinds.add_parser("export", help="profiles and notes as an XLSX workbook")
    export.add_argument("--xlsx", required=True, metavar="FILE")
    export.add_argument("--from", dest="start", type=date_argument, metavar="YYYY-MM-DD")
    export.add_argument("--to", dest="end", type=date_argument, metavar="YYYY-MM-DD")
    export.add_argument("--raw", action="store_true", help="real Telegram ids, names and contacts")
    stats = kinds.add_parser("stats", help="counts by province, sector, need, size and status")
    stats.add_argument("--json", action="store_true")
    stats.add_argument("--chart", metavar="FILE.png", help="also draw the chart")
    match = kinds.add_parser("match", help="the programmes a profile (JSON on standard input) may qualify for")
    match.add_argument("--json", action="store_true")
    match.add_argument("--lang", choices=("vi", "en"), default="vi")


def run(args, services: Services) -> int:
    needs = services.needs
    if args.needs == "match":
        return _match(args, services)
    if args.needs == "list":
        records = needs.records()
        if args.json:
            print(json.dumps([_listed(r) for r in records], ensure_ascii=False, indent=1))
        else:
            for r in records:
                p = r.profile
                print(
                    f"#{r.id}\t{r.status}\t{p.company or '-'}\t{p.province or '-'}\t{p.sector or '-'}\t"
                    f"{r.size_class}\t{','.join(p.needs)}"
                )
            print(f"{len(records)} profile(s)", file=sys.stderr)
        return 0
    if args.needs == "stats":
        from bot.needs import stats

        figures = stats.compute(needs.records())
        if args.json:
            print(json.dumps(figures.to_json(), ensure_ascii=False, indent=1))
        else:
            print(_plain(stats.render_text(figures)))
        if args.chart:
            _write(args.chart, stats.render_png(figures))
        return 0
    return _export(args, services)


def _match(args, services: Services) -> int:
    from bot.needs.profile import Profile, ProfileError
    from bot.needs.render import matches

    try:
        profile = Profile.from_json(json.loads(sys.stdin.read() or "null"))
    except (json.JSONDecodeError, ProfileError) as exc:
        print(f"error: not a profile: {exc}", file=sys.stderr)
        return 2
    found = services.needs.match(profile, args.lang)
    if args.json:
        print(json.dumps(found.to_json(), ensure_ascii=False))
    else:
        print(_plain(matches(found, args.lang)))
    return 0


def _export(args, services: Services) -> int:
    from bot.needs.export import workbook
    from bot.reports.data import Period

    since = until = None
    if args.start or args.end:
        try:
            period = Period.between(
                args.start or dt.date(2000, 1, 1), args.end or dt.date.today(), services.settings.timezone
            )
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        since, until = period.since, period.until
    records = services.needs.records(since, until)
    _write(args.xlsx, workbook(services.needs, records, raw=args.raw))
    print(f"{len(records)} profile(s)", file=sys.stderr)
    return 0


def _listed(r) -> dict:
    p = r.profile.to_json()
    if not r.profile.consent_contact:
        p["contact"] = ""  # the owner did not agree to be contacted
    return {
        "id": r.id,
        "workflow_status": r.status,  # new | contacted | matched | done (draft: not submitted); `status` is the text
        "size_class": r.size_class,
        "topic": r.topic,
        "submitted_at": r.submitted_at.isoformat() if r.submitted_at else None,
        "updated_at": r.updated_at.isoformat() if r.updated_at else None,
        **p,
    }


def _plain(html_text: str) -> str:
    import html
    import re

    return html.unescape(re.sub(r"</?[a-z]+[^>]*>", "", html_text))


def _write(path: str, content: bytes) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    print(f"wrote {target}", file=sys.stderr)
