"""The HTTP side: a threaded loopback server that routes ``{root}/bot{token}/{method}`` to the method handlers
and ``{root}/file/bot{token}/{path}`` to downloads, and logs every call."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import faults, files
from .errors import ApiError
from .params import Params, parse_request
from .state import State

# A method handler: (state, params) -> result, or (result, description) as setWebhook answers.
Method = Callable[[State, Params], Any]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as python-telegram-bot's httpx pool expects
    server_version = "nginx/1.18.0"
    sys_version = ""
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def setup(self) -> None:
        super().setup()
        try:  # no Nagle/delayed-ACK stalls (~40 ms per request on keep-alive connections)
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def do_POST(self) -> None:
        handle(self.server, self)

    do_GET = do_POST

    def read_body(self) -> bytes:
        # httpx, python-telegram-bot's client, always sends Content-Length: no chunked bodies to decode
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

    def reply_json(self, payload: dict, status: int) -> None:
        self.reply(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: State, methods: dict[str, Method]) -> None:
        self.state = state
        self.methods = methods
        self.connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, Handler)

    def track(self, conn: socket.socket, add: bool) -> None:
        with self._connections_lock:
            if add:
                self.connections.add(conn)
            else:
                self.connections.discard(conn)

    def drop_connections(self) -> None:
        """Close keep-alive connections too, so a stopped server really looks gone to the bot."""
        with self._connections_lock:
            connections = list(self.connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(server: Server, handler: Handler) -> None:
    state = server.state
    url = urllib.parse.urlsplit(handler.path)
    path = urllib.parse.unquote(url.path)
    try:
        body = handler.read_body()
    except (OSError, ValueError):
        handler.close_connection = True
        return
    if path.startswith("/file/bot"):
        status, content, content_type = files.download(state, path[len("/file/bot") :])
        if isinstance(content, dict):
            handler.reply_json(content, status)
        else:
            handler.reply(status, content, content_type)
        return
    if not path.startswith("/bot") or "/" not in path[4:]:
        handler.reply_json(ApiError(404, "Not Found").payload(), 404)
        return
    token, _, method = path[4:].partition("/")
    method = method.strip("/")
    started = time.monotonic()
    params_desc: dict = {}
    with state.lock:
        outage = faults.active_outage(state, method.lower())
    if outage is not None and outage.kind == "drop_before":
        _drop(handler, state, method, carried_out=False)
        return
    try:
        if token != state.token:
            raise ApiError(401, "Unauthorized")
        if outage is not None:
            faults.raise_outage(outage)
        params = parse_request(url.query, handler.headers.get("Content-Type", ""), body)
        params_desc = params.describe()
        result, description = _dispatch(server, method, params)
        payload: dict[str, Any] = {"ok": True, "result": result}
        if description:
            payload["description"] = description
        status = 200
    except ApiError as err:
        payload, status = err.payload(), err.code
    except Exception as err:  # noqa: BLE001 - a bug in the fake must still produce an answer and a record
        payload = {"ok": False, "error_code": 500, "description": f"Internal Server Error: {err!r}"}
        status = 500
    state.record_call(method, params_desc, payload, status, started)
    if outage is not None and outage.kind == "drop_after":
        _drop(handler, state, method, carried_out=status == 200)
        return
    handler.reply_json(payload, status)


def _drop(handler: Handler, state: State, method: str, carried_out: bool) -> None:
    """Close the connection without an answer, as a proxy or a network that fails mid-request does."""
    with state.lock:
        state.dropped.append({"method": method, "carried_out": carried_out, "at": time.time()})
    handler.close_connection = True
    try:
        handler.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def _dispatch(server: Server, method: str, params: Params) -> tuple[Any, str | None]:
    name = method.lower()  # Telegram's method names are case-insensitive
    handler = server.methods.get(name) if re.fullmatch(r"[a-z]+", name) else None
    if handler is None:
        raise ApiError(404, "Not Found: method not found (the fake models only the methods the bot uses)")
    with server.state.lock:
        faults.raise_queued(server.state.failures, name)
    outcome = handler(server.state, params)
    return outcome if isinstance(outcome, tuple) else (outcome, None)
