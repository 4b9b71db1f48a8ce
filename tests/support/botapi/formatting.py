"""Telegram-flavoured HTML and text limits: what Telegram stores for a text or caption, or why it refuses it.

The bot writes HTML only (``parse_mode=HTML``) or plain text, so only those are parsed; MarkdownV2 and legacy
Markdown are refused with a message saying so. Lengths count UTF-16 code units after entity parsing, as
Telegram does: an emoji counts twice, ``<b>`` counts nothing.
"""

from __future__ import annotations

import re
from typing import Any

from .errors import ApiError, bad
from .params import Params

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024


def u16len(text: str) -> int:
    """Length in UTF-16 code units, the way Telegram counts message length and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _entity_error(message: str) -> ApiError:
    return bad("can't parse entities: " + message)


class _TextBuilder:
    def __init__(self, src: str) -> None:
        self.src = src
        self.parts: list[str] = []
        self.pos = 0  # UTF-16 offset of the plain text built so far
        self.entities: list[dict] = []

    def emit(self, text: str) -> None:
        if text:
            self.parts.append(text)
            self.pos += u16len(text)

    def byte_offset(self, index: int) -> int:
        return len(self.src[:index].encode("utf-8"))

    def add(self, entity_type: str, start: int, **extra: Any) -> None:
        length = self.pos - start
        if length > 0:
            entity = {"type": entity_type, "offset": start, "length": length}
            entity.update({k: v for k, v in extra.items() if v is not None})
            self.entities.append(entity)

    def result(self) -> tuple[str, list[dict]]:
        return "".join(self.parts), self.entities


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ENTITY_RE = re.compile(r"&(#[0-9]{1,8}|#[xX][0-9a-fA-F]{1,8}|[a-zA-Z][a-zA-Z0-9]{1,10});")
_HTML_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TAG_NAME_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
_ATTR_NAME_RE = re.compile(r"[a-zA-Z0-9_-]+")
_UNQUOTED_VALUE_RE = re.compile(r"[^\s>]*")


def _decode_html_entity(src: str, i: int) -> tuple[str, int] | None:
    match = _HTML_ENTITY_RE.match(src, i)
    if not match:
        return None
    name = match.group(1)
    if name[0] == "#":
        code = int(name[1:].lstrip("xX"), 16) if name[1] in "xX" else int(name[1:])
        if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
            return chr(code), match.end()
        return None
    if name in _HTML_NAMED:  # Telegram supports only these named entities; others stay as text
        return _HTML_NAMED[name], match.end()
    return None


def _unescape_attr(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "&":
            decoded = _decode_html_entity(value, i)
            if decoded:
                out.append(decoded[0])
                i = decoded[1]
                continue
        out.append(value[i])
        i += 1
    return "".join(out)


def parse_html(src: str) -> tuple[str, list[dict]]:
    """Parse Telegram-flavoured HTML; raise ApiError(400, "... can't parse entities: ...")."""
    b = _TextBuilder(src)
    stack: list[dict] = []
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c == "&":
            decoded = _decode_html_entity(src, i)
            if decoded:
                b.emit(decoded[0])
                i = decoded[1]
            else:
                b.emit("&")
                i += 1
            continue
        if c != "<":
            j = i
            while j < n and src[j] not in "<&":
                j += 1
            b.emit(src[i:j])
            i = j
            continue
        start = i
        if src.startswith("</", i):
            j = src.find(">", i)
            if j < 0:
                raise _entity_error(f"Unclosed end tag at byte offset {b.byte_offset(start)}")
            name = src[i + 2 : j].strip().lower()
            if not stack:
                raise _entity_error(f"Unexpected end tag at byte offset {b.byte_offset(start)}")
            tag = stack[-1]
            if name != tag["name"]:
                raise _entity_error(
                    f"Unmatched end tag at byte offset {b.byte_offset(start)}, "
                    f'expected "</{tag["name"]}>", found "</{name}>"'
                )
            stack.pop()
            i = j + 1
            _close_html_tag(b, tag, stack)
            continue
        match = _TAG_NAME_RE.match(src, i + 1)
        name = match.group(0).lower() if match else ""
        if name not in _HTML_TAGS:
            raise _entity_error(f'Unsupported start tag "{name}" at byte offset {b.byte_offset(start)}')
        i = match.end()
        attrs: dict[str, str] = {}
        while True:
            while i < n and src[i].isspace():
                i += 1
            if i >= n:
                raise _entity_error(f"Unclosed start tag at byte offset {b.byte_offset(start)}")
            if src[i] == ">":
                i += 1
                break
            attr = _ATTR_NAME_RE.match(src, i)
            if not attr:
                raise _entity_error(f'Empty attribute name in the tag "{name}" at byte offset {b.byte_offset(start)}')
            attr_name = attr.group(0).lower()
            i = attr.end()
            while i < n and src[i].isspace():
                i += 1
            value = ""
            if i < n and src[i] == "=":
                i += 1
                while i < n and src[i].isspace():
                    i += 1
                if i >= n:
                    raise _entity_error(f"Unclosed start tag at byte offset {b.byte_offset(start)}")
                if src[i] in "\"'":
                    end = src.find(src[i], i + 1)
                    if end < 0:
                        raise _entity_error(f"Unclosed start tag at byte offset {b.byte_offset(start)}")
                    value = src[i + 1 : end]
                    i = end + 1
                else:
                    unq = _UNQUOTED_VALUE_RE.match(src, i)
                    value = unq.group(0)
                    i = unq.end()
            attrs[attr_name] = _unescape_attr(value)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise _entity_error(f'Tag "span" must have class "tg-spoiler" at byte offset {b.byte_offset(start)}')
        if name == "tg-emoji" and not attrs.get("emoji-id"):
            raise _entity_error(f'Tag "tg-emoji" must have attribute "emoji-id" at byte offset {b.byte_offset(start)}')
        stack.append({"name": name, "start": b.pos, "attrs": attrs})
    if stack:
        raise _entity_error(f'Can\'t find end tag corresponding to start tag "{stack[-1]["name"]}"')
    return b.result()


def _close_html_tag(b: _TextBuilder, tag: dict, stack: list[dict]) -> None:
    name, attrs, start = tag["name"], tag["attrs"], tag["start"]
    if name == "code" and stack and stack[-1]["name"] == "pre":
        language = attrs.get("class", "")
        if language.startswith("language-") and len(language) > 9:
            stack[-1]["language"] = language[9:]
            return  # merged into the enclosing pre entity
    if name == "a":
        href = attrs.get("href", "").strip()
        if not href:
            return
        user = re.fullmatch(r"tg://user\?id=(\d+)", href)
        if user:
            b.add("text_mention", start, user={"id": int(user.group(1)), "is_bot": False, "first_name": ""})
        else:
            b.add("text_link", start, url=href)
        return
    if name == "pre":
        b.add("pre", start, language=tag.get("language"))
        return
    if name == "blockquote":
        b.add("expandable_blockquote" if "expandable" in attrs else "blockquote", start)
        return
    if name == "tg-emoji":
        b.add("custom_emoji", start, custom_emoji_id=attrs["emoji-id"])
        return
    b.add(_HTML_TAGS[name], start)


def _trim(text: str, entities: list[dict]) -> tuple[str, list[dict]]:
    """Telegram strips leading/trailing whitespace; shift and clip entities accordingly."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = u16len(text) - u16len(text.lstrip())
    total = u16len(stripped)
    result = []
    for entity in entities:
        start = max(0, entity["offset"] - lead)
        end = min(total, entity["offset"] + entity["length"] - lead)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


def format_text(text: str, parse_mode: str | None, entities: Any = None) -> tuple[str, list[dict]]:
    """(plain text, entities) of a text/caption as Telegram would store it."""
    mode = (parse_mode or "").strip().lower()
    if mode == "html":
        plain, ents = parse_html(text)
    elif mode in ("markdownv2", "markdown"):
        raise bad(f"unsupported parse_mode {parse_mode!r} in the fake Bot API: the bot sends HTML only")
    elif mode:
        raise bad("unsupported parse_mode")
    else:
        plain = text
        if entities is None:
            ents = []
        elif isinstance(entities, list) and all(isinstance(e, dict) for e in entities):
            ents = [dict(e) for e in entities]
        else:
            raise bad("can't parse entities JSON object")
    ents.sort(key=lambda e: (e["offset"], -e["length"]))
    return _trim(plain, ents)


def text_content(
    params: Params, key: str, entities_key: str, limit: int, empty_error: str | None, too_long: str
) -> tuple[str | None, list[dict], str | None]:
    """(plain text, entities, raw text as sent) of ``params[key]``; refuses empty (if ``empty_error``) and too long."""
    raw = params.str(key)
    if raw is None and empty_error is None:
        return None, [], None
    plain, entities = format_text(raw or "", params.str("parse_mode"), params.json(entities_key))
    if not plain:
        if empty_error:
            raise bad(empty_error)
        return None, [], raw
    if u16len(plain) > limit:
        raise bad(too_long)
    return plain, entities, raw


def message_text(params: Params) -> tuple[str, list[dict], str | None]:
    """The ``text`` of sendMessage / editMessageText."""
    text, entities, raw = text_content(
        params, "text", "entities", TEXT_LIMIT, "message text is empty", "message is too long"
    )
    return text or "", entities, raw


def caption(params: Params) -> tuple[dict, str | None]:
    """({"caption", "caption_entities"} or {}, raw caption) of a media message."""
    text, entities, raw = text_content(
        params, "caption", "caption_entities", CAPTION_LIMIT, None, "message caption is too long"
    )
    content: dict[str, Any] = {}
    if text:
        content["caption"] = text
        if entities:
            content["caption_entities"] = entities
    return content, raw
