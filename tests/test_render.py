"""Telegram HTML splitting: every part within the limit in UTF-16 units, and every part parses on its own."""

import random
import re
from html.parser import HTMLParser

import pytest

from bot.telegram.render import LIMIT, split
from bot.textlen import utf16_len


class _Balanced(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []
        self.ok = True

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack.pop() != tag:
            self.ok = False


def _parses(part: str) -> bool:
    """What Telegram requires of a part: tags balanced and properly nested, no cut tag or entity."""
    parser = _Balanced()
    parser.feed(part)
    parser.close()
    broken_tag = re.search(r"<[^>]*$", part) or re.search(r"^[^<]*>", part)
    broken_entity = re.search(r"&[#\w]*$", part)
    return parser.ok and not parser.stack and not broken_tag and not broken_entity


def _text(html_text: str) -> str:
    return re.sub(r"\s+", "", re.sub(r"<[^>]*>", "", html_text))


def test_a_cut_never_falls_inside_a_closing_tag():
    text = "x" * 4090 + "<b>yy</b> tail"
    parts = split(text)
    assert all(_parses(p) and utf16_len(p) <= LIMIT for p in parts)
    assert _text("".join(parts)) == _text(text)


def test_tags_open_at_a_cut_are_closed_and_reopened():
    text = "<b>" + "đậm " * 2000 + "</b>"
    parts = split(text)
    assert len(parts) > 1
    assert all(p.startswith("<b>") and p.endswith("</b>") and _parses(p) for p in parts)


def test_emoji_count_twice():
    text = "😀" * 3000  # 6000 UTF-16 units in 3000 characters
    parts = split(text)
    assert len(parts) == 2 and all(utf16_len(p) <= LIMIT for p in parts) and "".join(parts) == text


def test_mentions_are_never_split_inside_a_link():
    links = " ".join(f'<a href="tg://user?id={n}">Chuyên gia Nguyễn Văn Số {n} 🧑‍💼</a>' for n in range(400))
    text = f"<b>Yêu cầu #12</b>\n{links}"
    parts = split(text, 1000)
    assert all(_parses(p) and utf16_len(p) <= 1000 for p in parts)
    assert sum(p.count("<a ") for p in parts) == 400


def test_entities_stay_whole():
    text = ("Tom &amp; Jerry &lt;3 " * 400).strip()
    parts = split(text, 500)
    assert all(_parses(p) for p in parts)
    assert _text("".join(parts)) == _text(text)


@pytest.mark.parametrize("seed", range(30))
def test_random_html_splits_into_valid_parts(seed):
    rng = random.Random(seed)
    pieces = []
    for _ in range(rng.randint(50, 400)):
        word = rng.choice(["nhãn", "hiệu", "😀", "A&amp;B", "x" * rng.randint(1, 40), "\n", "\n\n"])
        tag = rng.choice(["", "b", "i", "code", "a"])
        if tag == "a":
            pieces.append(f'<a href="https://e.vn/{rng.randint(0, 999)}">{word}</a>')
        elif tag:
            pieces.append(f"<{tag}>{word}</{tag}>")
        else:
            pieces.append(word)
        if rng.random() < 0.05:
            pieces.insert(rng.randrange(len(pieces)), "<b><i>")
            pieces.append("</i></b>")
    text = " ".join(pieces)
    limit = rng.choice([64, 200, 1024, LIMIT])
    parts = split(text, limit)
    assert all(utf16_len(p) <= limit and _parses(p) for p in parts), parts
    assert _text("".join(parts)) == _text(text)
