"""Files: sendDocument and sendPhoto (multipart uploads or a known file_id), getFile and downloads.

Files users send (tests call ``send_document`` / ``send_photo``) and files the bot uploads live in one store,
so the bot can download the former and tests can read the latter (``uploaded_files``, ``file_bytes``).
"""

from __future__ import annotations

import mimetypes

from .errors import ApiError, bad
from .formatting import caption
from .keyboards import validate_markup
from .messages import send
from .params import UPLOAD_LIMIT, Params
from .state import State

DOWNLOAD_LIMIT = 20 * 1024 * 1024  # getFile refuses bigger files on the cloud Bot API
_FOLDERS = {"document": "documents", "photo": "photos", "sticker": "stickers"}


def new_file(
    state: State, kind: str, data: bytes, file_name: str | None, mime_type: str | None, extension: str | None = None
) -> dict:
    """Store ``data`` under a fresh file_id and file_path; ``origin`` is "user" until the caller says otherwise."""
    state.file_counter += 1
    n = state.file_counter
    if extension is None:
        guessed = mimetypes.guess_extension(mime_type or "") if mime_type else None
        suffix = file_name.rsplit(".", 1)[-1] if file_name and "." in file_name else None
        extension = suffix or (guessed or ".bin").lstrip(".")
    info = {
        "file_id": f"{kind.upper()[:3]}ACAgIAAxkBAAI{n:06d}fake",
        "file_unique_id": f"AgAD{n:06d}",
        "file_size": len(data),
        "file_path": f"{_FOLDERS.get(kind, kind)}/file_{n}.{extension}",
        "file_name": file_name,
        "mime_type": mime_type,
        "kind": kind,
        "data": data,
        "origin": "user",
    }
    state.files[info["file_id"]] = info
    state.files_by_path[info["file_path"]] = info
    return info


def file_object(info: dict) -> dict:
    return {"file_id": info["file_id"], "file_unique_id": info["file_unique_id"], "file_size": info["file_size"]}


def photo_sizes(state: State, info: dict) -> list[dict]:
    """Two PhotoSizes (thumbnail, full); both file ids resolve to the same stored bytes."""
    width, height = _image_size(info["data"])
    scale = 90 / max(width, height, 1)
    thumb = {**info, "file_id": info["file_id"] + "_s", "file_unique_id": info["file_unique_id"] + "s", "alias": True}
    state.files.setdefault(thumb["file_id"], thumb)
    return [
        {**file_object(thumb), "width": max(1, round(width * scale)), "height": max(1, round(height * scale))},
        {**file_object(info), "width": width, "height": height},
    ]


def _image_size(data: bytes) -> tuple[int, int]:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    return 1280, 720


def _is_image(data: bytes) -> bool:
    return (
        data.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n"))
        or data[:6] in (b"GIF87a", b"GIF89a")
        or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")
        or data[:2] == b"BM"
    )


def _input_file(state: State, params: Params, kind: str) -> dict:
    """The file of parameter ``kind``: a multipart upload, or the file_id of a file Telegram already has."""
    upload = params.files.get(kind)
    if upload is not None:
        if len(upload.data) > UPLOAD_LIMIT:
            raise ApiError(413, "Request Entity Too Large")
        if not upload.data:
            raise bad("file must be non-empty")
        mime = upload.content_type
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(upload.filename or "")[0] or mime or "application/octet-stream"
        info = new_file(state, kind, upload.data, upload.filename or kind, mime)
        info["origin"] = "bot"
        return info
    value = params.str(kind)
    if not value:
        raise bad(f"there is no {kind} in the request")
    if value in state.files:
        return state.files[value]
    raise bad("wrong file identifier/HTTP URL specified")


def send_document(state: State, params: Params) -> dict:
    with state.lock:
        chat = state.resolve_chat(params.raw("chat_id"))
        content, raw = caption(params)
        markup = validate_markup(params.json("reply_markup"))
        state.check_writable(chat, "senddocument")
        info = _input_file(state, params, "document")
        content["document"] = {
            **file_object(info),
            "file_name": info.get("file_name") or "document",
            "mime_type": info.get("mime_type") or "application/octet-stream",
        }
        return send(state, chat, content, "document", params, "sendDocument", raw, markup)


def send_photo(state: State, params: Params) -> dict:
    with state.lock:
        chat = state.resolve_chat(params.raw("chat_id"))
        content, raw = caption(params)
        markup = validate_markup(params.json("reply_markup"))
        state.check_writable(chat, "sendphoto")
        upload = params.files.get("photo")
        if upload is not None and upload.data and not _is_image(upload.data):
            raise bad("IMAGE_PROCESS_FAILED")
        content["photo"] = photo_sizes(state, _input_file(state, params, "photo"))
        return send(state, chat, content, "photo", params, "sendPhoto", raw, markup)


def get_file(state: State, params: Params) -> dict:
    with state.lock:
        info = state.files.get(params.str("file_id") or "")
        if info is None:
            raise bad("invalid file_id")
        if info["file_size"] > DOWNLOAD_LIMIT:
            raise bad("file is too big")
        return {**file_object(info), "file_path": info["file_path"]}


def download(state: State, rest: str) -> tuple[int, bytes | dict, str]:
    """(status, bytes or an error payload, content type) for GET {root}/file/bot{token}/{file_path}."""
    token, _, file_path = rest.partition("/")
    if token != state.token:
        return 401, ApiError(401, "Unauthorized").payload(), "application/json"
    with state.lock:
        info = state.files_by_path.get(file_path)
    if info is None:
        return 404, ApiError(404, "Not Found").payload(), "application/json"
    return 200, info["data"], info.get("mime_type") or "application/octet-stream"


METHODS = {"senddocument": send_document, "sendphoto": send_photo, "getfile": get_file}
