"""python-telegram-bot's HTTP layer over aiohttp instead of httpx.

Why: with fifty owners waiting, every reply is a request, and httpx's connection pool scans all its
connections and waiting requests on each one. Measured on this 2-core machine, 50 requests in flight
to a local server: ~2.6 ms of CPU per request with httpx against ~0.1 ms with aiohttp. The bot's
Python work is bound by one interpreter lock, so that CPU came straight out of answering.
"""

from __future__ import annotations

import urllib.request

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData


class AiohttpRequest(BaseRequest):
    """A `BaseRequest` on one `aiohttp.ClientSession` (opened in `initialize`, inside the running loop).

    Timeouts mean what they mean for python-telegram-bot's own `HTTPXRequest`: `connect_timeout` to open
    a socket, `read_timeout` between bytes of the answer, `pool_timeout` to wait for a free connection.
    aiohttp has no write timeout; a request body here is at most one document upload.
    """

    def __init__(
        self,
        connection_pool_size: int = 32,
        read_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # HTTPS_PROXY and friends apply as they did with httpx. Only when one is set: aiohttp then looks
            # them up in a worker thread on every request, a hop a busy bot pays in latency.
            proxied = bool(urllib.request.getproxies())
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size), trust_env=proxied
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout=BaseRequest.DEFAULT_NONE,
        write_timeout=BaseRequest.DEFAULT_NONE,
        connect_timeout=BaseRequest.DEFAULT_NONE,
        pool_timeout=BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if self._session is None or self._session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        read = self._read_timeout if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = self._connect_timeout if isinstance(connect_timeout, DefaultValue) else connect_timeout
        pool = self._pool_timeout if isinstance(pool_timeout, DefaultValue) else pool_timeout
        # aiohttp's `connect` covers waiting for a pooled connection and opening one.
        waiting = None if pool is None and connect is None else (pool or 0) + (connect or 0)
        timeout = aiohttp.ClientTimeout(total=None, connect=waiting, sock_connect=connect, sock_read=read)
        try:
            async with self._session.request(
                method, url, data=_body(request_data), headers={"User-Agent": self.USER_AGENT}, timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as err:
            raise TimedOut from err
        except aiohttp.ClientError as err:
            raise NetworkError(f"aiohttp.{err.__class__.__name__}: {err}") from err


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """Form fields as the Bot API takes them: url-encoded, or multipart when a file goes along."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    files = request_data.multipart_data
    if not files:
        return fields or None
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
