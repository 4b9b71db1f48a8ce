"""The XLSX export read back with openpyxl: pseudonymised ids (the reports' pseudonyms) unless raw, notes,
answers only when raw, owners' text never a formula; the statistics and their chart."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from bot.app import build_services
from bot.config import Settings
from bot.needs import stats
from bot.needs.export import workbook
from bot.reports.export import pseudonymiser

OWNER, OTHER, CONSULTANT = 1001, 1002, 2001


@pytest.fixture
def svc(tmp_path):
    services = build_services(Settings(_env_file=None, data_dir=tmp_path, export_secret="k"))
    n = services.needs
    n.start(OWNER, "Nguyễn Thị Lan", "vi")
    for answer in ('=HYPERLINK("http://x")', "Thái Bình", "c", "25", "12 tỷ"):
        n.on_text(OWNER, answer)
    for data in ("tech:t:eq_old", "tech:done", "needs:t:technology", "needs:t:digital", "needs:done"):
        n.on_button(OWNER, "Lan", f"nf:1:{data}", "vi")
    n.on_text(OWNER, "Máy cũ; gọi chị Nguyễn Thị Lan 0912 345 678 nhé")
    n.on_button(OWNER, "Lan", "nf:1:urgency:now", "vi")
    n.on_text(OWNER, "0912 345 678")
    n.on_button(OWNER, "Lan", "nf:1:consent:all", "vi")
    n.on_button(OWNER, "Lan", "nd:1:submit", "vi")
    n.add_note(1, CONSULTANT, "Minh", "Đã gọi cho Nguyễn Thị Lan", "contacted")
    n.start(OTHER, "Hùng", "en")
    n.on_text(OTHER, "Hung Phat Co")
    yield services
    services.close()


def sheets(content: bytes) -> dict[str, list[dict]]:
    book = load_workbook(io.BytesIO(content))
    out = {}
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        out[sheet.title] = [dict(zip(rows[0], row)) for row in rows[1:]]
    return out


def test_pseudonymised_export(svc):
    data = sheets(workbook(svc.needs, svc.needs.records()))
    assert set(data) == {"profiles", "notes"}
    first, draft = data["profiles"]
    assert first["user"] == pseudonymiser(svc.settings)(OWNER) and first["user"].startswith("u_")
    assert (first["user_name"], first["contact"]) == (None, None)
    assert first["company"] == '=HYPERLINK("http://x")'  # text, not a formula
    assert (first["province"], first["sector"], first["employees"], first["revenue_billion_vnd"]) == (
        "Hưng Yên",
        "C",
        25,
        12,
    )
    assert (first["size_class"], first["workflow_status"], first["needs"]) == (
        "small",
        "contacted",
        "technology, digital",
    )
    assert first["consent_share"] is True and first["consent_at"] is not None and first["notes"] == 1
    assert "Hỗ trợ tư vấn chuyển giao công nghệ" in first["programmes"]
    assert "Nguyễn Thị Lan" not in first["status"] and "0912 345 678" not in first["status"]
    assert (draft["company"], draft["workflow_status"], draft["size_class"]) == ("Hung Phat Co", "draft", None)
    note = data["notes"][0]
    assert (note["author"], note["author_id"], note["workflow_status"]) == ("Minh", CONSULTANT, "contacted")
    assert "Nguyễn Thị Lan" not in note["text"]
    everything = repr(data)
    assert str(OWNER) not in everything and "0912" not in everything


def test_raw_export(svc):
    data = sheets(workbook(svc.needs, svc.needs.records(), raw=True))
    first = data["profiles"][0]
    assert (first["user"], first["user_name"], first["contact"]) == (OWNER, "Nguyễn Thị Lan", "0912 345 678")
    answers = [a for a in data["answers"] if a["profile_id"] == 1]
    assert [a["raw"] for a in answers[:3]] == ['=HYPERLINK("http://x")', "Thái Bình", "c"]
    assert answers[1]["value"] == '{"province": "Hưng Yên"}'


def test_period_filter(svc):
    import datetime as dt

    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    assert svc.needs.records(since=later) == []
    assert len(svc.needs.records(until=later)) == 2


def test_stats_and_chart(svc):
    figures = stats.compute(svc.needs.records())
    assert (figures.submitted, figures.drafts, figures.shared) == (1, 1, 1)
    assert figures.by_province == {"Hưng Yên": 1} and figures.by_need == {"technology": 1, "digital": 1}
    text = stats.render_text(figures)
    assert "1 hồ sơ đã gửi" in text and "Hưng Yên 1" in text and "Chuyển đổi số 1" in text
    png = stats.render_png(figures)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert stats.render_png(stats.compute([]))[:4] == b"\x89PNG"  # an empty database draws too
