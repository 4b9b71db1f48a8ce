"""XLSX export of the needs database (openpyxl): profiles, consultants' notes and, when raw, every answer.

User ids are pseudonymised with the reports' key (the same pseudonym as in the CSV exports), names and
contacts left out, unless an admin asks for `raw`.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any
from zoneinfo import ZoneInfo

from bot.needs.service import NeedsService, Record
from bot.reports.export import pseudonymiser

PROFILE_COLUMNS = (
    "id",
    "workflow_status",
    "created_at",
    "submitted_at",
    "updated_at",
    "user",
    "user_name",
    "language",
    "company",
    "province",
    "sector",
    "employees",
    "employees_range",
    "revenue_billion_vnd",
    "revenue_range",
    "capital_billion_vnd",
    "capital_range",
    "size_class",
    "tech_status",
    "needs",
    "status",
    "urgency",
    "contact",
    "consent_contact",
    "consent_share",
    "consent_at",
    "topic",
    "ticket_id",
    "programmes",
    "notes",
)
NOTE_COLUMNS = ("profile_id", "time", "author", "author_id", "workflow_status", "text")
ANSWER_COLUMNS = ("profile_id", "time", "step", "kind", "raw", "value")


def workbook(service: NeedsService, records: list[Record], raw: bool = False) -> bytes:
    """The XLSX bytes for `records`."""
    from openpyxl import Workbook

    tz = ZoneInfo(service.settings.timezone)
    pseudonym = None if raw else pseudonymiser(service.settings)
    book = Workbook()
    sheet = book.active
    sheet.title = "profiles"
    _rows(sheet, PROFILE_COLUMNS, [_profile_row(service, r, tz, pseudonym) for r in records])
    notes = [
        [r.id, _local(n["time"], tz), n["author"], n["author_id"], n["status"], _scrub(n["text"], r, pseudonym)]
        for r in records
        for n in r.notes
    ]
    _rows(book.create_sheet("notes"), NOTE_COLUMNS, notes)
    if raw:  # answers as typed hold names and phone numbers: only in the raw export
        answers = service.answers([r.id for r in records])
        rows = [[a["profile_id"], _local(a["time"], tz), a["step"], a["kind"], a["raw"], a["value"]] for a in answers]
        _rows(book.create_sheet("answers"), ANSWER_COLUMNS, rows)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _profile_row(service: NeedsService, r: Record, tz, pseudonym) -> list[Any]:
    p = r.profile
    programmes = [m["name"] for m in service.match(p).programmes] if r.submitted_at else []
    return [
        r.id,
        r.status,
        _local(r.created_at, tz),
        _local(r.submitted_at, tz),
        _local(r.updated_at, tz),
        pseudonym(r.user_id) if pseudonym else r.user_id,
        "" if pseudonym else r.user_name,
        r.language,
        p.company,
        p.province,
        p.sector,
        p.employees,
        p.employees_range,
        p.revenue_billion_vnd,
        p.revenue_range,
        p.capital_billion_vnd,
        p.capital_range,
        r.size_class if r.submitted_at else "",
        ", ".join(p.tech_status),
        ", ".join(p.needs),
        _scrub(p.status, r, pseudonym),
        p.urgency,
        "" if pseudonym else p.contact,
        p.consent_contact,
        p.consent_share,
        _local(r.consent_at, tz),
        r.topic,
        r.ticket_id,
        "; ".join(programmes),
        len(r.notes),
    ]


def _scrub(text: str, r: Record, pseudonym) -> str:
    """Free text may repeat the owner's name, contact or id: hidden in the pseudonymised export."""
    if not pseudonym or not text:
        return text or ""
    for value in (r.user_name, r.profile.contact):
        if value and len(value.strip()) >= 3:
            text = text.replace(value.strip(), "[…]")
    return text.replace(str(r.user_id), pseudonym(r.user_id))


def _local(value: dt.datetime | None, tz) -> dt.datetime | None:
    """Excel has no time zones: the centre's local time, naive."""
    return value.astimezone(tz).replace(tzinfo=None) if value else None


def _rows(sheet, header: tuple[str, ...], rows: list[list[Any]]) -> None:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.utils import get_column_letter

    sheet.append(list(header))
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, (dict, list)):
                value = json.dumps(value, ensure_ascii=False, default=str)
            if isinstance(value, str):
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
            cells.append(value)
        sheet.append(cells)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # an owner's text is never a formula
    sheet.freeze_panes = "A2"
    for n, name in enumerate(header, 1):
        sheet.column_dimensions[get_column_letter(n)].width = max(10, min(40, len(name) + 4))
