"""`python -m bot report gaps [--csv FILE] | stats [--csv FILE] | export --from D --to D [--raw] --out DIR`."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.app import Services


def date_argument(text: str) -> dt.date:
    """An argparse type for YYYY-MM-DD dates (the reports' and the needs export's --from/--to)."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from exc


def add_parser(sub) -> None:
    """Register the `report` subcommand on the bot's argument parser."""
    from bot.reports.gaps import THRESHOLD

    report = sub.add_parser("report", help="staff reports: knowledge gaps, statistics, CSV export")
    kinds = report.add_subparsers(dest="report", required=True)
    gaps = kinds.add_parser("gaps", help="questions the bot could not serve, grouped by similarity")
    gaps.add_argument("--csv", metavar="FILE", help="also write every gap question with its group")
    gaps.add_argument("--days", type=int, default=90, help="how many days back (default 90)")
    gaps.add_argument("--threshold", type=float, default=THRESHOLD, help="similarity to group questions")
    stats = kinds.add_parser("stats", help="questions, answered vs abstained, handoffs, ratings, 👍/👎")
    stats.add_argument("--csv", metavar="FILE", help="also write the figures per day")
    stats.add_argument("--days", type=int, default=30, help="how many days back (default 30)")
    stats.add_argument("--chart", metavar="FILE.png", help="also draw the daily chart")
    export = kinds.add_parser("export", help="conversations and tickets of a date range as CSV")
    export.add_argument("--from", dest="start", type=date_argument, required=True, metavar="YYYY-MM-DD")
    export.add_argument("--to", dest="end", type=date_argument, required=True, metavar="YYYY-MM-DD")
    export.add_argument("--raw", action="store_true", help="real Telegram ids instead of pseudonyms")
    export.add_argument("--out", required=True, metavar="DIR", help="folder for the CSV files")


def _write(path: str, content: bytes) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    print(f"wrote {target}", file=sys.stderr)


def run(args, services: Services) -> int:
    from bot.reports import chart, export, gaps, stats
    from bot.reports.data import Period

    settings, store = services.settings, services.store
    if args.report == "gaps":
        period = Period.last_days(args.days, settings.timezone)
        groups = gaps.find_gaps(store, gaps.query_embedder(lambda: services.engine), period, threshold=args.threshold)
        print(gaps.render_text(groups, period.tz))
        if args.csv:
            _write(args.csv, gaps.to_csv(groups, period.tz))
        return 0
    if args.report == "stats":
        figures = stats.compute(store, Period.last_days(args.days, settings.timezone))
        print(stats.render_text(figures))
        if args.csv:
            _write(args.csv, stats.to_csv(figures))
        if args.chart:
            _write(args.chart, chart.render_png(figures))
        return 0
    try:
        period = Period.between(args.start, args.end, settings.timezone)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for name, content in export.export(store, settings, period, raw=args.raw).items():
        _write(str(Path(args.out) / name), content)
    return 0
