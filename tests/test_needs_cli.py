"""`python -m bot needs …`: match prints the expected programmes for the profiles in tests/data/needs/, and
list, stats and export read the database the bot writes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from openpyxl import load_workbook

from bot.app import build_services
from bot.cli import main as cli_main
from bot.config import Settings
from tests.conftest import DATA, ROOT

PROFILES = DATA / "needs" / "profiles"
EXPECTED = json.loads((DATA / "needs" / "expected.json").read_text(encoding="utf-8"))


def bot_cli(tmp_path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "DATABASE_", "NEEDS_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env={**env, "DATA_DIR": str(tmp_path), "NEEDS_RULES_FILE": ""},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_profile_has_an_expectation():
    assert sorted(p.stem for p in PROFILES.glob("*.json")) == sorted(EXPECTED)


def run_match(monkeypatch, capsys, tmp_path, stdin: str, *args: str) -> tuple[int, str, str]:
    """The command line in this process (its start-up costs seconds a run): the same main() as python -m bot."""
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli_main(["needs", "match", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_match_json_prints_the_expected_programmes(tmp_path, monkeypatch, capsys, name):
    profile = (PROFILES / f"{name}.json").read_text(encoding="utf-8")
    code, stdout, stderr = run_match(monkeypatch, capsys, tmp_path, profile, "--json")
    assert code == 0, stderr
    out = json.loads(stdout)
    assert out["size_class"] == EXPECTED[name]["size_class"]
    assert [p["id"] for p in out["programmes"]] == EXPECTED[name]["programmes"]
    for p in out["programmes"]:
        assert p["legal_basis"] and p["support"] and isinstance(p["confirmed"], bool)
        assert ("cần kiểm tra" in p["support"]) is (not p["confirmed"])


def test_python_m_bot_needs_match(tmp_path):
    """The real command, a profile on standard input."""
    name = "small_manufacturer"
    run = bot_cli(tmp_path, "needs", "match", "--json", stdin=(PROFILES / f"{name}.json").read_text(encoding="utf-8"))
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert (out["size_class"], [p["id"] for p in out["programmes"]]) == (
        EXPECTED[name]["size_class"],
        EXPECTED[name]["programmes"],
    )


def test_match_text_and_english(tmp_path, monkeypatch, capsys):
    profile = (PROFILES / "small_manufacturer.json").read_text(encoding="utf-8")
    code, stdout, _ = run_match(monkeypatch, capsys, tmp_path, profile)
    assert code == 0
    assert "Quy mô: doanh nghiệp nhỏ [1]" in stdout and "[1] Nghị định 80/2021/NĐ-CP, Điều 5" in stdout
    assert "<b>" not in stdout
    _, stdout, _ = run_match(monkeypatch, capsys, tmp_path, profile, "--json", "--lang", "en")
    names = [p["name"] for p in json.loads(stdout)["programmes"]]
    assert "Technology-transfer consulting support (Decree 80/2021)" in names


def test_match_refuses_a_bad_profile(tmp_path, monkeypatch, capsys):
    for stdin in ("not json", '{"employees": "many"}', "[1, 2]"):
        code, _, stderr = run_match(monkeypatch, capsys, tmp_path, stdin, "--json")
        assert code == 2 and "error: not a profile" in stderr, stdin


def _submitted(tmp_path) -> None:
    """Two owners fill in the form through the service; one submits, one stays a draft."""
    svc = build_services(Settings(_env_file=None, data_dir=tmp_path))
    n = svc.needs
    n.start(1001, "Lan", "vi")
    for answer in ("Công ty Lúa Vàng", "Nghệ An", "C", "25", "12"):
        n.on_text(1001, answer)
    for data in ("tech:done", "needs:t:process", "needs:done", "description:skip", "urgency:now"):
        n.on_button(1001, "Lan", f"nf:1:{data}", "vi")
    n.on_text(1001, "lan@example.com")
    n.on_button(1001, "Lan", "nf:1:consent:none", "vi")
    n.on_button(1001, "Lan", "nd:1:submit", "vi")
    n.start(1002, "Hùng", "vi")
    n.on_text(1002, "Cty Hùng Phát")
    svc.close()


def test_list_stats_export(tmp_path, monkeypatch, capsys):
    _submitted(tmp_path)
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    assert cli_main(["needs", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(p["company"], p["workflow_status"]) for p in listed] == [
        ("Công ty Lúa Vàng", "new"),
        ("Cty Hùng Phát", "draft"),
    ]
    assert listed[0]["size_class"] == "small" and listed[0]["needs"] == ["process"]
    assert listed[0]["contact"] == ""  # no consent to be contacted
    assert cli_main(["needs", "stats", "--json", "--chart", str(tmp_path / "chart.png")]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert (stats["submitted"], stats["drafts"], stats["by_province"], stats["by_need"]) == (
        1,
        1,
        {"Nghệ An": 1},
        {"process": 1},
    )
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    target = tmp_path / "out" / "needs.xlsx"
    assert cli_main(["needs", "export", "--xlsx", str(target), "--from", "2020-01-01", "--to", "2099-12-31"]) == 0
    sheet = load_workbook(target)["profiles"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][rows[0].index("company")] == "Công ty Lúa Vàng" and len(rows) == 3
    assert cli_main(["needs", "export", "--xlsx", str(target), "--from", "2099-01-01", "--to", "2099-12-31"]) == 0
    assert len(list(load_workbook(target)["profiles"].iter_rows())) == 1  # the header only
    assert cli_main(["needs", "export", "--xlsx", str(target), "--from", "2026-02-01", "--to", "2026-01-01"]) == 2
