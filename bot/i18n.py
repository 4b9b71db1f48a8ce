"""Every text users read, Vietnamese and English, from the catalogs in `bot/locales/`.

Staff edit the YAML files (`bot/locales/vi/*.yaml`, `bot/locales/en/*.yaml`) without touching Python: a
message's key is `FILE.NAME` (the file's stem, then the key inside it); values are strings with `{name}`
placeholders, or lists of strings. Why YAML rather than gettext: the messages are keyed by meaning rather than
by their Vietnamese source text, several are lists (example questions), and the catalogs are checked at start
(`check`) and by the tests: every key in both languages, with the same placeholders.
"""

from __future__ import annotations

import string
from functools import cache
from pathlib import Path

import yaml

LOCALES = Path(__file__).resolve().parent / "locales"
LANGUAGES = ("vi", "en")
DEFAULT = "vi"
STAFF = "vi"  # consultants and admins read Vietnamese; their texts have English forms for when that changes

Message = str | list[str]


class CatalogError(ValueError):
    """A catalog file that is missing a message, has a broken placeholder or cannot be read."""


@cache
def catalog(lang: str) -> dict[str, Message]:
    """All messages of one language, keyed `file.key`."""
    messages: dict[str, Message] = {}
    folder = LOCALES / lang
    for path in sorted(folder.glob("*.yaml")):
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise CatalogError(f"{path.relative_to(LOCALES)}: not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise CatalogError(f"{path.relative_to(LOCALES)}: expected key: text pairs")
        for key, value in data.items():
            if not (isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))):
                raise CatalogError(f"{path.relative_to(LOCALES)}: {key}: a text or a list of texts")
            messages[f"{path.stem}.{key}"] = value
    return messages


def language(lang: str | None) -> str:
    return lang if lang in LANGUAGES else DEFAULT


def t(lang: str | None, key: str, **values: object) -> str:
    """The message `key` in `lang` (Vietnamese when the language is unknown), its placeholders filled."""
    message = catalog(language(lang)).get(key)
    if message is None:
        message = catalog(DEFAULT)[key]  # KeyError: a key the code uses and no catalog has
    if isinstance(message, list):
        raise TypeError(f"{key} is a list; use items()")
    return message.format(**values) if values else message


def items(lang: str | None, key: str) -> list[str]:
    """A list message (for example a topic's example questions)."""
    message = catalog(language(lang)).get(key, catalog(DEFAULT).get(key))
    if not isinstance(message, list):
        raise TypeError(f"{key} is not a list")
    return list(message)


def both(key: str, **values: object) -> tuple[str, str]:
    """The Vietnamese and English forms, for texts that must match what either language shows."""
    return t("vi", key, **values), t("en", key, **values)


def _fields(message: Message) -> set[str]:
    texts = message if isinstance(message, list) else [message]
    return {name for text in texts for _, name, _, _ in string.Formatter().parse(text) if name}


def check() -> None:
    """Every message in every language, with the same placeholders; raise CatalogError naming what is wrong."""
    catalog.cache_clear()
    reference = catalog(DEFAULT)
    if not reference:
        raise CatalogError(f"no messages under {LOCALES / DEFAULT}")
    problems = []
    for lang in LANGUAGES:
        messages = catalog(lang)
        for key in sorted(reference.keys() - messages.keys()):
            problems.append(f"{lang}: {key} is missing")
        for key in sorted(messages.keys() - reference.keys()):
            problems.append(f"{lang}: {key} is not in the {DEFAULT} catalog")
        for key in sorted(reference.keys() & messages.keys()):
            if _fields(reference[key]) != _fields(messages[key]):
                problems.append(f"{lang}: {key} has placeholders {sorted(_fields(messages[key]))}")
            if isinstance(reference[key], list) != isinstance(messages[key], list):
                problems.append(f"{lang}: {key} must be a {'list' if isinstance(reference[key], list) else 'text'}")
    if problems:
        raise CatalogError("message catalogs:\n" + "\n".join(problems))
