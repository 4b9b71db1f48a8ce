"""A fake Telegram Bot API HTTP server for end-to-end tests.

The real bot process talks to it exactly as to ``api.telegram.org``::

    {root}/bot{token}/{method}           POST (form-encoded, JSON or multipart) or GET
    {root}/file/bot{token}/{file_path}   file download

Tests play users by injecting updates (``send_text``, ``send_command``, ``press_button`` ...) and
read what the bot sent (``messages``, ``wait_for_message`` ...).  Standard library only: a
``ThreadingHTTPServer`` in a background thread, all state behind one lock, so every public method
may be called from any thread.

Validation follows Telegram's behaviour closely enough to catch the mistakes that break a bot in
production: unknown chats, blocked users, empty or too long texts, HTML / MarkdownV2 that Telegram
cannot parse, bad inline keyboards, "message is not modified", stale callback queries, flood
limits (opt-in) and webhook/getUpdates conflicts.

Example::

    with FakeBotAPI(token="123:ABC") as api:
        env = {"TELEGRAM_API_URL": api.base_url, "TELEGRAM_BOT_TOKEN": api.token}
        api.add_private_user(42, first_name="Lan")
        ...start the bot with env...
        upd = api.send_command(42, "/start")
        reply = api.wait_for_message(42, contains="Xin chào", after=upd)
        api.press_button(42, reply, api.buttons(reply)[0][1])
"""

from __future__ import annotations

import copy
import json
import mimetypes
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

__all__ = ["ApiError", "FakeBotAPI"]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64
DOWNLOAD_LIMIT = 20 * 1024 * 1024
UPLOAD_LIMIT = 50 * 1024 * 1024

# Update types Telegram sends when allowed_updates is empty / never set.
_DEFAULT_EXCLUDED_UPDATES = {"chat_member", "message_reaction", "message_reaction_count"}
_CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
_SEND_METHODS = {"sendmessage", "senddocument", "sendphoto", "copymessage", "forwardmessage"}


class ApiError(Exception):
    """An error response of the Bot API (raised inside method handlers)."""

    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad(description: str) -> ApiError:
    return ApiError(400, "Bad Request: " + description)


def u16len(text: str) -> int:
    """Length in UTF-16 code units, the way Telegram counts message length and entity offsets."""
    return len(text.encode("utf-16-le")) // 2


# --------------------------------------------------------------------------------------------
# Formatting: HTML, MarkdownV2 and legacy Markdown -> (plain text, entities)
# --------------------------------------------------------------------------------------------


def _entity_error(message: str) -> ApiError:
    return _bad("can't parse entities: " + message)


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


_MDV2_RESERVED = set("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "custom_emoji": "CustomEmoji",
}


def parse_markdown_v2(src: str) -> tuple[str, list[dict]]:
    """Parse MarkdownV2; reserved characters must be escaped unless they open/close an entity."""
    b = _TextBuilder(src)
    stack: list[dict] = []
    quote: dict | None = None
    i, n = 0, len(src)

    def close_quote() -> None:
        nonlocal quote
        if quote is not None:
            b.add(quote["type"], quote["start"])
            quote = None

    while i < n:
        c = src[i]
        top = stack[-1] if stack else None
        if top is not None and top["type"] in ("code", "pre"):
            if c == "\\" and i + 1 < n and src[i + 1] in "`\\":
                b.emit(src[i + 1])
                i += 2
            elif top["type"] == "pre" and src.startswith("```", i):
                stack.pop()
                b.add("pre", top["start"], language=top.get("language"))
                i += 3
            elif top["type"] == "code" and c == "`":
                stack.pop()
                b.add("code", top["start"])
                i += 1
            else:
                b.emit(c)
                i += 1
            continue
        if c == "\n":
            if quote is not None and not (src.startswith(">", i + 1) or src.startswith("**>", i + 1)):
                close_quote()
            b.emit("\n")
            i += 1
            continue
        if c == "\\":
            if i + 1 < n and 0 < ord(src[i + 1]) <= 126:
                b.emit(src[i + 1])
                i += 2
            else:
                b.emit("\\")
                i += 1
            continue
        if c not in _MDV2_RESERVED:
            j = i
            while j < n and src[j] not in _MDV2_RESERVED and src[j] not in "\\\n":
                j += 1
            b.emit(src[i:j])
            i = j
            continue
        at_line_start = i == 0 or src[i - 1] == "\n"
        if at_line_start and src.startswith("**>", i):
            if quote is None:
                quote = {"type": "expandable_blockquote", "start": b.pos}
            i += 3
            continue
        if at_line_start and c == ">":
            if quote is None:
                quote = {"type": "blockquote", "start": b.pos}
            i += 1
            continue
        if (
            quote is not None
            and quote["type"] == "expandable_blockquote"
            and src.startswith("||", i)
            and (i + 2 == n or src[i + 2] == "\n")
            and not any(e["type"] == "spoiler" for e in stack)
        ):
            i += 2  # "||" at the end of an expandable block quote
            continue
        if c in "_*~|":
            if c == "_":
                kind, width = ("underline", 2) if src.startswith("__", i) else ("italic", 1)
            elif c == "*":
                kind, width = "bold", 1
            elif c == "~":
                kind, width = "strikethrough", 1
            else:
                if not src.startswith("||", i):
                    raise _entity_error("Character '|' is reserved and must be escaped with the preceding '\\'")
                kind, width = "spoiler", 2
            if top is not None and top["type"] == kind:
                stack.pop()
                b.add(kind, top["start"])
            elif any(e["type"] == kind for e in stack):
                opened = next(e for e in stack if e["type"] == kind)
                raise _entity_error(
                    f"Can't find end of {_MDV2_NAMES[kind]} entity at byte offset {opened['byte_offset']}"
                )
            else:
                stack.append({"type": kind, "start": b.pos, "byte_offset": b.byte_offset(i)})
            i += width
            continue
        if c == "[" or (c == "!" and src.startswith("![", i)):
            kind = "text_link" if c == "[" else "custom_emoji"
            stack.append({"type": kind, "start": b.pos, "byte_offset": b.byte_offset(i)})
            i += 1 if c == "[" else 2
            continue
        if c == "]" and top is not None and top["type"] in ("text_link", "custom_emoji"):
            i += 1
            url = None
            if i < n and src[i] == "(":
                j, chars = i + 1, []
                while j < n and src[j] != ")":
                    if src[j] == "\\" and j + 1 < n:
                        chars.append(src[j + 1])
                        j += 2
                    else:
                        chars.append(src[j])
                        j += 1
                if j >= n:
                    raise _entity_error(f"Can't find end of a url at byte offset {b.byte_offset(i)}")
                url = "".join(chars)
                i = j + 1
            stack.pop()
            if top["type"] == "custom_emoji":
                emoji = re.fullmatch(r"tg://emoji\?id=(\d+)", url or "")
                if not emoji:
                    raise _entity_error("Custom emoji entity must contain a tg://emoji URL")
                b.add("custom_emoji", top["start"], custom_emoji_id=emoji.group(1))
            elif url:
                user = re.fullmatch(r"tg://user\?id=(\d+)", url)
                if user:
                    b.add(
                        "text_mention", top["start"], user={"id": int(user.group(1)), "is_bot": False, "first_name": ""}
                    )
                else:
                    b.add("text_link", top["start"], url=url)
            continue
        if c == "`":
            entry = {"start": 0, "byte_offset": b.byte_offset(i)}
            if src.startswith("```", i):
                i += 3
                end = i
                while end < n and not src[end].isspace() and src[end] != "`":
                    end += 1
                if end != i and end < n and src[end] != "`":
                    entry["language"] = src[i:end]
                    i = end
                if i < n and src[i] in "\r\n":
                    i += 2 if i + 1 < n and src[i + 1] in "\r\n" and src[i + 1] != src[i] else 1
                entry["type"] = "pre"
            else:
                i += 1
                entry["type"] = "code"
            entry["start"] = b.pos
            stack.append(entry)
            continue
        raise _entity_error(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
    close_quote()
    if stack:
        raise _entity_error(
            f"Can't find end of {_MDV2_NAMES[stack[0]['type']]} entity at byte offset {stack[0]['byte_offset']}"
        )
    return b.result()


def parse_markdown(src: str) -> tuple[str, list[dict]]:
    """Legacy Markdown: *bold* _italic_ `code` ```pre``` [text](url), no nesting."""
    b = _TextBuilder(src)
    i, n = 0, len(src)
    while i < n:
        c = src[i]
        if c == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            b.emit(src[i + 1])
            i += 2
            continue
        if c not in "_*`[":
            b.emit(c)
            i += 1
            continue
        fail = _entity_error(f"Can't find end of the entity starting at byte offset {b.byte_offset(i)}")
        if c in "_*":
            end = src.find(c, i + 1)
            if end < 0:
                raise fail
            start = b.pos
            b.emit(src[i + 1 : end])
            b.add("bold" if c == "*" else "italic", start)
            i = end + 1
        elif src.startswith("```", i):
            end = src.find("```", i + 3)
            if end < 0:
                raise fail
            body, language = src[i + 3 : end], None
            first, sep, rest = body.partition("\n")
            if sep and first and " " not in first:
                body, language = rest, first
            start = b.pos
            b.emit(body)
            b.add("pre", start, language=language)
            i = end + 3
        elif c == "`":
            end = src.find("`", i + 1)
            if end < 0:
                raise fail
            start = b.pos
            b.emit(src[i + 1 : end])
            b.add("code", start)
            i = end + 1
        else:
            close = src.find("]", i + 1)
            if close < 0 or not src.startswith("(", close + 1) or src.find(")", close + 2) < 0:
                raise fail
            end = src.find(")", close + 2)
            start = b.pos
            b.emit(src[i + 1 : close])
            b.add("text_link", start, url=src[close + 2 : end])
            i = end + 1
    return b.result()


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
    elif mode == "markdownv2":
        plain, ents = parse_markdown_v2(text)
    elif mode == "markdown":
        plain, ents = parse_markdown(text)
    elif mode:
        raise _bad("unsupported parse_mode")
    else:
        plain = text
        if entities is None:
            ents = []
        elif isinstance(entities, list) and all(isinstance(e, dict) for e in entities):
            ents = [dict(e) for e in entities]
        else:
            raise _bad("can't parse entities JSON object")
    ents.sort(key=lambda e: (e["offset"], -e["length"]))
    return _trim(plain, ents)


# --------------------------------------------------------------------------------------------
# Request parameters
# --------------------------------------------------------------------------------------------


class _Upload:
    def __init__(self, data: bytes, filename: str | None, content_type: str | None) -> None:
        self.data = data
        self.filename = filename
        self.content_type = content_type

    def describe(self) -> dict:
        return {"upload": True, "filename": self.filename, "mime_type": self.content_type, "size": len(self.data)}


class _Params:
    """Typed access to request parameters, accepting both form strings and JSON values."""

    _JSON_FIELDS = frozenset(
        {
            "reply_markup",
            "entities",
            "caption_entities",
            "commands",
            "scope",
            "menu_button",
            "allowed_updates",
            "link_preview_options",
            "reply_parameters",
        }
    )

    def __init__(self, values: dict[str, Any], files: dict[str, _Upload]) -> None:
        self.values = values
        self.files = files

    def __contains__(self, key: str) -> bool:
        return key in self.values or key in self.files

    def raw(self, key: str) -> Any:
        return self.values.get(key)

    def str(self, key: str, default: str | None = None) -> str | None:
        value = self.values.get(key)
        if value is None:
            return default
        if isinstance(value, (dict, list)):
            raise _bad(f'field "{key}" must be of type String')
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def int(self, key: str, default: int | None = None) -> int | None:
        value = self.values.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            try:
                return int(float(str(value).strip()))
            except ValueError:
                raise _bad(f'field "{key}" must be of type Integer') from None

    def float(self, key: str, default: float | None = None) -> float | None:
        value = self.values.get(key)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise _bad(f'field "{key}" must be of type Number') from None

    def bool(self, key: str, default: bool = False) -> bool:
        value = self.values.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("true", "1")

    def json(self, key: str, default: Any = None) -> Any:
        value = self.values.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                if key == "reply_markup":
                    raise _bad("can't parse reply keyboard markup JSON object") from None
                raise _bad(f"can't parse {key} JSON object") from None
        return value

    def describe(self) -> dict:
        out: dict[str, Any] = {}
        for key, value in self.values.items():
            if key in self._JSON_FIELDS and isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            out[key] = value
        for key, upload in self.files.items():
            out[key] = upload.describe()
        return out


def _parse_disposition(header: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for match in re.finditer(r';\s*([a-zA-Z0-9_*-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', header):
        key, value = match.group(1).lower(), match.group(2).strip()
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        if key.endswith("*"):  # RFC 5987: utf-8''percent-encoded
            charset, _, encoded = value.partition("''")
            value = urllib.parse.unquote(encoded, encoding=charset or "utf-8")
            key = key[:-1]
        elif key == "filename":
            value = value.replace("%22", '"')
        params[key] = value
    return params


def _parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, Any], dict[str, _Upload]]:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise _bad("invalid multipart/form-data request")
    delimiter = b"--" + match.group(1).encode("latin-1")
    values: dict[str, Any] = {}
    files: dict[str, _Upload] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        if part.startswith(b"\r\n"):
            part = part[2:]
        head, _, data = part.partition(b"\r\n\r\n")
        if data.endswith(b"\r\n"):
            data = data[:-2]
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        disposition = _parse_disposition(headers.get("content-disposition", ""))
        name = disposition.get("name")
        if not name:
            continue
        if "filename" in disposition or (
            headers.get("content-type") and not headers["content-type"].startswith("text/plain")
        ):
            files[name] = _Upload(data, disposition.get("filename"), headers.get("content-type"))
        else:
            values[name] = data.decode("utf-8", "replace")
    return values, files


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "nginx/1.18.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        try:  # no Nagle/delayed-ACK stalls (~40 ms per request on keep-alive connections)
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.server.api._track_connection(self.connection, add=True)  # type: ignore[attr-defined]

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.api._track_connection(self.connection, add=False)  # type: ignore[attr-defined]

    def do_POST(self) -> None:
        self.server.api._handle_http(self)  # type: ignore[attr-defined]

    do_GET = do_POST

    def read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            # headers and body in one write (end_headers() would flush the headers on their own)
            self._headers_buffer.append(b"\r\n")
            self._headers_buffer.append(body)
            self.flush_headers()
        except OSError:  # client went away (e.g. an abandoned long poll)
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], api: FakeBotAPI) -> None:
        self.api = api
        super().__init__(address, _Handler)


# --------------------------------------------------------------------------------------------
# The fake server
# --------------------------------------------------------------------------------------------


class FakeBotAPI:
    """Thread-safe fake Bot API server with a test-side API to play users."""

    def __init__(
        self,
        token: str = "123:ABC",
        bot_id: int | None = None,
        username: str = "sme_test_bot",
        first_name: str = "SME Test Bot",
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_retry_delay: float = 0.2,
        webhook_max_retry_delay: float = 2.0,
    ) -> None:
        self.token = token
        if bot_id is None:
            head = token.split(":", 1)[0]
            bot_id = int(head) if head.isdigit() else 123456789
        self.bot_id = bot_id
        self.username = username
        self.first_name = first_name
        self.host = host
        self.port = port
        self.webhook_retry_delay = webhook_retry_delay
        self.webhook_max_retry_delay = webhook_max_retry_delay

        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._httpd: _Server | None = None
        self._serve_thread: threading.Thread | None = None
        self._webhook_thread: threading.Thread | None = None
        self._stopping = False
        self._stop_event = threading.Event()
        self._connections: set[socket.socket] = set()

        self._users: dict[int, dict] = {}
        self._chats: dict[int, dict] = {}
        self._blocked: set[int] = set()
        self._kicked: set[int] = set()
        self._history: dict[int, list[dict]] = {}
        self._index: dict[tuple[int, int], dict] = {}
        self._next_message_id: dict[int, int] = {}
        self._files: dict[str, dict] = {}
        self._files_by_path: dict[str, dict] = {}
        self._file_counter = 0
        self._callbacks: dict[str, dict] = {}
        self._callback_counter = 0
        self._chat_actions: list[dict] = []
        self._commands: dict[str, list[dict]] = {}
        self._listeners: list[Callable[[dict], None]] = []
        self._menu_buttons: dict[int | None, dict] = {}
        self._admin_chats: set[int] = set()  # groups where the bot may delete others' messages

        self._next_update_id = 100000
        self._pending: list[dict] = []
        self._update_meta: dict[int, dict] = {}
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0

        self._webhook: dict[str, Any] | None = None
        self._webhook_last_error: tuple[int, str] | None = None
        self._webhook_deliveries: list[dict] = []

        self._flood: dict[Any, list[int]] = {}
        self._failures: dict[str, list[ApiError]] = {}
        self._calls: list[dict] = []

    # ---------------------------------------------------------------- lifecycle
    @property
    def base_url(self) -> str:
        """Root URL, e.g. http://127.0.0.1:PORT (what TELEGRAM_API_URL should be set to)."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """``base_url`` argument for ``telegram.Bot`` (root + "/bot")."""
        return f"{self.base_url}/bot"

    @property
    def file_url(self) -> str:
        """``base_file_url`` argument for ``telegram.Bot`` (root + "/file/bot")."""
        return f"{self.base_url}/file/bot"

    def start(self, port: int | None = None) -> str:
        """Start serving (port 0 = ephemeral); returns ``base_url``. May be restarted after stop()."""
        if self._httpd is not None:
            return self.base_url
        with self._lock:
            self._stopping = False
            self._stop_event.clear()
        self._httpd = _Server((self.host, self.port if port is None else port), self)
        self.port = self._httpd.server_address[1]
        self._serve_thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fakebotapi-http", daemon=True
        )
        self._serve_thread.start()
        self._webhook_thread = threading.Thread(target=self._webhook_loop, name="fakebotapi-webhook", daemon=True)
        self._webhook_thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and drop open connections. State is kept, so start() can resume."""
        httpd = self._httpd
        if httpd is None:
            return
        with self._cond:
            self._stopping = True
            self._stop_event.set()
            self._cond.notify_all()
        httpd.shutdown()
        httpd.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for thread in (self._serve_thread, self._webhook_thread):
            if thread is not None:
                thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track_connection(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    # ---------------------------------------------------------------- HTTP dispatch
    def _handle_http(self, handler: _Handler) -> None:
        url = urllib.parse.urlsplit(handler.path)
        path = urllib.parse.unquote(url.path)
        try:
            body = handler.read_body()
        except (OSError, ValueError):
            handler.close_connection = True
            return
        if path.startswith("/file/bot"):
            self._handle_download(handler, path[len("/file/bot") :])
            return
        if not path.startswith("/bot") or "/" not in path[4:]:
            self._send_json(handler, ApiError(404, "Not Found").payload(), 404)
            return
        token, _, method = path[4:].partition("/")
        method = method.strip("/")
        started = time.monotonic()
        params_desc: dict = {}
        result: Any = None
        try:
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            values, files = self._parse_params(handler, url.query, body)
            params = _Params(values, files)
            params_desc = params.describe()
            result, description = self._dispatch(method, params)
            payload: dict[str, Any] = {"ok": True, "result": result}
            if description:
                payload["description"] = description
            status = 200
        except ApiError as err:
            payload, status = err.payload(), err.code
        except Exception as err:  # noqa: BLE001 - a bug in the fake must still produce an answer and a record
            payload = {"ok": False, "error_code": 500, "description": f"Internal Server Error: {err!r}"}
            status = 500
        self._record_call(method, params_desc, payload, status, started)
        self._send_json(handler, payload, status)

    @staticmethod
    def _send_json(handler: _Handler, payload: dict, status: int) -> None:
        handler.reply(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))

    @staticmethod
    def _parse_params(handler: _Handler, query: str, body: bytes) -> tuple[dict, dict]:
        values: dict[str, Any] = {k: v[-1] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
        files: dict[str, _Upload] = {}
        content_type = handler.headers.get("Content-Type", "")
        ctype = content_type.split(";")[0].strip().lower()
        if not body:
            return values, files
        if ctype == "application/json":
            try:
                data = json.loads(body.decode("utf-8"))
            except ValueError:
                raise _bad("can't parse JSON encoded request") from None
            if not isinstance(data, dict):
                raise _bad("JSON object expected")
            values.update(data)
        elif ctype == "multipart/form-data":
            if len(body) > UPLOAD_LIMIT + 1024 * 1024:
                raise ApiError(413, "Request Entity Too Large")
            more, files = _parse_multipart(body, content_type)
            values.update(more)
        else:
            parsed = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
            values.update({k: v[-1] for k, v in parsed.items()})
        return values, files

    def _dispatch(self, method: str, params: _Params) -> tuple[Any, str | None]:
        name = method.lower()
        handler = getattr(self, "_m_" + name, None) if re.fullmatch(r"[a-z]+", name) else None
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        with self._lock:
            queued = self._failures.get(name)
            if queued:
                raise queued.pop(0)
        outcome = handler(params)
        if isinstance(outcome, tuple):
            return outcome
        return outcome, None

    def _record_call(self, method: str, params: dict, payload: dict, status: int, started: float) -> None:
        now = time.monotonic()
        entry = {
            "method": method,
            "params": params,
            "ok": payload.get("ok", False),
            "status": status,
            "at": started,
            "duration": now - started,
        }
        if payload.get("ok"):
            entry["result"] = payload.get("result")
        else:
            entry["error_code"] = payload.get("error_code")
            entry["description"] = payload.get("description")
        with self._cond:
            self._calls.append(entry)
            self._cond.notify_all()

    def _handle_download(self, handler: _Handler, rest: str) -> None:
        token, _, file_path = rest.partition("/")
        if token != self.token:
            self._send_json(handler, ApiError(401, "Unauthorized").payload(), 401)
            return
        with self._lock:
            info = self._files_by_path.get(file_path)
            data = info.get("data") if info else None
        if data is None:
            self._send_json(handler, ApiError(404, "Not Found").payload(), 404)
            return
        handler.reply(200, data, info.get("mime_type") or "application/octet-stream")

    # ---------------------------------------------------------------- helpers (call with lock held)
    def _bot_user(self) -> dict:
        return {"id": self.bot_id, "is_bot": True, "first_name": self.first_name, "username": self.username}

    def _resolve_chat(self, params: _Params, key: str = "chat_id") -> dict:
        raw = params.raw(key)
        if raw is None or raw == "":
            raise _bad(f"{key} is empty")
        chat_id: int | None = None
        if isinstance(raw, str) and raw.strip().startswith("@"):
            wanted = raw.strip()[1:].lower()
            for chat in self._chats.values():
                if (chat.get("username") or "").lower() == wanted:
                    return chat
            raise _bad("chat not found")
        try:
            chat_id = int(raw) if not isinstance(raw, str) else int(raw.strip())
        except (TypeError, ValueError):
            raise _bad("chat not found") from None
        chat = self._chats.get(chat_id)
        if chat is None:
            raise _bad("chat not found")
        return chat

    def _check_writable(self, chat: dict, method: str) -> None:
        chat_id = chat["id"]
        if method in _SEND_METHODS:
            for key in (chat_id, None):
                queue = self._flood.get(key)
                if queue:
                    retry_after = queue.pop(0)
                    if not queue:
                        del self._flood[key]
                    raise ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})
        if chat["type"] == "private" and chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id in self._kicked:
            kind = "supergroup" if chat["type"] == "supergroup" else "group"
            raise ApiError(403, f"Forbidden: bot was kicked from the {kind} chat")

    def _new_message_id(self, chat_id: int) -> int:
        self._next_message_id[chat_id] = self._next_message_id.get(chat_id, 0) + 1
        return self._next_message_id[chat_id]

    def _find_message(self, chat_id: int, message_id: int | None) -> dict | None:
        if message_id is None:
            return None
        record = self._index.get((chat_id, message_id))
        if record is None or record["deleted"]:
            return None
        return record

    @staticmethod
    def _reply_copy(message: dict) -> dict:
        reply = copy.deepcopy(message)
        reply.pop("reply_to_message", None)
        return reply

    def _store_message(
        self,
        chat: dict,
        wire: dict,
        from_bot: bool,
        kind: str,
        *,
        raw: str | None = None,
        parse_mode: str | None = None,
        reply_markup: Any = None,
        method: str | None = None,
        params: dict | None = None,
    ) -> dict:
        now = time.monotonic()
        record = {
            "chat_id": chat["id"],
            "message_id": wire["message_id"],
            "from_bot": from_bot,
            "kind": kind,
            "text": wire.get("text"),
            "caption": wire.get("caption"),
            "entities": wire.get("entities") or wire.get("caption_entities") or [],
            "raw": raw,
            "parse_mode": parse_mode,
            "reply_markup": reply_markup,
            "reply_to_message_id": (wire.get("reply_to_message") or {}).get("message_id"),
            "message": wire,
            "date": wire["date"],
            "received_at": now,
            "edited_at": None,
            "deleted": False,
            "deleted_at": None,
            "method": method,
            "params": params,
            "history": [],
            "edits": [],
        }
        record["history"].append(self._version(record, method, now))
        self._history.setdefault(chat["id"], []).append(record)
        self._index[(chat["id"], wire["message_id"])] = record
        self._cond.notify_all()
        for listener in self._listeners:
            listener(record)
        return record

    @staticmethod
    def _version(record: dict, method: str | None, at: float) -> dict:
        return {
            "text": record["text"],
            "caption": record["caption"],
            "entities": copy.deepcopy(record["entities"]),
            "reply_markup": copy.deepcopy(record["reply_markup"]),
            "raw": record["raw"],
            "parse_mode": record["parse_mode"],
            "method": method,
            "at": at,
        }

    def _apply_edit(self, record: dict, method: str, params: dict) -> None:
        now = time.monotonic()
        record["edited_at"] = now
        record["message"]["edit_date"] = int(time.time())
        version = self._version(record, method, now)
        version["params"] = params
        record["history"].append(version)
        record["edits"].append(version)
        self._cond.notify_all()

    @staticmethod
    def _validate_markup(markup: Any) -> Any:
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _bad("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad('can\'t parse inline keyboard markup: Field "inline_keyboard" must be of type Array')
            actions = (
                "callback_data",
                "url",
                "switch_inline_query",
                "switch_inline_query_current_chat",
                "switch_inline_query_chosen_chat",
                "callback_game",
                "pay",
                "login_url",
                "web_app",
                "copy_text",
            )
            for row in rows:
                for button in row:
                    if not isinstance(button, dict):
                        raise _bad("can't parse inline keyboard button: InlineKeyboardButton must be an Object")
                    text = button.get("text")
                    if not isinstance(text, str) or not text.strip():
                        raise _bad("BUTTON_TEXT_INVALID")
                    if not any(key in button and button[key] is not None for key in actions):
                        raise _bad(
                            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
                        )
                    if "callback_data" in button:
                        data = button["callback_data"]
                        if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= CALLBACK_DATA_LIMIT:
                            raise _bad("BUTTON_DATA_INVALID")
                    if "url" in button:
                        url = button["url"]
                        if not isinstance(url, str) or not re.match(r"(https?|tg)://\S+$", url.strip()):
                            raise _bad("BUTTON_URL_INVALID")
            return markup
        if "keyboard" in markup:
            rows = markup["keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise _bad('can\'t parse reply keyboard markup: Field "keyboard" must be of type Array')
            for row in rows:
                for button in row:
                    text = button.get("text") if isinstance(button, dict) else button
                    if not isinstance(text, str) or not text.strip():
                        raise _bad("can't parse keyboard button: Text must be non-empty")
            return markup
        if markup.get("remove_keyboard") or markup.get("force_reply"):
            return markup
        raise _bad("can't parse reply keyboard markup JSON object")

    def _reply_target(self, chat: dict, params: _Params) -> dict | None:
        reply_id, allow_missing = params.int("reply_to_message_id"), params.bool("allow_sending_without_reply")
        reply_parameters = params.json("reply_parameters")
        if isinstance(reply_parameters, dict):
            reply_id = reply_parameters.get("message_id", reply_id)
            allow_missing = bool(reply_parameters.get("allow_sending_without_reply", allow_missing))
            if reply_parameters.get("chat_id") not in (None, chat["id"], str(chat["id"])):
                raise _bad("message to be replied not found")
        if not reply_id:
            return None
        target = self._find_message(chat["id"], int(reply_id))
        if target is None and not allow_missing:
            raise _bad("message to be replied not found")
        return target

    def _text_content(
        self, params: _Params, key: str, entities_key: str, limit: int, empty_error: str | None, too_long: str
    ) -> tuple[str | None, list[dict], str | None]:
        raw = params.str(key)
        if raw is None and empty_error is None:
            return None, [], None
        parse_mode = params.str("parse_mode")
        plain, entities = format_text(raw or "", parse_mode, params.json(entities_key))
        if not plain:
            if empty_error:
                raise _bad(empty_error)
            return None, [], raw
        if u16len(plain) > limit:
            raise _bad(too_long)
        return plain, entities, raw

    def _caption(self, params: _Params) -> tuple[dict, str | None]:
        caption, entities, raw = self._text_content(
            params, "caption", "caption_entities", CAPTION_LIMIT, None, "message caption is too long"
        )
        content: dict[str, Any] = {}
        if caption:
            content["caption"] = caption
            if entities:
                content["caption_entities"] = entities
        return content, raw

    def _send(
        self,
        chat: dict,
        content: dict,
        kind: str,
        params: _Params,
        method: str,
        raw: str | None,
        markup: Any,
        reply_to: dict | None,
    ) -> dict:
        wire: dict[str, Any] = {
            "message_id": self._new_message_id(chat["id"]),
            "from": self._bot_user(),
            "chat": copy.deepcopy(chat),
            "date": int(time.time()),
        }
        if reply_to is not None:
            wire["reply_to_message"] = self._reply_copy(reply_to["message"])
        wire.update(content)
        if markup and "inline_keyboard" in markup:
            wire["reply_markup"] = markup
        self._store_message(
            chat,
            wire,
            True,
            kind,
            raw=raw,
            parse_mode=params.str("parse_mode"),
            reply_markup=markup,
            method=method,
            params=params.describe(),
        )
        return copy.deepcopy(wire)

    def _new_file(
        self,
        kind: str,
        data: bytes | None,
        file_name: str | None,
        mime_type: str | None,
        extension: str | None = None,
        origin: str = "user",
        url: str | None = None,
    ) -> dict:
        self._file_counter += 1
        n = self._file_counter
        if extension is None:
            guessed = mimetypes.guess_extension(mime_type or "") if mime_type else None
            suffix = file_name.rsplit(".", 1)[-1] if file_name and "." in file_name else None
            extension = suffix or (guessed or ".bin").lstrip(".")
        folder = {"document": "documents", "photo": "photos", "voice": "voice", "sticker": "stickers"}.get(kind, kind)
        info = {
            "file_id": f"{kind.upper()[:3]}ACAgIAAxkBAAI{n:06d}fake",
            "file_unique_id": f"AgAD{n:06d}",
            "file_size": len(data) if data is not None else 0,
            "file_path": f"{folder}/file_{n}.{extension}",
            "file_name": file_name,
            "mime_type": mime_type,
            "kind": kind,
            "data": data,
            "origin": origin,
            "url": url,
            "created_at": time.monotonic(),
        }
        self._files[info["file_id"]] = info
        self._files_by_path[info["file_path"]] = info
        return info

    def _input_file(self, params: _Params, key: str, kind: str) -> dict:
        upload = params.files.get(key)
        value = params.str(key) if upload is None else None
        if value and value.startswith("attach://"):
            upload = params.files.get(value[len("attach://") :])
            if upload is None:
                raise _bad("wrong remote file identifier specified: can't find attached file")
        if upload is not None:
            if len(upload.data) > UPLOAD_LIMIT:
                raise ApiError(413, "Request Entity Too Large")
            if not upload.data:
                raise _bad("file must be non-empty")
            mime = upload.content_type
            if not mime or mime == "application/octet-stream":
                mime = mimetypes.guess_type(upload.filename or "")[0] or mime or "application/octet-stream"
            return self._new_file(kind, upload.data, upload.filename or kind, mime, origin="bot")
        if not value:
            raise _bad(f"there is no {kind} in the request")
        if value in self._files:
            return self._files[value]
        if re.match(r"https?://", value):
            name = urllib.parse.urlsplit(value).path.rsplit("/", 1)[-1] or kind
            return self._new_file(kind, None, name, mimetypes.guess_type(name)[0], origin="url", url=value)
        raise _bad("wrong file identifier/HTTP URL specified")

    @staticmethod
    def _image_size(data: bytes | None) -> tuple[int, int]:
        if data and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
            return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        return 1280, 720

    @staticmethod
    def _is_image(data: bytes) -> bool:
        return (
            data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"))
            or data[:6] in (b"GIF87a", b"GIF89a")
            or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
            or data[:2] == b"BM"
        )

    @staticmethod
    def _file_object(info: dict) -> dict:
        obj = {"file_id": info["file_id"], "file_unique_id": info["file_unique_id"], "file_size": info["file_size"]}
        return obj

    def _photo_sizes(self, info: dict) -> list[dict]:
        """Two PhotoSizes (thumbnail, full); both file ids resolve to the same stored bytes."""
        width, height = self._image_size(info.get("data"))
        scale = 90 / max(width, height, 1)
        thumb = {
            **info,
            "file_id": info["file_id"] + "_s",
            "file_unique_id": info["file_unique_id"] + "s",
            "alias": True,
        }
        self._files.setdefault(thumb["file_id"], thumb)
        return [
            {
                **self._file_object(thumb),
                "width": max(1, round(width * scale)),
                "height": max(1, round(height * scale)),
            },
            {**self._file_object(info), "width": width, "height": height},
        ]

    # ---------------------------------------------------------------- Bot API methods
    def _m_getme(self, params: _Params) -> dict:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _m_getupdates(self, params: _Params) -> list[dict]:
        offset = params.int("offset", 0) or 0
        limit = min(max(params.int("limit", 100) or 100, 1), 100)
        timeout = max(params.float("timeout", 0.0) or 0.0, 0.0)
        allowed = params.json("allowed_updates")
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._webhook is not None:
                raise ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            if isinstance(allowed, list):
                self._allowed_updates = [str(a) for a in allowed]
            self._poll_generation += 1
            generation = self._poll_generation
            self._cond.notify_all()
            self._confirm_updates(offset)
            while True:
                if self._stopping:
                    return []
                if self._poll_generation != generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                if self._webhook is not None:
                    raise ApiError(
                        409,
                        "Conflict: can't use getUpdates method while webhook is active; "
                        "use deleteWebhook to delete the webhook first",
                    )
                updates = self._deliverable(limit)
                if updates:
                    now = time.monotonic()
                    for update in updates:
                        meta = self._update_meta[update["update_id"]]
                        if meta["delivered_at"] is None:
                            meta["delivered_at"] = now
                        meta["deliveries"] += 1
                    return copy.deepcopy(updates)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)

    def _confirm_updates(self, offset: int) -> None:
        if offset > 0:
            confirmed = [u for u in self._pending if u["update_id"] < offset]
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            keep = -offset
            confirmed = self._pending[:-keep] if keep < len(self._pending) else []
            self._pending = self._pending[-keep:]
        else:
            return
        now = time.monotonic()
        for update in confirmed:
            self._update_meta[update["update_id"]]["confirmed_at"] = now
        if confirmed:
            self._cond.notify_all()

    def _allowed(self, update: dict) -> bool:
        kind = next(k for k in update if k != "update_id")
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in _DEFAULT_EXCLUDED_UPDATES

    def _deliverable(self, limit: int) -> list[dict]:
        dropped = [u for u in self._pending if not self._allowed(u)]
        if dropped:
            now = time.monotonic()
            for update in dropped:
                self._update_meta[update["update_id"]]["dropped_at"] = now
            self._pending = [u for u in self._pending if self._allowed(u)]
        return self._pending[:limit]

    def _m_setwebhook(self, params: _Params) -> tuple[bool, str]:
        url = (params.str("url") or "").strip()
        secret = params.str("secret_token")
        with self._cond:
            if not url:
                return self._m_deletewebhook(params)
            if not re.match(r"https?://[^/\s]+", url):
                raise _bad("bad webhook: Failed to resolve host: Name or service not known")
            if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
                raise _bad("secret token contains unallowed characters")
            allowed = params.json("allowed_updates")
            if isinstance(allowed, list):
                self._allowed_updates = [str(a) for a in allowed]
            if params.bool("drop_pending_updates"):
                self._drop_pending()
            self._webhook = {
                "url": url,
                "secret_token": secret,
                "max_connections": params.int("max_connections", 40) or 40,
                "ip_address": params.str("ip_address"),
                "has_custom_certificate": "certificate" in params,
            }
            self._webhook_last_error = None
            self._poll_generation += 1  # a waiting long poll ends with 409
            self._cond.notify_all()
        return True, "Webhook was set"

    def _m_deletewebhook(self, params: _Params) -> tuple[bool, str]:
        with self._cond:
            if params.bool("drop_pending_updates"):
                self._drop_pending()
            was_set = self._webhook is not None
            self._webhook = None
            self._cond.notify_all()
        return True, ("Webhook was deleted" if was_set else "Webhook is already deleted")

    def _drop_pending(self) -> None:
        now = time.monotonic()
        for update in self._pending:
            self._update_meta[update["update_id"]]["dropped_at"] = now
        self._pending = []

    def _m_getwebhookinfo(self, params: _Params) -> dict:
        with self._lock:
            info: dict[str, Any] = {
                "url": "",
                "has_custom_certificate": False,
                "pending_update_count": len(self._pending),
            }
            if self._webhook is not None:
                info.update(
                    url=self._webhook["url"],
                    has_custom_certificate=self._webhook["has_custom_certificate"],
                    max_connections=self._webhook["max_connections"],
                    ip_address="127.0.0.1",
                )
                if self._allowed_updates:
                    info["allowed_updates"] = list(self._allowed_updates)
            if self._webhook_last_error is not None:
                info["last_error_date"], info["last_error_message"] = self._webhook_last_error
            return info

    def _m_sendmessage(self, params: _Params) -> dict:
        with self._lock:
            chat = self._resolve_chat(params)
            text, entities, raw = self._text_content(
                params, "text", "entities", TEXT_LIMIT, "message text is empty", "message is too long"
            )
            markup = self._validate_markup(params.json("reply_markup"))
            reply_to = self._reply_target(chat, params)
            self._check_writable(chat, "sendmessage")
            content: dict[str, Any] = {"text": text}
            if entities:
                content["entities"] = entities
            return self._send(chat, content, "text", params, "sendMessage", raw, markup, reply_to)

    def _m_senddocument(self, params: _Params) -> dict:
        with self._lock:
            chat = self._resolve_chat(params)
            caption, raw = self._caption(params)
            markup = self._validate_markup(params.json("reply_markup"))
            reply_to = self._reply_target(chat, params)
            self._check_writable(chat, "senddocument")
            info = self._input_file(params, "document", "document")
            document = {
                **self._file_object(info),
                "file_name": info.get("file_name") or "document",
                "mime_type": info.get("mime_type") or "application/octet-stream",
            }
            return self._send(
                chat, {"document": document, **caption}, "document", params, "sendDocument", raw, markup, reply_to
            )

    def _m_sendphoto(self, params: _Params) -> dict:
        with self._lock:
            chat = self._resolve_chat(params)
            caption, raw = self._caption(params)
            markup = self._validate_markup(params.json("reply_markup"))
            reply_to = self._reply_target(chat, params)
            self._check_writable(chat, "sendphoto")
            upload = params.files.get("photo")
            if upload is not None and upload.data and not self._is_image(upload.data):
                raise _bad("IMAGE_PROCESS_FAILED")
            info = self._input_file(params, "photo", "photo")
            return self._send(
                chat, {"photo": self._photo_sizes(info), **caption}, "photo", params, "sendPhoto", raw, markup, reply_to
            )

    _CONTENT_KEYS = (
        "text",
        "entities",
        "document",
        "photo",
        "sticker",
        "voice",
        "audio",
        "video",
        "animation",
        "caption",
        "caption_entities",
        "contact",
        "location",
    )

    def _source_message(self, params: _Params, missing: str) -> dict:
        from_chat = self._resolve_chat(params, "from_chat_id")
        message_id = params.int("message_id")
        if message_id is None:
            raise _bad("message_id is empty")
        source = self._find_message(from_chat["id"], message_id)
        if source is None:
            raise _bad(missing)
        return source

    def _m_copymessage(self, params: _Params) -> dict:
        with self._lock:
            chat = self._resolve_chat(params)
            source = self._source_message(params, "message to copy not found")
            markup = self._validate_markup(params.json("reply_markup"))
            reply_to = self._reply_target(chat, params)
            content = {k: copy.deepcopy(v) for k, v in source["message"].items() if k in self._CONTENT_KEYS}
            if not content:
                raise _bad("message can't be copied")
            raw = source["raw"]
            if "caption" in params:
                content.pop("caption", None)
                content.pop("caption_entities", None)
                extra, raw = self._caption(params)
                content.update(extra)
            self._check_writable(chat, "copymessage")
            kind = "text" if "text" in content else source["kind"]
            wire = self._send(chat, content, kind, params, "copyMessage", raw, markup, reply_to)
            return {"message_id": wire["message_id"]}

    def _m_forwardmessage(self, params: _Params) -> dict:
        with self._lock:
            chat = self._resolve_chat(params)
            source = self._source_message(params, "message to forward not found")
            self._check_writable(chat, "forwardmessage")
            content = {k: copy.deepcopy(v) for k, v in source["message"].items() if k in self._CONTENT_KEYS}
            original = source["message"]
            sender = original.get("from") or {}
            if original["chat"]["type"] in ("channel",):
                origin = {
                    "type": "channel",
                    "chat": original["chat"],
                    "message_id": original["message_id"],
                    "date": original["date"],
                }
            else:
                origin = {"type": "user", "sender_user": sender, "date": original["date"]}
            content["forward_origin"] = origin
            return self._send(chat, content, source["kind"], params, "forwardMessage", source["raw"], None, None)

    def _edit_chat(self, params: _Params) -> dict:
        if params.str("inline_message_id"):
            raise _bad("MESSAGE_ID_INVALID")
        return self._resolve_chat(params)

    def _edit_target(self, chat: dict, params: _Params) -> dict:
        message_id = params.int("message_id")
        if message_id is None:
            raise _bad("message identifier is not specified")
        record = self._find_message(chat["id"], message_id)
        if record is None:
            raise _bad("message to edit not found")
        self._check_writable(chat, "edit")
        if not record["from_bot"]:
            raise _bad("message can't be edited")
        return record

    _NOT_MODIFIED = (
        "message is not modified: specified new message content and reply markup are exactly "
        "the same as a current content and reply markup of the message"
    )

    def _m_editmessagetext(self, params: _Params) -> dict:
        with self._lock:
            chat = self._edit_chat(params)
            text, entities, raw = self._text_content(
                params, "text", "entities", TEXT_LIMIT, "message text is empty", "message is too long"
            )
            markup = self._validate_markup(params.json("reply_markup"))
            record = self._edit_target(chat, params)
            if record["text"] is None:
                raise _bad("there is no text in the message to edit")
            old_inline = (
                record["reply_markup"]
                if record["reply_markup"] and "inline_keyboard" in record["reply_markup"]
                else None
            )
            if text == record["text"] and entities == (record["entities"] or []) and markup == old_inline:
                raise _bad(self._NOT_MODIFIED)
            wire = record["message"]
            wire["text"] = text
            wire.pop("entities", None)
            if entities:
                wire["entities"] = entities
            wire.pop("reply_markup", None)
            if markup and "inline_keyboard" in markup:
                wire["reply_markup"] = markup
            record.update(
                text=text,
                entities=entities,
                raw=raw,
                parse_mode=params.str("parse_mode"),
                reply_markup=markup if markup and "inline_keyboard" in markup else None,
            )
            self._apply_edit(record, "editMessageText", params.describe())
            return copy.deepcopy(wire)

    def _m_editmessagecaption(self, params: _Params) -> dict:
        with self._lock:
            chat = self._edit_chat(params)
            caption, raw = self._caption(params)
            markup = self._validate_markup(params.json("reply_markup"))
            record = self._edit_target(chat, params)
            wire = record["message"]
            if not any(k in wire for k in ("document", "photo", "video", "audio", "animation", "voice")):
                raise _bad("there is no caption in the message to edit")
            old_inline = (
                record["reply_markup"]
                if record["reply_markup"] and "inline_keyboard" in record["reply_markup"]
                else None
            )
            new_entities = caption.get("caption_entities", [])
            if (
                caption.get("caption") == record["caption"]
                and new_entities == (record["entities"] or [])
                and markup == old_inline
            ):
                raise _bad(self._NOT_MODIFIED)
            for key in ("caption", "caption_entities", "reply_markup"):
                wire.pop(key, None)
            wire.update(caption)
            if markup and "inline_keyboard" in markup:
                wire["reply_markup"] = markup
            record.update(
                caption=caption.get("caption"),
                entities=new_entities,
                raw=raw,
                parse_mode=params.str("parse_mode"),
                reply_markup=markup if markup and "inline_keyboard" in markup else None,
            )
            self._apply_edit(record, "editMessageCaption", params.describe())
            return copy.deepcopy(wire)

    def _m_editmessagereplymarkup(self, params: _Params) -> dict:
        with self._lock:
            chat = self._edit_chat(params)
            markup = self._validate_markup(params.json("reply_markup"))
            if markup is not None and "inline_keyboard" not in markup:
                raise _bad("inline keyboard expected")
            record = self._edit_target(chat, params)
            old_inline = (
                record["reply_markup"]
                if record["reply_markup"] and "inline_keyboard" in record["reply_markup"]
                else None
            )
            if markup == old_inline or (not old_inline and not (markup or {}).get("inline_keyboard")):
                raise _bad(self._NOT_MODIFIED)
            wire = record["message"]
            wire.pop("reply_markup", None)
            if markup and markup.get("inline_keyboard"):
                wire["reply_markup"] = markup
            record["reply_markup"] = markup if markup and markup.get("inline_keyboard") else None
            self._apply_edit(record, "editMessageReplyMarkup", params.describe())
            return copy.deepcopy(wire)

    def _m_deletemessage(self, params: _Params) -> bool:
        with self._lock:
            chat = self._resolve_chat(params)
            message_id = params.int("message_id")
            if message_id is None:
                raise _bad("message identifier is not specified")
            record = self._find_message(chat["id"], message_id)
            if record is None:
                raise _bad("message to delete not found")
            if chat["type"] != "private" and not record["from_bot"] and chat["id"] not in self._admin_chats:
                raise _bad("message can't be deleted")
            record["deleted"] = True
            record["deleted_at"] = time.monotonic()
            self._cond.notify_all()
            return True

    def _m_answercallbackquery(self, params: _Params) -> bool:
        with self._lock:
            query_id = params.str("callback_query_id") or ""
            query = self._callbacks.get(query_id)
            if query is None or query["answered_at"] is not None:
                raise _bad("query is too old and response timeout expired or query ID is invalid")
            text = params.str("text")
            if text is not None and u16len(text) > 200:
                raise _bad("MESSAGE_TOO_LONG")
            query["answered_at"] = time.monotonic()
            query["answer"] = {
                "text": text,
                "show_alert": params.bool("show_alert"),
                "url": params.str("url"),
                "cache_time": params.int("cache_time"),
            }
            self._cond.notify_all()
            return True

    def _m_sendchataction(self, params: _Params) -> bool:
        with self._lock:
            chat = self._resolve_chat(params)
            action = params.str("action")
            if not action:
                raise _bad("action is empty")
            if action not in _CHAT_ACTIONS:
                raise _bad("wrong parameter action in request")
            self._check_writable(chat, "sendchataction")
            self._chat_actions.append({"chat_id": chat["id"], "action": action, "at": time.monotonic()})
            self._cond.notify_all()
            return True

    def _m_getfile(self, params: _Params) -> dict:
        with self._lock:
            file_id = params.str("file_id") or ""
            info = self._files.get(file_id)
            if info is None:
                raise _bad("invalid file_id")
            if info["file_size"] > DOWNLOAD_LIMIT:
                raise _bad("file is too big")
            return {**self._file_object(info), "file_path": info["file_path"]}

    def _scope_key(self, params: _Params) -> str:
        scope = params.json("scope") or {"type": "default"}
        if not isinstance(scope, dict) or scope.get("type") not in (
            "default",
            "all_private_chats",
            "all_group_chats",
            "all_chat_administrators",
            "chat",
            "chat_administrators",
            "chat_member",
        ):
            raise _bad("can't parse BotCommandScope JSON object")
        scope = dict(scope)
        if scope["type"] in ("chat", "chat_administrators", "chat_member"):
            scope["chat_id"] = self._resolve_chat(_Params({"chat_id": scope.get("chat_id")}, {}))["id"]
            if scope["type"] == "chat_member":
                scope["user_id"] = int(scope.get("user_id") or 0)
        language = params.str("language_code") or ""
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad("invalid language code specified")
        return json.dumps([scope, language], sort_keys=True)

    def _m_setmycommands(self, params: _Params) -> bool:
        with self._lock:
            commands = params.json("commands")
            if not isinstance(commands, list):
                raise _bad("can't parse commands JSON object")
            if len(commands) > 100:
                raise _bad("too many commands specified")
            clean = []
            for command in commands:
                if not isinstance(command, dict):
                    raise _bad("can't parse BotCommand JSON object")
                name = str(command.get("command", "")).lstrip("/")
                description = str(command.get("description", ""))
                if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                    raise _bad("BOT_COMMAND_INVALID")
                if not 1 <= len(description.strip()) <= 256:
                    raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
                clean.append({"command": name, "description": description})
            key = self._scope_key(params)
            if clean:
                self._commands[key] = clean
            else:
                self._commands.pop(key, None)
            return True

    def _m_getmycommands(self, params: _Params) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._commands.get(self._scope_key(params), []))

    def _m_deletemycommands(self, params: _Params) -> bool:
        with self._lock:
            self._commands.pop(self._scope_key(params), None)
            return True

    def _m_setchatmenubutton(self, params: _Params) -> bool:
        with self._lock:
            chat_id = self._resolve_chat(params)["id"] if params.raw("chat_id") not in (None, "") else None
            if chat_id is not None and self._chats[chat_id]["type"] != "private":
                raise _bad("chat not found")
            button = params.json("menu_button") or {"type": "default"}
            if not isinstance(button, dict) or button.get("type") not in ("commands", "web_app", "default"):
                raise _bad("can't parse menu button JSON object")
            if button["type"] == "web_app" and (not button.get("text") or not (button.get("web_app") or {}).get("url")):
                raise _bad("can't parse menu button JSON object")
            self._menu_buttons[chat_id] = button
            return True

    def _m_getchatmenubutton(self, params: _Params) -> dict:
        with self._lock:
            chat_id = self._resolve_chat(params)["id"] if params.raw("chat_id") not in (None, "") else None
            button = self._menu_buttons.get(chat_id) or self._menu_buttons.get(None) or {"type": "commands"}
            if button.get("type") == "default":
                button = self._menu_buttons.get(None) if chat_id is not None else None
                button = button if button and button.get("type") != "default" else {"type": "commands"}
            return copy.deepcopy(button)

    def _m_getchat(self, params: _Params) -> dict:
        with self._lock:
            chat = copy.deepcopy(self._resolve_chat(params))
            chat.update(
                accent_color_id=chat["id"] % 7 if chat["id"] > 0 else 0,
                max_reaction_count=11,
                accepted_gift_types={
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            )
            return chat

    # ---------------------------------------------------------------- webhook delivery
    def _webhook_loop(self) -> None:
        delay = self.webhook_retry_delay
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        while True:
            with self._cond:
                while not self._stopping and not (self._webhook is not None and self._deliverable(1)):
                    self._cond.wait(0.5)
                if self._stopping:
                    return
                hook = dict(self._webhook)
                update = copy.deepcopy(self._deliverable(1)[0])
            headers = {"Content-Type": "application/json"}
            if hook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
            request = urllib.request.Request(
                hook["url"], data=json.dumps(update).encode("utf-8"), headers=headers, method="POST"
            )
            error = None
            status = None
            try:
                with opener.open(request, timeout=10) as response:
                    status = response.status
                    response.read()
            except urllib.error.HTTPError as err:
                status = err.code
                error = f"Wrong response from the webhook: {err.code} {err.reason}"
            except (urllib.error.URLError, OSError) as err:
                reason = getattr(err, "reason", err)
                error = "Connection refused" if isinstance(reason, ConnectionRefusedError) else str(reason)
            now = time.monotonic()
            with self._cond:
                self._webhook_deliveries.append(
                    {"update_id": update["update_id"], "url": hook["url"], "status": status, "error": error, "at": now}
                )
                if error is None:
                    self._pending = [u for u in self._pending if u["update_id"] != update["update_id"]]
                    meta = self._update_meta[update["update_id"]]
                    meta["deliveries"] += 1
                    meta["delivered_at"] = meta["delivered_at"] or now
                    meta["confirmed_at"] = now
                    delay = self.webhook_retry_delay
                else:
                    self._update_meta[update["update_id"]]["deliveries"] += 1
                    self._webhook_last_error = (int(time.time()), error)
                self._cond.notify_all()
            if error is not None:
                if self._stop_event.wait(delay):
                    return
                delay = min(delay * 2, self.webhook_max_retry_delay)

    # ================================================================ test-side API
    # ---------------------------------------------------------------- setup
    def add_private_user(
        self,
        user_id: int,
        first_name: str = "Test User",
        language_code: str | None = "vi",
        username: str | None = None,
        last_name: str | None = None,
        is_premium: bool = False,
    ) -> dict:
        """Register a user and their private chat with the bot (chat id == user id). Returns the User."""
        user: dict[str, Any] = {"id": int(user_id), "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        if is_premium:
            user["is_premium"] = True
        chat: dict[str, Any] = {"id": int(user_id), "type": "private", "first_name": first_name}
        if last_name:
            chat["last_name"] = last_name
        if username:
            chat["username"] = username
        with self._cond:
            self._users[int(user_id)] = user
            self._chats[int(user_id)] = chat
            self._cond.notify_all()
        return copy.deepcopy(user)

    def add_group(
        self, chat_id: int, title: str, type: str | None = None, username: str | None = None, admin: bool = False
    ) -> dict:
        """Register a group (ids <= -10**12 default to "supergroup", other negative ids to "group").

        ``admin=True`` lets the bot delete other people's messages there.
        """
        chat_type = type or ("supergroup" if chat_id <= -(10**12) else "group")
        chat: dict[str, Any] = {"id": int(chat_id), "type": chat_type, "title": title}
        if username:
            chat["username"] = username
        with self._cond:
            self._chats[int(chat_id)] = chat
            if admin:
                self._admin_chats.add(int(chat_id))
            self._cond.notify_all()
        return copy.deepcopy(chat)

    def block(self, user_id: int, notify: bool = False) -> None:
        """The user blocks the bot: sends/edits to their private chat fail with 403.

        ``notify=True`` also injects the my_chat_member update Telegram sends in that case.
        """
        with self._cond:
            self._require_user(user_id)
            self._blocked.add(int(user_id))
            if notify:
                self._inject_member_change(int(user_id), "member", "kicked")
            self._cond.notify_all()

    def unblock(self, user_id: int, notify: bool = False) -> None:
        with self._cond:
            self._require_user(user_id)
            if int(user_id) in self._blocked:
                self._blocked.discard(int(user_id))
                if notify:
                    self._inject_member_change(int(user_id), "kicked", "member")
            self._cond.notify_all()

    def is_blocked(self, user_id: int) -> bool:
        with self._lock:
            return int(user_id) in self._blocked

    def kick_bot(self, chat_id: int) -> None:
        """The bot is removed from a group: sends there fail with 403 "bot was kicked"."""
        with self._cond:
            if int(chat_id) not in self._chats:
                raise KeyError(f"unknown chat {chat_id}")
            self._kicked.add(int(chat_id))

    def set_flood(self, chat_id: int | None, retry_after: int, count: int = 1) -> None:
        """The next ``count`` sends to ``chat_id`` (None = any chat) fail with 429 retry_after."""
        with self._lock:
            self._flood.setdefault(None if chat_id is None else int(chat_id), []).extend([int(retry_after)] * count)

    def fail_next(
        self,
        method: str,
        error_code: int = 500,
        description: str = "Internal Server Error",
        count: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """The next ``count`` calls of ``method`` fail with the given error (before any validation)."""
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        with self._lock:
            self._failures.setdefault(method.lower(), []).extend(
                ApiError(error_code, description, parameters) for _ in range(count)
            )

    # ---------------------------------------------------------------- injecting updates
    def _require_user(self, user_id: int) -> dict:
        user = self._users.get(int(user_id))
        if user is None:
            raise KeyError(f"user {user_id} is not registered; call add_private_user() first")
        return user

    def _inject(self, kind: str, payload: dict) -> dict:
        update_id = self._next_update_id
        self._next_update_id += 1
        update = {"update_id": update_id, kind: payload}
        self._pending.append(update)
        self._update_meta[update_id] = {
            "update": update,
            "kind": kind,
            "injected_at": time.monotonic(),
            "delivered_at": None,
            "confirmed_at": None,
            "dropped_at": None,
            "deliveries": 0,
        }
        self._cond.notify_all()
        return copy.deepcopy(update)

    def _inject_member_change(self, user_id: int, old: str, new: str) -> None:
        user = self._users[user_id]
        bot = {**self._bot_user()}
        self._inject(
            "my_chat_member",
            {
                "chat": copy.deepcopy(self._chats[user_id]),
                "from": copy.deepcopy(user),
                "date": int(time.time()),
                "old_chat_member": {"status": old, "user": bot}
                if old != "kicked"
                else {"status": "kicked", "user": bot, "until_date": 0},
                "new_chat_member": {"status": new, "user": bot}
                if new != "kicked"
                else {"status": "kicked", "user": bot, "until_date": 0},
            },
        )

    def inject_update(self, kind: str, payload: dict) -> dict:
        """Inject an arbitrary update, e.g. inject_update("my_chat_member", {...}). Returns it."""
        with self._cond:
            return self._inject(kind, copy.deepcopy(payload))

    def _user_message(
        self, user_id: int, content: dict, chat_id: int | None, reply_to_message_id: int | None, kind: str
    ) -> dict:
        with self._cond:
            user = self._require_user(user_id)
            target = int(chat_id) if chat_id is not None else int(user_id)
            chat = self._chats.get(target)
            if chat is None:
                raise KeyError(f"chat {target} is not registered")
            if chat["type"] == "private" and target in self._blocked:
                self._blocked.discard(target)  # writing to a blocked bot means pressing "Restart"
            wire: dict[str, Any] = {
                "message_id": self._new_message_id(target),
                "from": copy.deepcopy(user),
                "chat": copy.deepcopy(chat),
                "date": int(time.time()),
            }
            if reply_to_message_id is not None:
                replied = self._find_message(target, int(reply_to_message_id))
                if replied is None:
                    raise KeyError(f"message {reply_to_message_id} not found in chat {target}")
                wire["reply_to_message"] = self._reply_copy(replied["message"])
            wire.update(content)
            self._store_message(chat, wire, False, kind, raw=content.get("text") or content.get("caption"))
            return self._inject("message", wire)

    def send_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        reply_to_message_id: int | None = None,
        entities: list[dict] | None = None,
    ) -> dict:
        """The user writes ``text`` (to their private chat unless chat_id). Returns the Update dict."""
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._user_message(user_id, content, chat_id, reply_to_message_id, "text")

    def send_command(
        self, user_id: int, command: str, chat_id: int | None = None, reply_to_message_id: int | None = None
    ) -> dict:
        """The user sends e.g. "/start" or "/start payload" (with a bot_command entity)."""
        if not command.startswith("/"):
            command = "/" + command
        head = command.split(maxsplit=1)[0] if command.strip() else command
        return self.send_text(
            user_id,
            command,
            chat_id,
            reply_to_message_id,
            entities=[{"type": "bot_command", "offset": 0, "length": u16len(head)}],
        )

    def send_sticker(self, user_id: int, emoji: str = "👍", chat_id: int | None = None) -> dict:
        with self._lock:
            info = self._new_file("sticker", b"RIFF\x00\x00\x00\x00WEBPVP8 ", None, "image/webp", "webp")
            sticker = {
                **self._file_object(info),
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": emoji,
            }
        return self._user_message(user_id, {"sticker": sticker}, chat_id, None, "sticker")

    def send_photo(
        self, user_id: int, caption: str | None = None, chat_id: int | None = None, data: bytes | None = None
    ) -> dict:
        data = data if data is not None else _TINY_PNG
        with self._lock:
            info = self._new_file("photo", data, None, "image/jpeg", "jpg")
            content: dict[str, Any] = {"photo": self._photo_sizes(info)}
        if caption:
            content["caption"] = caption
        return self._user_message(user_id, content, chat_id, None, "photo")

    def send_document(
        self,
        user_id: int,
        file_name: str,
        data: bytes,
        mime_type: str | None = None,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> dict:
        """The user uploads a file; getFile and the download URL then serve ``data``."""
        mime_type = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        with self._lock:
            info = self._new_file("document", bytes(data), file_name, mime_type)
            document = {**self._file_object(info), "file_name": file_name, "mime_type": mime_type}
        content: dict[str, Any] = {"document": document}
        if caption:
            content["caption"] = caption
        return self._user_message(user_id, content, chat_id, None, "document")

    def send_voice(
        self, user_id: int, duration: int = 3, chat_id: int | None = None, data: bytes | None = None
    ) -> dict:
        data = data if data is not None else b"OggS" + b"\x00" * 60
        with self._lock:
            info = self._new_file("voice", data, None, "audio/ogg", "oga")
            voice = {**self._file_object(info), "duration": duration, "mime_type": "audio/ogg"}
        return self._user_message(user_id, {"voice": voice}, chat_id, None, "voice")

    def click(self, user_id: int, chat_id: int, message_id: int, callback_data: str, check: bool = True) -> str:
        """The user presses the inline button with ``callback_data`` on a bot message.

        Injects a callback_query update and returns its id. With ``check`` (default) the button must
        exist in the message's current inline keyboard, as for a real user.
        """
        with self._cond:
            user = self._require_user(user_id)
            record = self._find_message(int(chat_id), int(message_id))
            if record is None:
                raise AssertionError(f"message {message_id} not found (or deleted) in chat {chat_id}")
            if check:
                available = [data for _, data in self._inline_buttons(record["reply_markup"])]
                if callback_data not in available:
                    raise AssertionError(
                        f"message {message_id} in chat {chat_id} has no button with callback_data "
                        f"{callback_data!r}; buttons: {self._buttons_of(record['reply_markup'])}"
                    )
            self._callback_counter += 1
            query_id = str(4_500_000_000_000_000_000 + int(user_id) % 10**9 * 1000 + self._callback_counter)
            query = {
                "id": query_id,
                "from": copy.deepcopy(user),
                "message": copy.deepcopy(record["message"]),
                "chat_instance": str((int(chat_id) * 2654435761) % 10**19),
                "data": callback_data,
            }
            update = self._inject("callback_query", query)
            self._callbacks[query_id] = {
                "id": query_id,
                "user_id": int(user_id),
                "chat_id": int(chat_id),
                "message_id": int(message_id),
                "data": callback_data,
                "update_id": update["update_id"],
                "injected_at": time.monotonic(),
                "answered_at": None,
                "answer": None,
            }
            return query_id

    def press_button(
        self, user_id: int, message: dict, callback_data: str | None = None, text: str | None = None, check: bool = True
    ) -> str:
        """Press a button of ``message`` (a record from messages()/wait_for_message or a Message dict),
        chosen by callback_data or by its label ``text``. Returns the callback query id."""
        chat_id, message_id = self._message_address(message)
        if callback_data is None:
            if text is None:
                raise ValueError("give callback_data or text")
            with self._lock:
                record = self._find_message(chat_id, message_id)
                markup = record["reply_markup"] if record else message.get("reply_markup")
            matches = [data for label, data in self._inline_buttons(markup) if label == text]
            if not matches:
                raise AssertionError(f"no button labelled {text!r}; buttons: {self._buttons_of(markup)}")
            callback_data = matches[0]
        return self.click(user_id, chat_id, message_id, callback_data, check=check)

    @staticmethod
    def _message_address(message: dict) -> tuple[int, int]:
        if "chat_id" in message:
            return int(message["chat_id"]), int(message["message_id"])
        return int(message["chat"]["id"]), int(message["message_id"])

    # ---------------------------------------------------------------- reading what the bot did
    @staticmethod
    def _inline_buttons(markup: Any) -> list[tuple[str, str | None]]:
        if not markup or "inline_keyboard" not in markup:
            return []
        return [(b.get("text"), b.get("callback_data")) for row in markup["inline_keyboard"] for b in row]

    @classmethod
    def _buttons_of(cls, markup: Any) -> list[tuple[str, str | None]]:
        if markup and "keyboard" in markup:
            return [((b.get("text") if isinstance(b, dict) else b), None) for row in markup["keyboard"] for b in row]
        return cls._inline_buttons(markup)

    def buttons(self, message: dict) -> list[tuple[str, str | None]]:
        """[(text, callback_data)] of a message's keyboard (url buttons and reply keyboards: None)."""
        markup = message.get("reply_markup")
        if "chat_id" in message or "chat" in message:
            with self._lock:
                record = self._find_message(*self._message_address(message))
                if record is not None:
                    markup = record["reply_markup"]
        return self._buttons_of(markup)

    @staticmethod
    def _public(record: dict) -> dict:
        return copy.deepcopy(record)

    def messages(self, chat_id: int, include_deleted: bool = False) -> list[dict]:
        """Bot-sent messages in a chat, oldest first, with edits applied.

        Each record: chat_id, message_id, kind, text, caption, entities, raw (text as sent, before
        parsing), parse_mode, reply_markup, reply_to_message_id, message (the Message dict as
        Telegram would return it now), date, received_at (time.monotonic() when the server got it),
        edited_at, edits (one entry per edit), history (original + edits), deleted, method, params.
        """
        with self._lock:
            return [
                self._public(r)
                for r in self._history.get(int(chat_id), [])
                if r["from_bot"] and (include_deleted or not r["deleted"])
            ]

    def history(self, chat_id: int, include_deleted: bool = True) -> list[dict]:
        """All messages of a chat (user and bot), oldest first."""
        with self._lock:
            return [self._public(r) for r in self._history.get(int(chat_id), []) if include_deleted or not r["deleted"]]

    def all_messages(self) -> list[dict]:
        """Every bot-sent message in every chat, in the order received."""
        with self._lock:
            records = [r for chat in self._history.values() for r in chat if r["from_bot"]]
            return [self._public(r) for r in sorted(records, key=lambda r: r["received_at"])]

    def last_message(self, chat_id: int) -> dict | None:
        found = self.messages(chat_id)
        return found[-1] if found else None

    def get_message(self, chat_id: int, message_id: int) -> dict | None:
        with self._lock:
            record = self._index.get((int(chat_id), int(message_id)))
            return self._public(record) if record else None

    def chat_actions(self, chat_id: int | None = None) -> list[dict]:
        with self._lock:
            return [dict(a) for a in self._chat_actions if chat_id is None or a["chat_id"] == int(chat_id)]

    def callback_answer(self, query_id: str) -> dict | None:
        """The bot's answerCallbackQuery for ``query_id`` ({text, show_alert, url, cache_time}) or None."""
        with self._lock:
            query = self._callbacks.get(query_id)
            return copy.deepcopy(query["answer"]) if query and query["answer"] is not None else None

    def callback_queries(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(list(self._callbacks.values()))

    def commands(self, scope: dict | None = None, language_code: str = "") -> list[dict]:
        """Commands set by setMyCommands for a scope (default scope if None)."""
        with self._lock:
            params = _Params({"scope": scope, "language_code": language_code}, {})
            return copy.deepcopy(self._commands.get(self._scope_key(params), []))

    def menu_button(self, chat_id: int | None = None) -> dict | None:
        with self._lock:
            return copy.deepcopy(self._menu_buttons.get(chat_id))

    def webhook_info(self) -> dict | None:
        """Current webhook settings ({url, secret_token, ...}) or None."""
        with self._lock:
            return copy.deepcopy(self._webhook)

    def webhook_deliveries(self) -> list[dict]:
        with self._lock:
            return copy.deepcopy(self._webhook_deliveries)

    def pending_updates(self) -> list[dict]:
        """Updates not yet confirmed by the bot."""
        with self._lock:
            return copy.deepcopy(self._pending)

    def update_times(self, update: dict | int) -> dict:
        """{"injected_at", "delivered_at", "confirmed_at", "deliveries"} (time.monotonic() values)."""
        update_id = update if isinstance(update, int) else update["update_id"]
        with self._lock:
            meta = self._update_meta[update_id]
            return {k: v for k, v in meta.items() if k != "update"}

    def injected_at(self, update: dict | int) -> float:
        return self.update_times(update)["injected_at"]

    def file_bytes(self, file_id: str) -> bytes | None:
        """Content of a stored file (uploaded by the bot or sent by a test user)."""
        with self._lock:
            info = self._files.get(file_id)
            return info["data"] if info else None

    def uploaded_files(self) -> list[dict]:
        """Files the bot uploaded (sendDocument/sendPhoto with multipart data), with their bytes."""
        with self._lock:
            return [dict(info) for info in self._files.values() if info["origin"] == "bot" and not info.get("alias")]

    @property
    def calls(self) -> list[dict]:
        """Every API request: {method, params, ok, status, result | error_code+description, at, duration}."""
        with self._lock:
            return copy.deepcopy(self._calls)

    def calls_to(self, method: str) -> list[dict]:
        with self._lock:
            return [copy.deepcopy(c) for c in self._calls if c["method"].lower() == method.lower()]

    def errors(self) -> list[dict]:
        """The failed requests."""
        with self._lock:
            return [copy.deepcopy(c) for c in self._calls if not c["ok"]]

    def reset_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    # ---------------------------------------------------------------- waiting
    def add_message_listener(self, listener: Callable[[dict], None]) -> None:
        """Call ``listener(record)`` (under the server lock: keep it quick) for every new message.

        For load tests: many waiting threads would each wake on every API call with wait_for_message."""
        with self._lock:
            self._listeners.append(listener)

    def wait_until(self, condition: Callable[[], Any], timeout: float = 10.0, message: str = "condition") -> Any:
        """Block until ``condition()`` (called under the server lock) returns something truthy."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = condition()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"timed out after {timeout}s waiting for {message}\n{self._dump()}")
                self._cond.wait(min(remaining, 0.5))

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 10.0, chat_id: int | None = None) -> dict:
        """Block until the bot has sent a message (in any chat, or ``chat_id``) for which
        ``predicate(record)`` is true; return that record (see messages()). Predicates see edits
        already applied and must not modify the record."""

        def find() -> dict | None:
            chats = [self._history.get(int(chat_id), [])] if chat_id is not None else self._history.values()
            for records in chats:
                for record in records:
                    if record["from_bot"] and not record["deleted"] and predicate(record):
                        return self._public(record)
            return None

        return self.wait_until(
            find,
            timeout,
            f"a bot message matching {predicate!r}" + (f" in chat {chat_id}" if chat_id is not None else ""),
        )

    def _after_filter(self, chat_id: int, after: Any) -> Callable[[dict], bool]:
        if after is None:
            return lambda r: True
        if isinstance(after, bool):
            raise TypeError("after must be a message id, a time.monotonic() value, an update or a message")
        if isinstance(after, int):
            return lambda r: r["message_id"] > after
        if isinstance(after, float):
            return lambda r: r["received_at"] > after
        if isinstance(after, dict):
            if "update_id" in after:
                injected = self._update_meta[after["update_id"]]["injected_at"]
                return lambda r: r["received_at"] > injected
            chat, message_id = self._message_address(after)
            if chat == int(chat_id):
                return lambda r: r["message_id"] > message_id
            record = self._index.get((chat, message_id))
            stamp = record["received_at"] if record else float("-inf")
            return lambda r: r["received_at"] > stamp
        raise TypeError(f"unsupported 'after': {after!r}")

    def wait_for_message(
        self,
        chat_id: int,
        contains: str | None = None,
        timeout: float = 10.0,
        after: Any = None,
        predicate: Callable[[dict], bool] | None = None,
    ) -> dict:
        """Block until the bot sent a message in ``chat_id`` whose text/caption contains ``contains``.

        ``after`` restricts to messages newer than: an int message_id, a float time.monotonic()
        stamp, an injected update (sent after its injection) or a message/record. Returns the record.
        """
        with self._lock:
            is_after = self._after_filter(chat_id, after)

        def matches(record: dict) -> bool:
            if not is_after(record):
                return False
            if contains is not None and contains not in (record["text"] or record["caption"] or ""):
                return False
            return predicate(record) if predicate else True

        description = (
            f"a bot message in chat {chat_id}"
            + (f" containing {contains!r}" if contains else "")
            + (
                f" after {after if not isinstance(after, dict) else after.get('update_id', after.get('message_id'))}"
                if after is not None
                else ""
            )
        )

        def find() -> dict | None:
            for record in self._history.get(int(chat_id), []):
                if record["from_bot"] and not record["deleted"] and matches(record):
                    return self._public(record)
            return None

        return self.wait_until(find, timeout, description)

    def wait_for_edit(
        self, chat_id: int, message_id: int, contains: str | None = None, timeout: float = 10.0, min_edits: int = 1
    ) -> dict:
        """Block until message ``message_id`` was edited (at least ``min_edits`` times) and its
        text/caption contains ``contains``."""

        def find() -> dict | None:
            record = self._index.get((int(chat_id), int(message_id)))
            if (
                record
                and len(record["edits"]) >= min_edits
                and (contains is None or contains in (record["text"] or record["caption"] or ""))
            ):
                return self._public(record)
            return None

        return self.wait_until(
            find,
            timeout,
            f"an edit of message {message_id} in chat {chat_id}" + (f" containing {contains!r}" if contains else ""),
        )

    def wait_for_callback_answer(self, query_id: str, timeout: float = 10.0) -> dict:
        def find() -> dict | None:
            query = self._callbacks.get(query_id)
            return copy.deepcopy(query["answer"]) if query and query["answer"] is not None else None

        return self.wait_until(find, timeout, f"answerCallbackQuery for {query_id}")

    def wait_for_call(self, method: str, timeout: float = 10.0, ok: bool | None = None) -> dict:
        """Block until a request to ``method`` was recorded (optionally only successful/failed ones)."""

        def find() -> dict | None:
            for call in self._calls:
                if call["method"].lower() == method.lower() and (ok is None or call["ok"] == ok):
                    return copy.deepcopy(call)
            return None

        return self.wait_until(find, timeout, f"a call to {method}")

    def wait_for_updates_consumed(self, timeout: float = 10.0) -> None:
        """Block until the bot confirmed every injected update (getUpdates offset or webhook 2xx)."""
        self.wait_until(lambda: not self._pending, timeout, "all updates to be confirmed")

    def _dump(self, limit: int = 15) -> str:
        lines = ["--- bot messages (latest last) ---"]
        records = sorted(
            (r for chat in self._history.values() for r in chat if r["from_bot"]), key=lambda r: r["received_at"]
        )[-limit:]
        for r in records:
            body = (r["text"] or r["caption"] or f"<{r['kind']}>").replace("\n", "\\n")
            flags = (" [deleted]" if r["deleted"] else "") + (f" [edited x{len(r['edits'])}]" if r["edits"] else "")
            buttons = self._buttons_of(r["reply_markup"])
            lines.append(
                f"chat {r['chat_id']} #{r['message_id']}{flags}: {body[:300]!r}"
                + (f" buttons={buttons}" if buttons else "")
            )
        if not records:
            lines.append("(none)")
        errors = [c for c in self._calls if not c["ok"]][-limit:]
        lines.append("--- failed API calls ---")
        for c in errors:
            lines.append(f"{c['method']} -> {c['error_code']} {c['description']} params={_short(c['params'])}")
        if not errors:
            lines.append("(none)")
        lines.append("--- recent API calls ---")
        for c in self._calls[-limit:]:
            lines.append(f"{c['method']} ok={c['ok']}")
        lines.append(
            f"--- pending updates: {[u['update_id'] for u in self._pending]}; "
            f"webhook: {self._webhook['url'] if self._webhook else None}"
        )
        return "\n".join(lines)

    def dump(self) -> str:
        """Human-readable summary of recent bot messages, failed calls and pending updates."""
        with self._lock:
            return self._dump()


def _short(value: Any, limit: int = 300) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "..."


# A valid 1x1 PNG, used as default photo content.
_TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
