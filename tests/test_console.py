"""The console chat: same answers, follow-ups, and a recorded request for a consultant."""

import io
import shutil

from bot.app import build_services
from bot.config import Settings
from bot.console import CONSOLE_USER, run_console
from bot.storage import Store
from indexer.pipeline import Indexer
from tests.conftest import ROOT, SAMPLE_KB


def test_console_conversation(tmp_path, embedder, monkeypatch):
    shutil.copytree(SAMPLE_KB, tmp_path / "knowledge")
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", knowledge_dir=tmp_path / "knowledge")
    Indexer(settings, embedder_factory=lambda: embedder).refresh()
    (settings.data_dir / "models").symlink_to(ROOT / "data" / "models")
    stdin = io.StringIO("nhan hieu bao ho bao lau\ncòn sáng chế thì sao?\n/human\n/quit\n")
    stdout = io.StringIO()
    assert run_console(build_services(settings, embedder=embedder), stdin=stdin, stdout=stdout) == 0
    text = stdout.getvalue()
    assert "10 năm" in text and "20 năm" in text and "Nguồn:" in text
    assert "đã được ghi lại" in text
    rows = Store(settings.sqlalchemy_url).history(CONSOLE_USER, 10)
    assert [t.role for t in rows].count("user") == 3
    from bot.reports.data import Period
    from bot.reports.gaps import collect

    gaps = collect(Store(settings.sqlalchemy_url), Period.last_days(1, settings.timezone))
    assert any("handoff" in q.reasons for q in gaps)  # staff see the console's request in /gaps
