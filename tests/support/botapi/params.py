"""Request parameters: query string, form, JSON or multipart bodies, read with Telegram's typing rules."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

from .errors import ApiError, bad

UPLOAD_LIMIT = 50 * 1024 * 1024  # what a bot may upload through the cloud Bot API

# Parameters python-telegram-bot sends JSON-encoded inside form fields; decoded for the call log.
_JSON_FIELDS = frozenset({"reply_markup", "entities", "caption_entities", "commands", "scope", "allowed_updates"})


class Upload:
    """A file part of a multipart request."""

    def __init__(self, data: bytes, filename: str | None, content_type: str | None) -> None:
        self.data = data
        self.filename = filename
        self.content_type = content_type

    def describe(self) -> dict:
        return {"upload": True, "filename": self.filename, "mime_type": self.content_type, "size": len(self.data)}


class Params:
    """Typed access to request parameters, accepting both form strings and JSON values."""

    def __init__(self, values: dict[str, Any], files: dict[str, Upload] | None = None) -> None:
        self.values = values
        self.files = files or {}

    def __contains__(self, key: str) -> bool:
        return key in self.values or key in self.files

    def raw(self, key: str) -> Any:
        return self.values.get(key)

    def str(self, key: str, default: str | None = None) -> str | None:
        value = self.values.get(key)
        if value is None:
            return default
        if isinstance(value, (dict, list)):
            raise bad(f'field "{key}" must be of type String')
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def int(self, key: str, default: int | None = None) -> int | None:
        value = self.values.get(key)
        if value is None or value == "":
            return default
        if isinstance(value, (bool, int, float)):
            return int(value)
        text = str(value).strip()
        try:
            return int(text)  # exact first: float() would round ids beyond 2**53
        except ValueError:
            try:
                return int(float(text))
            except ValueError:
                raise bad(f'field "{key}" must be of type Integer') from None

    def float(self, key: str, default: float | None = None) -> float | None:
        value = self.values.get(key)
        if value is None or value == "":
            return default
        try:
            return float(value)
        except (TypeError, ValueError):
            raise bad(f'field "{key}" must be of type Number') from None

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
                    raise bad("can't parse reply keyboard markup JSON object") from None
                raise bad(f"can't parse {key} JSON object") from None
        return value

    def describe(self) -> dict:
        """The parameters as a test reads them back from ``calls``: JSON fields decoded, uploads summarised."""
        out: dict[str, Any] = {}
        for key, value in self.values.items():
            if key in _JSON_FIELDS and isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass
            out[key] = value
        for key, upload in self.files.items():
            out[key] = upload.describe()
        return out


def parse_request(query: str, content_type: str, body: bytes) -> Params:
    """Parameters from the query string and a JSON, form-encoded or multipart body."""
    values: dict[str, Any] = {k: v[-1] for k, v in urllib.parse.parse_qs(query, keep_blank_values=True).items()}
    files: dict[str, Upload] = {}
    ctype = content_type.split(";")[0].strip().lower()
    if not body:
        return Params(values, files)
    if ctype == "application/json":
        try:
            data = json.loads(body.decode("utf-8"))
        except ValueError:
            raise bad("can't parse JSON encoded request") from None
        if not isinstance(data, dict):
            raise bad("JSON object expected")
        values.update(data)
    elif ctype == "multipart/form-data":
        if len(body) > UPLOAD_LIMIT + 1024 * 1024:
            raise ApiError(413, "Request Entity Too Large")
        more, files = _parse_multipart(body, content_type)
        values.update(more)
    else:
        parsed = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        values.update({k: v[-1] for k, v in parsed.items()})
    return Params(values, files)


def _parse_disposition(header: str) -> dict[str, str]:
    # httpx (python-telegram-bot's client) writes UTF-8 names quoted, with '"' as %22; no RFC 5987 forms.
    params: dict[str, str] = {}
    for match in re.finditer(r';\s*([a-zA-Z0-9_-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)', header):
        key, value = match.group(1).lower(), match.group(2).strip()
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        if key == "filename":
            value = value.replace("%22", '"')
        params[key] = value
    return params


def _parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, Any], dict[str, Upload]]:
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise bad("invalid multipart/form-data request")
    delimiter = b"--" + match.group(1).encode("latin-1")
    values: dict[str, Any] = {}
    files: dict[str, Upload] = {}
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
        part_type = headers.get("content-type")
        if "filename" in disposition or (part_type and not part_type.startswith("text/plain")):
            files[name] = Upload(data, disposition.get("filename"), part_type)
        else:
            values[name] = data.decode("utf-8", "replace")
    return values, files
