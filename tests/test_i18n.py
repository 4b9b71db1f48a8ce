"""The message catalogs (bot/locales): complete in both languages, and holding every key the code uses."""

import ast
import re
from pathlib import Path

import pytest

from bot import i18n
from indexer.config import TOPICS

BOT = Path(__file__).resolve().parent.parent / "bot"
CALLS = {"t": 1, "items": 1, "both": 0, "tell_owner": 2, "choose": 3}  # function -> index of its key argument


@pytest.fixture
def fresh_catalog():
    """Catalogs are cached: read them again before and after a test that changes where they come from."""
    i18n.catalog.cache_clear()
    yield
    i18n.catalog.cache_clear()


def _used_keys() -> tuple[set[str], set[str], set[str]]:
    """(keys passed as literals to t/items/both, literal prefixes of built keys, key-like literals elsewhere)."""
    stems = {path.stem for path in (i18n.LOCALES / i18n.DEFAULT).glob("*.yaml")}
    key_like = re.compile(rf"^(?:{'|'.join(map(re.escape, stems))})\.[a-z][a-z0-9_]*$")
    keys, prefixes, literals = set(), set(), set()
    for path in BOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        parts = {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
        parts |= {id(node.left) for node in ast.walk(tree) if isinstance(node, ast.BinOp)}  # "key_" + variable
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and id(node) not in parts and key_like.match(str(node.value)):
                literals.add(node.value)
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name not in CALLS or len(node.args) <= CALLS[name]:
                continue
            arg = node.args[CALLS[name]]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                keys.add(arg.value)
            elif isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
                prefixes.add(arg.values[0].value)
            elif isinstance(arg, ast.BinOp) and isinstance(arg.left, ast.Constant) and isinstance(arg.left.value, str):
                prefixes.add(arg.left.value)
    return keys, prefixes, literals


def test_every_message_is_in_both_languages_with_the_same_placeholders(fresh_catalog):
    i18n.check()
    assert i18n.catalog("vi").keys() == i18n.catalog("en").keys()
    assert len(i18n.catalog("vi")) > 200


def test_every_key_the_code_uses_is_in_the_catalog():
    keys, prefixes, literals = _used_keys()
    assert len(keys) > 150 and "common.start" in keys and "consultant.claim_button" in literals  # the scan works
    messages = i18n.catalog("vi")
    assert sorted(k for k in keys | literals if k not in messages) == []
    assert sorted(p for p in prefixes if not any(k.startswith(p) for k in messages)) == []


def test_topics_and_weekdays_are_complete():
    for lang in i18n.LANGUAGES:
        for key in TOPICS:
            assert i18n.t(lang, f"topics.{key}")
            assert isinstance(i18n.items(lang, f"topics.examples_{key}"), list)
        assert len(i18n.items(lang, "handoff.weekdays")) == 7
    assert {key: i18n.t("vi", f"topics.{key}") for key in TOPICS} == TOPICS  # the labels of design.md


def test_the_labels_other_tools_match_on_hold_in_both_languages():
    for lang in i18n.LANGUAGES:
        assert "chuyên gia" in i18n.t(lang, "common.btn_human")
        assert "chuyên gia" in i18n.t(lang, "handoff.offer_button")
        assert "Nhận" in i18n.t(lang, "consultant.claim_button")


def test_an_unknown_language_falls_back_to_vietnamese():
    assert i18n.t("fr", "common.new") == i18n.t("vi", "common.new")
    assert i18n.t(None, "common.forgotten", n=3) == i18n.t("vi", "common.forgotten", n=3)
    assert "3" in i18n.t("en", "common.forgotten", n=3)


def _write(root: Path, lang: str, text: str) -> None:
    (root / lang).mkdir(parents=True, exist_ok=True)
    (root / lang / "area.yaml").write_text(text, encoding="utf-8")


def test_check_names_a_missing_key_a_wrong_placeholder_and_a_list_that_is_not_one(tmp_path, monkeypatch, fresh_catalog):
    _write(tmp_path, "vi", "hello: 'Chào {name}'\nbye: Tạm biệt\nchoices: [a, b]\n")
    _write(tmp_path, "en", "hello: 'Hello {who}'\nchoices: a\nextra: x\n")
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    with pytest.raises(i18n.CatalogError) as caught:
        i18n.check()
    report = str(caught.value)
    assert "en: area.bye is missing" in report
    assert "en: area.hello has placeholders ['who']" in report
    assert "en: area.choices must be a list" in report
    assert "en: area.extra is not in the vi catalog" in report


def test_check_accepts_a_complete_catalog_and_refuses_broken_yaml(tmp_path, monkeypatch, fresh_catalog):
    _write(tmp_path, "vi", "hello: 'Chào {name}'\n")
    _write(tmp_path, "en", "hello: 'Hello {name}'\n")
    monkeypatch.setattr(i18n, "LOCALES", tmp_path)
    i18n.check()
    assert i18n.t("en", "area.hello", name="Lan") == "Hello Lan"
    _write(tmp_path, "en", "hello: 'Hello {name}\n")
    with pytest.raises(i18n.CatalogError, match="not valid YAML"):
        i18n.check()
