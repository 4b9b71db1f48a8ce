"""A round-robin HTTP reverse proxy on loopback, standing for Caddy in deploy/Caddyfile.

As `lb_policy round_robin` with `lb_try_duration`: a backend that refuses the connection (down) is skipped
for the next one within the same request; a request that reached a backend whose connection then broke
(killed mid-request) is answered 502 and never sent again by the proxy: Telegram delivers the update again.
"""

from __future__ import annotations

import http.client
import itertools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class RoundRobinProxy:
    """Serve on 127.0.0.1:<port> and spread requests over `backends` [(host, port), ...]."""

    def __init__(self, backends: list[tuple[str, int]], timeout: float = 30.0) -> None:
        self.backends = backends
        self.timeout = timeout
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self.routed: list[tuple[int, int | None]] = []  # (backend index, status) per request, for the test
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                proxy._forward(self, "POST")

            def do_GET(self) -> None:
                proxy._forward(self, "GET")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def start(self) -> str:
        self._thread.start()
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _forward(self, request: BaseHTTPRequestHandler, method: str) -> None:
        body = request.rfile.read(int(request.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        with self._lock:
            first = next(self._turn)
        for step in range(len(self.backends)):
            index = (first + step) % len(self.backends)
            host, port = self.backends[index]
            connection = http.client.HTTPConnection(host, port, timeout=self.timeout)
            try:
                try:
                    connection.connect()
                except ConnectionRefusedError:  # down: try the next backend with this request
                    continue
                try:
                    connection.request(method, request.path, body=body, headers=headers)
                    response = connection.getresponse()
                    payload = response.read()
                except (OSError, http.client.HTTPException):  # reached it, then it died: not sent again
                    self._answer(request, 502, b"backend went away")
                    self.routed.append((index, None))
                    return
                self.routed.append((index, response.status))
                self._answer(request, response.status, payload, response.getheader("Content-Type"))
                return
            finally:
                connection.close()
        self._answer(request, 502, b"no backend")

    @staticmethod
    def _answer(request: BaseHTTPRequestHandler, status: int, payload: bytes, kind: str | None = None) -> None:
        try:
            request.send_response(status)
            if kind:
                request.send_header("Content-Type", kind)
            request.send_header("Content-Length", str(len(payload)))
            request.end_headers()
            request.wfile.write(payload)
        except OSError:  # the caller gave up meanwhile
            pass
