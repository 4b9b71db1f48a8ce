"""Staff reports on seeded SQLite data: exact statistics, gap groups, the chart, pseudonymised export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from bot.config import Settings
from bot.reports import chart, data, export, gaps, stats
from bot.reports.data import Period
from bot.storage import Feedback, Message, Store
from tests.conftest import ROOT

TZ = "Asia/Ho_Chi_Minh"
PERIOD = Period.between(dt.date(2026, 5, 1), dt.date(2026, 5, 3), TZ)
U1, U2, U3, U4 = 910001, 910002, 910003, 910004
PATENT_US = "Đăng ký bằng sáng chế tại Hoa Kỳ tốn bao nhiêu tiền?"
EXPORT_JP = "Thủ tục xuất khẩu nông sản sang Nhật Bản thế nào?"


def local(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A May 2026 local time (UTC+7) as UTC, the way the bot stores it."""
    vietnam = dt.timezone(dt.timedelta(hours=7))
    return dt.datetime(2026, 5, day, hour, minute, tzinfo=vietnam).astimezone(dt.UTC)


class Seeder:
    def __init__(self, store: Store) -> None:
        self.store = store

    def turn(self, user: int, question: str, kind: str, at: dt.datetime, topic: str = "other") -> int:
        """A question and the bot's reply a second later; returns the reply's id."""
        with self.store.session.begin() as s:
            s.add(Message(user_id=user, role="user", text=question, meta={}, created_at=at))
            reply = Message(
                user_id=user,
                role="assistant",
                text="…",
                created_at=at + dt.timedelta(seconds=1),
                meta={"kind": kind, "confidence": 0.5, "sources": [], "topic": topic},
            )
            s.add(reply)
            s.flush()
            return reply.id

    def vote(self, user: int, message_id: int, value: int, at: dt.datetime) -> None:
        with self.store.session.begin() as s:
            s.add(Feedback(user_id=user, message_id=message_id, value=value, created_at=at))


def seed(store: Store) -> dict[str, int]:
    """Known conversations; the expected figures are written out in the tests."""
    sd = Seeder(store)
    ids = {}
    sd.turn(U1, "Câu hỏi cũ ngoài kỳ báo cáo", "abstain", local(1, 12) - dt.timedelta(days=1))  # April 30
    ids["trademark"] = sd.turn(U1, "Nhãn hiệu được bảo hộ bao lâu?", "answer", local(1, 9), "ip")
    sd.vote(U1, ids["trademark"], 1, local(1, 9, 5))
    sd.turn(U1, "Phí đăng ký sáng chế ở Mỹ là bao nhiêu?", "abstain", local(1, 9, 10))
    sd.turn(U2, "xin chào", "smalltalk", local(1, 10))
    # 01:30 local on May 2 is still May 1 in UTC: it must count for May 2.
    sd.turn(U3, PATENT_US, "abstain", local(2, 1, 30))
    sd.turn(U3, "tôi muốn gặp chuyên gia", "handoff_request", local(2, 1, 35))
    ids["5s"] = sd.turn(U2, "5S gồm những gì?", "answer", local(2, 15), "process")
    sd.vote(U2, ids["5s"], 1, local(2, 15, 1))
    sd.vote(U2, ids["5s"], -1, local(2, 15, 2))  # changed their mind: the last vote counts
    sd.turn(U4, EXPORT_JP, "abstain", local(3, 8))
    ids["natif"] = sd.turn(U4, "NATIF hỗ trợ gì?", "answer", local(3, 9), "funding")
    sd.vote(U4, ids["natif"], 1, local(3, 9, 1))
    sd.turn(U4, "Câu hỏi sau kỳ báo cáo", "abstain", local(4, 1))
    return ids


@pytest.fixture
def store(database_url):
    return Store(database_url)


@pytest.fixture
def ticket_store(database_url):
    """A database with the handoff feature's tables (skipped while that feature is not installed)."""
    pytest.importorskip(data.HANDOFF_MODULE)
    return Store(database_url)


@pytest.fixture
def no_tickets(monkeypatch):
    """Reports as they run without the handoff feature: handoffs come from the message log."""
    monkeypatch.setattr(data, "HANDOFF_MODULE", "bot.handoff.not_installed")


def test_stats_from_messages(store, no_tickets):
    seed(store)
    s = stats.compute(store, PERIOD)
    assert (s.questions, s.answered, s.abstained, s.users) == (6, 3, 3, 4)
    assert s.answered_share == 0.5 and s.abstained_share == 0.5
    assert dict(s.topics) == {"ip": 1, "process": 1, "funding": 1, "other": 3}
    assert [(d.questions, d.answered, d.abstained, d.handoffs) for d in s.days] == [
        (2, 1, 1, 0),
        (2, 1, 1, 1),
        (2, 1, 1, 0),
    ]
    assert (s.handoffs, s.handoffs_from) == (1, "messages")
    assert (s.thumbs_up, s.thumbs_down) == (2, 1) and s.helpful_share == pytest.approx(2 / 3)
    assert s.median_claim_minutes is None and s.average_rating is None
    rows = list(csv.reader(io.StringIO(stats.to_csv(s).decode("utf-8-sig"))))
    assert rows[0][:7] == ["date", "questions", "answered", "abstained", "handoffs", "thumbs_up", "thumbs_down"]
    assert rows[2][:7] == ["2026-05-02", "2", "1", "1", "1", "0", "1"]
    assert rows[-1][:7] == ["total", "6", "3", "3", "1", "2", "1"]
    assert rows[0].index("topic_process") and rows[2][rows[0].index("topic_process")] == "1"


def _ticket(store, **fields) -> None:
    from bot.handoff.models import Ticket

    with store.session.begin() as s:
        s.add(Ticket(**fields))


def test_stats_with_tickets(ticket_store):
    store = ticket_store
    seed(store)
    _ticket(
        store,
        user_id=U3,
        status="closed",
        topic="ip",
        created_at=local(2, 1, 35),
        opened_at=local(2, 1, 36),
        claimed_at=local(2, 1, 46),
        closed_at=local(2, 2, 36),
        rating=5,
    )  # claim 10 min, 60 min
    _ticket(
        store,
        user_id=U4,
        status="closed",
        topic="other",
        created_at=local(3, 8, 1),
        opened_at=local(3, 8, 2),
        claimed_at=local(3, 8, 32),
        closed_at=local(3, 10, 2),
        rating=4,
    )  # claim 30 min, 120 min
    _ticket(
        store,
        user_id=U1,
        status="cancelled",
        topic="ip",
        created_at=local(3, 20),
        opened_at=local(3, 20),
        closed_at=local(3, 20, 5),
    )  # never claimed
    _ticket(
        store,
        user_id=U1,
        status="closed",
        created_at=local(5, 9),
        opened_at=local(5, 9),
        claimed_at=local(5, 9, 1),
        closed_at=local(5, 9, 2),
        rating=1,
    )  # after the period
    s = stats.compute(store, PERIOD)
    assert (s.handoffs, s.handoffs_from) == (3, "tickets")
    assert [d.handoffs for d in s.days] == [0, 1, 2]
    assert s.median_claim_minutes == 20.0 and s.median_duration_minutes == 90.0
    assert (s.average_rating, s.ratings) == (4.5, 2)
    assert "Median to claim:   20 min" in stats.render_text(s)


def test_cluster_average_linkage():
    v = np.array([[1, 0, 0], [0.96, 0.28, 0], [0.94, 0, 0.34], [0, 1, 0], [0, 0.98, 0.2], [0, 0, 1]], float)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    assert sorted(gaps.cluster(v, 0.9)) == [[0, 1, 2], [3, 4], [5]]
    assert sorted(gaps.cluster(v, 0.999)) == [[0], [1], [2], [3], [4], [5]]
    assert gaps.cluster(np.zeros((0, 3)), 0.9) == []


def test_gap_groups_on_seeded_questions(store, embedder, no_tickets):
    ids = seed(store)
    sd = Seeder(store)
    sd.turn(U2, "Chi phí đăng ký sáng chế ở Mỹ là bao nhiêu?", "abstain", local(2, 11))
    sd.vote(U1, ids["trademark"], 1, local(3, 12))  # 👍 is not a gap
    groups = gaps.find_gaps(store, embedder.embed_queries, PERIOD)
    texts = [sorted(q.text for q in g.questions) for g in groups]
    assert texts == [
        [EXPORT_JP],
        ["5S gồm những gì?"],
        sorted(["Chi phí đăng ký sáng chế ở Mỹ là bao nhiêu?", PATENT_US, "Phí đăng ký sáng chế ở Mỹ là bao nhiêu?"]),
    ]
    patent = groups[2]
    assert patent.count == 3 and dict(patent.reasons) == {"abstain": 3, "handoff": 1}
    assert patent.examples(2) == ["Chi phí đăng ký sáng chế ở Mỹ là bao nhiêu?", PATENT_US]  # newest first
    assert dict(groups[1].reasons) == {"downvote": 1} and groups[1].topic == "process"
    rows = list(csv.DictReader(io.StringIO(gaps.to_csv(groups, PERIOD.tz).decode("utf-8-sig"))))
    assert len(rows) == 5 and {r["group"] for r in rows} == {"1", "2", "3"}
    assert next(r for r in rows if r["question"] == PATENT_US)["reasons"] == "abstain+handoff"


def test_gap_handoff_from_tickets(ticket_store, embedder):
    store = ticket_store
    sd = Seeder(store)
    sd.turn(U1, "Quy trình xin giấy phép môi trường cho xưởng in?", "answer", local(2, 9), "other")
    sd.turn(U1, "cảm ơn", "smalltalk", local(2, 9, 2))
    _ticket(store, user_id=U1, status="open", created_at=local(2, 9, 5), opened_at=local(2, 9, 5))
    _ticket(store, user_id=U2, status="open", created_at=local(2, 9, 5))  # no question asked before
    groups = gaps.find_gaps(store, embedder.embed_queries, PERIOD)
    assert [(g.examples(), dict(g.reasons)) for g in groups] == [
        (["Quy trình xin giấy phép môi trường cho xưởng in?"], {"handoff": 1})
    ]


def test_chart_is_a_png(store, no_tickets):
    seed(store)
    figures = stats.compute(store, Period.between(dt.date(2026, 4, 4), dt.date(2026, 5, 3), TZ))
    png = chart.render_png(figures)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    image = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert image.shape[0] > 300 and image.shape[1] > 600 and image.std() > 0


def _rows(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def test_export_pseudonymised(store, tmp_path, no_tickets):
    seed(store)
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")
    files = export.export(store, settings, PERIOD)
    assert list(files) == ["conversations-20260501-20260503.csv"]
    rows = _rows(files["conversations-20260501-20260503.csv"])
    assert len(rows) == 16 and rows[0]["time"].startswith("2026-05-01T09:00:00+07:00")
    raw_ids = {str(u) for u in (U1, U2, U3, U4)}
    assert not raw_ids & {r["user"] for r in rows}
    assert not any(str(u).encode() in files["conversations-20260501-20260503.csv"] for u in (U1, U2, U3, U4))
    assert len({r["user"] for r in rows}) == 4 and all(r["user"].startswith("u_") for r in rows)
    assert {r["feedback"] for r in rows if r["role"] == "assistant" and r["text"]} >= {"1", "-1"}
    salt = tmp_path / "data" / export.SALT_FILE
    assert stat.S_IMODE(salt.stat().st_mode) == 0o600
    again = _rows(export.export(store, settings, PERIOD)["conversations-20260501-20260503.csv"])
    assert [r["user"] for r in again] == [r["user"] for r in rows]  # stable across exports
    other = Settings(_env_file=None, data_dir=tmp_path / "data", export_secret="another secret")
    changed = _rows(export.export(store, other, PERIOD)["conversations-20260501-20260503.csv"])
    assert changed[0]["user"] != rows[0]["user"]
    raw = export.export(store, settings, PERIOD, raw=True)
    assert {r["user"] for r in _rows(raw["conversations-20260501-20260503-raw.csv"])} == raw_ids


def test_export_tickets_pseudonymised(ticket_store, tmp_path):
    store = ticket_store
    seed(store)
    _ticket(
        store,
        user_id=U3,
        active_owner=U3,
        user_name="Nguyễn Thị Lan",
        status="claimed",
        consultant_id=555,
        summary=f"Lan (id {U3}) hỏi về sáng chế",
        created_at=local(2, 1, 35),
        opened_at=local(2, 1, 36),
    )
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")
    files = export.export(store, settings, PERIOD)
    tickets = files["tickets-20260501-20260503.csv"]
    (row,) = _rows(tickets)
    pseudonym = export.pseudonymiser(settings)(U3)
    assert row["user_id"] == pseudonym and row["active_owner"] == pseudonym
    assert row["user_name"] == "" and "Nguyễn Thị Lan" not in tickets.decode("utf-8-sig")
    assert row["summary"] == f"Lan (id {pseudonym}) hỏi về sáng chế"
    assert row["consultant_id"] == "555" and row["status"] == "claimed"
    raw = _rows(export.export(store, settings, PERIOD, raw=True)["tickets-20260501-20260503-raw.csv"])
    assert raw[0]["user_id"] == str(U3) and raw[0]["user_name"] == "Nguyễn Thị Lan"


def test_report_cli(tmp_path):
    """`python -m bot report stats|export` as staff run them (a real process, no model needed)."""
    db = tmp_path / "bot.sqlite3"
    store = Store(f"sqlite:///{db}")
    seed(store)
    store.engine.dispose()
    env = {**os.environ, "DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": f"sqlite:///{db}", "TIMEZONE": TZ}

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "bot", "report", *args],
            check=False,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    out = run("stats", "--days", "3650", "--csv", str(tmp_path / "stats.csv"))
    assert out.returncode == 0, out.stderr
    assert "Questions:         8" in out.stdout and "Abstained:         5" in out.stdout
    assert (tmp_path / "stats.csv").read_bytes().startswith(b"\xef\xbb\xbfdate,questions")
    out = run("export", "--from", "2026-05-01", "--to", "2026-05-03", "--out", str(tmp_path / "csv"))
    assert out.returncode == 0, out.stderr
    exported = list((tmp_path / "csv").iterdir())
    assert "conversations-20260501-20260503.csv" in {p.name for p in exported}
    assert str(U1) not in (tmp_path / "csv" / "conversations-20260501-20260503.csv").read_text("utf-8-sig")
    bad = run("export", "--from", "2026-05-03", "--to", "2026-05-01", "--out", str(tmp_path / "csv"))
    assert bad.returncode == 2 and "before" in bad.stderr


def test_report_gaps_cli(tmp_path, monkeypatch, embedder, settings, capsys):
    """`python -m bot report gaps --csv` in-process; words of the indexed documents restore diacritics."""
    from bot.cli import main
    from indexer.pipeline import Indexer

    Indexer(settings, embedder_factory=lambda: embedder).refresh()
    settings.data_dir.joinpath("models").symlink_to(ROOT / "data" / "models")  # the model loaded this session

    db = tmp_path / "bot.sqlite3"
    store = Store(f"sqlite:///{db}")
    sd = Seeder(store)
    today = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    sd.turn(U1, "phi dang ky sang che o my bao nhieu", "abstain", today - dt.timedelta(minutes=5))
    sd.turn(U2, "Phí đăng ký sáng chế ở Mỹ là bao nhiêu?", "abstain", today - dt.timedelta(minutes=4))
    sd.turn(U3, EXPORT_JP, "abstain", today - dt.timedelta(minutes=3))
    monkeypatch.setenv("DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("KNOWLEDGE_DIR", str(settings.knowledge_dir))
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    assert main(["report", "gaps", "--days", "7", "--csv", str(tmp_path / "gaps.csv")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1. 1 question(s)") and "2. 2 question(s)" in out and "abstain 2" in out
    rows = list(csv.DictReader(io.StringIO((tmp_path / "gaps.csv").read_text("utf-8-sig"))))
    assert sorted((r["group"], r["question"]) for r in rows) == [
        ("1", EXPORT_JP),
        ("2", "Phí đăng ký sáng chế ở Mỹ là bao nhiêu?"),
        ("2", "phi dang ky sang che o my bao nhieu"),
    ]


def test_csv_cells_cannot_run_as_formulas():
    from bot.reports import csvfile

    data = csvfile.to_bytes(["question"], [['=HYPERLINK("http://x")'], ["-1+2"], ["bình thường"], [-5]])
    text = data.decode("utf-8-sig").splitlines()
    assert text[1].startswith("\"'=HYPERLINK") and text[2] == "'-1+2" and text[3] == "bình thường" and text[4] == "-5"


def test_periods_outside_the_calendar_datetime_handles_are_refused():
    for start, end in ((dt.date(1, 1, 1), dt.date(2026, 1, 1)), (dt.date(2026, 1, 1), dt.date(9999, 12, 31))):
        with pytest.raises(ValueError):
            Period.between(start, end, TZ)
    edge = Period.between(dt.date(1970, 1, 1), dt.date(9998, 12, 31), TZ)
    assert edge.since < edge.until
