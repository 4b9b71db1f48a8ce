"""The matcher: the Article 5 size class at every threshold (through bot.answering.sme_size), each rule of
bot/needs/rules.yaml, the caps per size class, and "cần kiểm tra" on every unconfirmed rule."""

from __future__ import annotations

import pytest

from bot.answering.sme_size import TABLE
from bot.needs import rules as rules_module
from bot.needs.choices import RANGES, SECTORS
from bot.needs.matcher import figure, match, size_of
from bot.needs.profile import Profile, ProfileError

RULES = rules_module.load()
LETTER = {"production": "C", "trade": "G"}  # manufacturing; wholesale and retail
NEXT = {"micro": "small", "small": "medium", "medium": "not_sme"}


def ids(profile: Profile, lang: str = "vi") -> list[str]:
    return [p["id"] for p in match(profile, RULES, lang).programmes]


def programme(profile: Profile, pid: str, lang: str = "vi") -> dict:
    return next(p for p in match(profile, RULES, lang).programmes if p["id"] == pid)


# -- size class at every threshold -----------------------------------------------------------
@pytest.mark.parametrize("group", ["production", "trade"])
@pytest.mark.parametrize("row", range(3))
def test_size_at_each_threshold(group, row):
    size, employees, revenue, capital = TABLE[group][row]
    at = Profile(sector=LETTER[group], employees=employees, revenue_billion_vnd=revenue)
    assert size_of(at, RULES).size_class == size  # revenue exactly at the limit
    at = Profile(sector=LETTER[group], employees=employees, capital_billion_vnd=capital)
    assert size_of(at, RULES).size_class == size  # capital exactly at the limit
    either = Profile(
        sector=LETTER[group], employees=employees, revenue_billion_vnd=revenue + 1, capital_billion_vnd=capital
    )
    assert size_of(either, RULES).size_class == size  # revenue over, capital within: still this class
    both = Profile(
        sector=LETTER[group], employees=employees, revenue_billion_vnd=revenue + 1, capital_billion_vnd=capital + 1
    )
    assert size_of(both, RULES).size_class == NEXT[size]
    more = Profile(sector=LETTER[group], employees=employees + 1, revenue_billion_vnd=revenue)
    assert size_of(more, RULES).size_class == NEXT[size]  # one more employee: the headcount test fails here


def test_revenue_over_without_capital_is_undecided():
    """Capital might still meet the smaller class: the matcher asks rather than guesses (the form asks it)."""
    size = size_of(Profile(sector="C", employees=8, revenue_billion_vnd=20), RULES)
    assert size.size_class == "unknown" and size.missing == ["capital"]


def test_every_vsic_section_has_a_sector_group():
    assert sorted(RULES.sector_groups) == sorted(SECTORS)
    assert {RULES.sector_groups[s] for s in "ABCDEF"} == {"production"}
    assert {RULES.sector_groups[s] for s in "GHIJKLMNOPQRSTU"} == {"trade"}


def test_sector_unknown_decides_when_both_groups_agree():
    assert size_of(Profile(employees=5, revenue_billion_vnd=2), RULES).size_class == "micro"
    assert size_of(Profile(employees=80, revenue_billion_vnd=40), RULES).size_class == "unknown"


@pytest.mark.parametrize("kind", ["employees", "revenue", "capital"])
def test_range_ends_are_the_thresholds(kind):
    """A button range decides the class exactly as any figure inside it would."""
    column = {"employees": 1, "revenue": 2, "capital": 3}[kind]
    thresholds = {row[column] for group in TABLE.values() for row in group}
    ends = {high for _, _, high in RANGES[kind] if high is not None}
    assert thresholds <= ends, f"{kind}: thresholds {sorted(thresholds - ends)} fall inside a range"
    base = {"employees": 5, "revenue_billion_vnd": 2, "capital_billion_vnd": 2}
    for key, low, high in RANGES[kind]:
        inside = [low + 1 if kind == "employees" else low + 0.01, high if high is not None else low + 1000]
        for group in ("production", "trade"):
            by_range = Profile(sector=LETTER[group], **{**base, _field(kind): None}, **{f"{kind}_range": key})
            for value in inside:
                by_value = Profile(sector=LETTER[group], **{**base, _field(kind): value})
                assert size_of(by_range, RULES).size_class == size_of(by_value, RULES).size_class, (kind, key, value)


def _field(kind: str) -> str:
    return {"employees": "employees", "revenue": "revenue_billion_vnd", "capital": "capital_billion_vnd"}[kind]


def test_a_typed_figure_wins_over_a_range():
    assert figure(12.0, "50-100", "revenue") == 12.0
    assert figure(None, "50-100", "revenue") == 100
    assert figure(None, "300+", "revenue") > 300
    assert figure(None, "", "revenue") is None


# -- each rule ---------------------------------------------------------------------------------
SMALL = {"sector": "C", "employees": 25, "revenue_billion_vnd": 12}
MICRO = {"sector": "G", "employees": 5, "revenue_billion_vnd": 2}
MEDIUM = {"sector": "C", "employees": 150, "revenue_billion_vnd": 150}
LARGE = {"sector": "C", "employees": 400, "revenue_billion_vnd": 500, "capital_billion_vnd": 300}
UNKNOWN: dict = {}

CASES = [
    # (size figures, needs, technology status, programme, applies)
    (SMALL, ["technology"], [], "nd80_tech_transfer_consulting", True),
    (SMALL, ["ip"], [], "nd80_tech_transfer_consulting", False),
    (LARGE, ["technology"], [], "nd80_tech_transfer_consulting", False),
    (SMALL, ["ip"], [], "nd80_ip_consulting", True),
    (MICRO, ["ip"], [], "nd80_ip_consulting", True),
    (LARGE, ["ip"], [], "nd80_ip_consulting", False),
    (SMALL, ["digital"], [], "nd80_dx_consulting", True),
    (MEDIUM, ["digital"], [], "nd80_dx_consulting", True),
    (MICRO, ["digital"], [], "nd80_dx_consulting", False),  # no amount for micro enterprises
    (UNKNOWN, ["digital"], [], "nd80_dx_consulting", True),
    (MICRO, ["digital"], [], "nd80_dx_solutions", True),
    (SMALL, ["technology"], [], "nd80_dx_solutions", False),
    (MICRO, ["training"], [], "nd80_consultant_network", True),
    (LARGE, ["training"], [], "nd80_consultant_network", False),
    (SMALL, ["process"], [], "programme_1322", True),
    (LARGE, ["testing"], [], "programme_1322", True),  # enterprises, not only SMEs
    (SMALL, ["ip"], [], "programme_1322", False),
    (LARGE, ["funding"], [], "natif", True),
    (SMALL, ["technology"], [], "natif", True),
    (SMALL, ["process"], [], "natif", False),
    (SMALL, [], ["rd_ip"], "st_enterprise", True),
    (LARGE, [], ["rd_results"], "st_enterprise", True),
    (SMALL, ["technology"], ["eq_old"], "st_enterprise", False),
    (MICRO, [], ["rd_startup"], "innovative_startup", True),
    (LARGE, [], ["rd_startup"], "innovative_startup", False),
    (MICRO, ["testing"], [], "centre_testing", True),
    (LARGE, ["testing"], [], "centre_testing", True),
    (MICRO, ["technology"], [], "centre_consulting", True),
    (MICRO, ["ip"], [], "centre_consulting", False),
    (MEDIUM, ["training"], [], "centre_training", True),
    (MEDIUM, ["funding"], [], "centre_training", False),
]


@pytest.mark.parametrize(("figures", "needs", "status", "pid", "applies"), CASES)
def test_each_rule(figures, needs, status, pid, applies):
    profile = Profile(**figures, needs=needs, tech_status=status)
    assert (pid in ids(profile)) is applies


def test_every_rule_is_covered_by_the_table():
    assert {p.id for p in RULES.programmes} == {case[3] for case in CASES}


@pytest.mark.parametrize(
    ("pid", "needs", "caps"),
    [
        ("nd80_dx_solutions", ["digital"], {"micro": "20", "small": "50", "medium": "100"}),
        ("nd80_dx_consulting", ["digital"], {"small": "50", "medium": "100"}),
        ("nd80_consultant_network", ["digital"], {"micro": "50", "small": "100", "medium": "150"}),
        ("nd80_tech_transfer_consulting", ["technology"], {"micro": "100", "small": "100", "medium": "100"}),
        ("nd80_ip_consulting", ["ip"], {"micro": "100", "small": "100", "medium": "100"}),
    ],
)
def test_caps_per_size_class(pid, needs, caps):
    for size, figures in (("micro", MICRO), ("small", SMALL), ("medium", MEDIUM)):
        found = [p for p in match(Profile(**figures, needs=needs), RULES).programmes if p["id"] == pid]
        if size not in caps:
            assert not found
            continue
        assert (
            f"không quá {caps[size]} triệu đồng" in found[0]["support"]
            or f"tối đa {caps[size]} triệu" in found[0]["support"]
        )
        assert found[0]["legal_basis"].startswith("Nghị định 80/2021/NĐ-CP, Điều 1")


def test_unknown_size_shows_every_cap():
    support = programme(Profile(needs=["digital"]), "nd80_dx_solutions")["support"]
    assert "20 (siêu nhỏ) / 50 (nhỏ) / 100 (vừa) triệu đồng" in support
    english = programme(Profile(needs=["digital"]), "nd80_dx_solutions", "en")["support"]
    assert "20 (micro) / 50 (small) / 100 (medium) million VND" in english
    assert "100 triệu đồng/hợp đồng" in programme(Profile(needs=["ip"]), "nd80_ip_consulting")["support"]


def test_unconfirmed_rules_say_so():
    profile = Profile(**SMALL, needs=list(RULES.topics), tech_status=["rd_ip", "rd_startup"])
    found = match(profile, RULES).programmes
    english = {p["id"]: p for p in match(profile, RULES, "en").programmes}
    assert len(found) >= 10
    for p in found:
        rule = next(r for r in RULES.programmes if r.id == p["id"])
        assert p["confirmed"] is (rule.confidence == "S")
        assert ("cần kiểm tra" in p["support"]) is (not p["confirmed"])
        assert ("cần kiểm tra" in english[p["id"]]["support"]) is (not p["confirmed"])
        assert p["legal_basis"] and p["name"] and p["support"]
    unconfirmed = {p["id"] for p in found if not p["confirmed"]}
    assert {"nd80_consultant_network", "natif", "st_enterprise", "innovative_startup"} <= unconfirmed
    assert programme(profile, "natif")["legal_basis"] == "Nghị định 77/2026/NĐ-CP"
    assert "268/2025" in programme(profile, "st_enterprise")["legal_basis"]


def test_json_output_has_the_contract_fields():
    out = match(Profile(**SMALL, needs=["technology"]), RULES).to_json()
    assert out["size_class"] == "small"
    assert all({"name", "legal_basis", "support", "confirmed"} <= set(p) for p in out["programmes"])


def test_profile_from_json_checks_kinds():
    p = Profile.from_json({"province": "thai binh", "sector": "c", "employees": 3, "needs": ["ip", "ip"]})
    assert (p.province, p.sector, p.needs) == ("Hưng Yên", "C", ["ip"])
    for bad in ({"employees": "many"}, {"needs": ["money"]}, {"sector": "Z"}, {"consent_contact": "yes"}, []):
        with pytest.raises(ProfileError):
            Profile.from_json(bad)
