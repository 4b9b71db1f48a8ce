"""The rules file is data staff edit: a broken one stops the start with the file and the problem named."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from bot.app import build_services
from bot.config import Settings
from bot.needs.rules import DEFAULT_FILE, RulesError, load
from tests.conftest import ROOT


def shipped() -> dict:
    return yaml.safe_load(DEFAULT_FILE.read_text(encoding="utf-8"))


def write(tmp_path, data) -> object:
    path = tmp_path / "rules.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def broken(change) -> dict:
    data = shipped()
    change(data)
    return data


def _programme(data: dict, pid: str) -> dict:
    return next(p for p in data["programmes"] if p["id"] == pid)


BROKEN = [
    ("not yaml", "version: 1\nprogrammes: [\n", "not valid YAML"),
    ("a list", "- a\n- b\n", "must hold a mapping"),
    ("version", broken(lambda d: d.update(version=2)), "version: expected 1"),
    (
        "typo in a key",
        broken(lambda d: _programme(d, "natif").update(need_any=_programme(d, "natif").pop("needs_any"))),
        "programmes[6] (natif): unknown key 'need_any'",
    ),
    (
        "size class",
        broken(lambda d: _programme(d, "nd80_ip_consulting").update(sizes=["tiny", "small"])),
        "(nd80_ip_consulting): sizes: unknown value(s) tiny",
    ),
    (
        "need",
        broken(lambda d: _programme(d, "natif").update(needs_any=["money"])),
        "(natif): needs_any: unknown value(s) money",
    ),
    (
        "cap missing for a size",
        broken(lambda d: _programme(d, "nd80_dx_solutions")["cap_million_vnd"].pop("micro")),
        "(nd80_dx_solutions): support uses {cap} but cap_million_vnd has none for micro",
    ),
    (
        "cap not a number",
        broken(lambda d: _programme(d, "nd80_dx_solutions")["cap_million_vnd"].update(small="fifty")),
        "cap_million_vnd.small: expected a positive number",
    ),
    (
        "english missing",
        broken(lambda d: _programme(d, "centre_testing")["support"].pop("en")),
        "(centre_testing): support needs a vi and an en text",
    ),
    (
        "confidence",
        broken(lambda d: _programme(d, "programme_1322").update(confidence="X")),
        "(programme_1322): confidence must be S, E or U",
    ),
    (
        "placeholder",
        broken(lambda d: _programme(d, "natif")["support"].update(vi="Hỗ trợ {amount}")),
        "(natif): support.vi: unknown placeholder(s) ['amount']",
    ),
    ("duplicate id", broken(lambda d: d["programmes"].append(dict(d["programmes"][0]))), "id used twice"),
    (
        "sector in both groups",
        broken(lambda d: d["size"]["sector_groups"]["trade"].append("C")),
        "section C is in both groups",
    ),
    (
        "sector in no group",
        broken(lambda d: d["size"]["sector_groups"]["trade"].remove("U")),
        "section(s) U in no group",
    ),
    (
        "topic",
        broken(lambda d: d["topics"].update(training="schooling")),
        "topics.training: 'schooling' is not a topic",
    ),
    ("need without topic", broken(lambda d: d["topics"].pop("digital")), "topics: no topic for the need 'digital'"),
    ("no programmes", broken(lambda d: d.update(programmes=[])), "programmes: expected a non-empty list"),
]


def test_the_shipped_rules_load():
    rules = load()
    assert rules.path == DEFAULT_FILE and len(rules.programmes) >= 12
    assert rules.size_basis == "Nghị định 80/2021/NĐ-CP, Điều 5"


@pytest.mark.parametrize(("name", "content", "problem"), BROKEN, ids=[case[0] for case in BROKEN])
def test_a_broken_rule_is_named(tmp_path, name, content, problem):
    path = write(tmp_path, content)
    with pytest.raises(RulesError) as caught:
        load(path)
    message = str(caught.value)
    assert str(path) in message and problem in message, message


def test_every_problem_is_listed_at_once(tmp_path):
    def two(d):
        _programme(d, "natif").update(confidence="maybe")
        _programme(d, "centre_training").update(sizes=["huge"])

    message = str(pytest.raises(RulesError, load, write(tmp_path, broken(two))).value)
    assert "(natif): confidence" in message and "(centre_training): sizes" in message


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(RulesError, match="needs rules .*nowhere.yaml: cannot be read"):
        load(tmp_path / "nowhere.yaml")


def test_build_services_fails_with_a_broken_file(tmp_path):
    path = write(tmp_path, broken(lambda d: _programme(d, "natif").update(sizes=["big"])))
    settings = Settings(_env_file=None, data_dir=tmp_path / "data", needs_rules_file=path)
    with pytest.raises(RulesError, match="natif"):
        build_services(settings)
    edited = write(tmp_path, broken(lambda d: _programme(d, "natif").update(name={"vi": "Quỹ NATIF", "en": "NATIF"})))
    services = build_services(Settings(_env_file=None, data_dir=tmp_path / "data", needs_rules_file=edited))
    assert next(p for p in services.needs.rules.programmes if p.id == "natif").name["vi"] == "Quỹ NATIF"


def test_the_bot_does_not_start_with_a_broken_file(tmp_path):
    path = write(tmp_path, broken(lambda d: d["topics"].update(ip="lawyers")))
    env = {"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path / "data"), "NEEDS_RULES_FILE": str(path)}
    (tmp_path / "data" / "index").mkdir(parents=True)
    (tmp_path / "data" / "index" / "manifest.json").write_text("{}")  # `run` checks for an index first
    for command in (["needs", "stats"], ["run"]):
        run = subprocess.run(
            [sys.executable, "-m", "bot", *command],
            cwd=ROOT,
            env={**env, "TELEGRAM_BOT_TOKEN": "1:x"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert run.returncode == 2, run.stderr
        assert str(path) in run.stderr and "topics.ip: 'lawyers' is not a topic" in run.stderr
