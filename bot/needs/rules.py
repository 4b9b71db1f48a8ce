"""The matching rules as data (`bot/needs/rules.yaml`, or NEEDS_RULES_FILE): loaded and checked at start.

A broken file stops the bot with one message that names the file and every problem found, so a typo made
by staff shows at once instead of silently dropping a programme from every owner's answer.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.config import SettingsError
from bot.needs.choices import NEEDS, SECTORS, SIZE_CLASSES, TECH_ITEMS
from indexer.config import TOPICS

DEFAULT_FILE = Path(__file__).resolve().parent / "rules.yaml"
CONFIDENCE = ("S", "E", "U")  # the fact sheet's marks; E and U are "cần kiểm tra"
CAPPED_SIZES = ("micro", "small", "medium")
_PROGRAMME_KEYS = {
    "id",
    "name",
    "legal_basis",
    "fact",
    "confidence",
    "sizes",
    "needs_any",
    "tech_status_any",
    "cap_million_vnd",
    "support",
}
_REQUIRED = ("id", "name", "legal_basis", "fact", "confidence", "sizes", "support")


class RulesError(SettingsError):
    """The rules file cannot be used; the message names the file and each problem."""


@dataclass(frozen=True)
class Programme:
    id: str
    name: dict[str, str]
    legal_basis: str
    fact: str
    confidence: str
    sizes: tuple[str, ...]
    needs_any: tuple[str, ...]
    tech_status_any: tuple[str, ...]
    cap_million_vnd: dict[str, float]
    support: dict[str, str]

    @property
    def confirmed(self) -> bool:
        return self.confidence == "S"


@dataclass(frozen=True)
class Rules:
    path: Path
    size_basis: str
    size_fact: str
    sector_groups: dict[str, str]  # VSIC letter -> production | trade
    topics: dict[str, str]  # need -> consultants' topic
    programmes: tuple[Programme, ...]


def load(path: Path | None = None) -> Rules:
    """Read and check the rules; raise RulesError naming the file and every problem."""
    path = Path(path or DEFAULT_FILE)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RulesError(f"needs rules {path}: cannot be read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise RulesError(f"needs rules {path}: not valid YAML: {exc}") from None
    problems: list[str] = []
    rules = _parse(path, data, problems)
    if problems or rules is None:
        raise RulesError(f"needs rules {path}:\n" + "\n".join(f"- {p}" for p in problems))
    return rules


def _parse(path: Path, data: object, problems: list[str]) -> Rules | None:
    if not isinstance(data, dict):
        problems.append("the file must hold a mapping with version, size, topics and programmes")
        return None
    unknown = sorted(set(data) - {"version", "size", "topics", "programmes"})
    if unknown:
        problems.append(f"unknown top-level key(s): {', '.join(map(str, unknown))}")
    if data.get("version") != 1:
        problems.append(f"version: expected 1, found {data.get('version')!r}")
    size = data.get("size") if isinstance(data.get("size"), dict) else {}
    if not size:
        problems.append("size: missing (legal_basis, fact, sector_groups)")
    groups = _sector_groups(size.get("sector_groups"), problems)
    for key in ("legal_basis", "fact"):
        if not _text(size.get(key)):
            problems.append(f"size.{key}: missing")
    topics = _topics(data.get("topics"), problems)
    raw = data.get("programmes")
    if not isinstance(raw, list) or not raw:
        problems.append("programmes: expected a non-empty list")
        raw = []
    programmes, seen = [], set()
    for n, item in enumerate(raw):
        programme = _programme(n, item, problems)
        if programme is None:
            continue
        if programme.id in seen:
            problems.append(f"programmes[{n}] ({programme.id}): id used twice")
        seen.add(programme.id)
        programmes.append(programme)
    if problems:
        return None
    return Rules(path, size["legal_basis"].strip(), str(size["fact"]).strip(), groups, topics, tuple(programmes))


def _text(value: object) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _sector_groups(value: object, problems: list[str]) -> dict[str, str]:
    if not isinstance(value, dict) or set(value) != {"production", "trade"}:
        problems.append("size.sector_groups: expected exactly the groups production and trade")
        return {}
    letters: dict[str, str] = {}
    for group, members in value.items():
        if not isinstance(members, list):
            problems.append(f"size.sector_groups.{group}: expected a list of VSIC section letters")
            continue
        for letter in members:
            letter = str(letter).strip().upper()
            if letter not in SECTORS:
                problems.append(f"size.sector_groups.{group}: {letter!r} is not a VSIC section (A–U)")
            elif letter in letters:
                problems.append(f"size.sector_groups: section {letter} is in both groups")
            letters[letter] = group
    missing = [s for s in SECTORS if s not in letters]
    if missing:
        problems.append(f"size.sector_groups: section(s) {', '.join(missing)} in no group")
    return letters


def _topics(value: object, problems: list[str]) -> dict[str, str]:
    if not isinstance(value, dict):
        problems.append(f"topics: expected need: topic pairs for {', '.join(NEEDS)}")
        return {}
    for need in sorted(set(NEEDS) - set(value)):
        problems.append(f"topics: no topic for the need {need!r}")
    for need, topic in value.items():
        if need not in NEEDS:
            problems.append(f"topics: {need!r} is not a need ({', '.join(NEEDS)})")
        elif topic not in TOPICS:
            problems.append(f"topics.{need}: {topic!r} is not a topic ({', '.join(TOPICS)})")
    return {str(k): str(v) for k, v in value.items()}


def _programme(n: int, item: object, problems: list[str]) -> Programme | None:
    if not isinstance(item, dict):
        problems.append(f"programmes[{n}]: expected a mapping")
        return None
    where = f"programmes[{n}] ({item.get('id', '?')})"
    before = len(problems)
    for key in sorted(set(item) - _PROGRAMME_KEYS):
        problems.append(f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(_PROGRAMME_KEYS))})")
    for key in _REQUIRED:
        if key not in item:
            problems.append(f"{where}: {key} is missing")
    if len(problems) > before:
        return None
    if not isinstance(item["id"], str) or not re.fullmatch(r"[a-z0-9_]+", item["id"]):
        problems.append(f"{where}: id must be lower-case letters, digits and _")
    name = _bilingual(where, "name", item["name"], problems)
    support = _bilingual(where, "support", item["support"], problems)
    for key in ("legal_basis", "fact"):
        if not _text(str(item[key])):
            problems.append(f"{where}: {key} is empty")
    if item["confidence"] not in CONFIDENCE:
        problems.append(f"{where}: confidence must be S, E or U (the fact sheet's marks)")
    sizes = _members(where, "sizes", item["sizes"], SIZE_CLASSES, problems)
    if not sizes:
        problems.append(f"{where}: sizes is empty")
    needs = _members(where, "needs_any", item.get("needs_any", []), NEEDS, problems)
    status = _members(where, "tech_status_any", item.get("tech_status_any", []), TECH_ITEMS, problems)
    caps = _caps(where, item.get("cap_million_vnd", {}), problems)
    for lang, text in support.items():
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
        if fields - {"cap"}:
            problems.append(f"{where}: support.{lang}: unknown placeholder(s) {sorted(fields - {'cap'})}")
        if "cap" in fields:
            missing = [s for s in sizes if s in CAPPED_SIZES and s not in caps]
            if missing:
                problems.append(f"{where}: support uses {{cap}} but cap_million_vnd has none for {', '.join(missing)}")
    if len(problems) > before:
        return None
    return Programme(
        id=item["id"],
        name=name,
        legal_basis=str(item["legal_basis"]).strip(),
        fact=str(item["fact"]).strip(),
        confidence=item["confidence"],
        sizes=sizes,
        needs_any=needs,
        tech_status_any=status,
        cap_million_vnd=caps,
        support=support,
    )


def _bilingual(where: str, key: str, value: object, problems: list[str]) -> dict[str, str]:
    if not isinstance(value, dict) or not all(_text(value.get(lang)) for lang in ("vi", "en")):
        problems.append(f"{where}: {key} needs a vi and an en text")
        return {}
    return {lang: " ".join(str(value[lang]).split()) for lang in ("vi", "en")}


def _members(where: str, key: str, value: object, allowed: tuple[str, ...], problems: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list):
        problems.append(f"{where}: {key} must be a list")
        return ()
    bad = [str(v) for v in value if v not in allowed]
    if bad:
        problems.append(f"{where}: {key}: unknown value(s) {', '.join(bad)} (allowed: {', '.join(allowed)})")
    return tuple(v for v in value if v in allowed)


def _caps(where: str, value: object, problems: list[str]) -> dict[str, float]:
    if not isinstance(value, dict):
        problems.append(f"{where}: cap_million_vnd must map size classes to amounts")
        return {}
    caps = {}
    for size, amount in value.items():
        if size not in CAPPED_SIZES:
            problems.append(f"{where}: cap_million_vnd: {size!r} is not micro, small or medium")
        elif isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount <= 0:
            problems.append(f"{where}: cap_million_vnd.{size}: expected a positive number, found {amount!r}")
        else:
            caps[size] = amount
    return caps
