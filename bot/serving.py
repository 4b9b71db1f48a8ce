"""What the bot's two HTTP servers (webhook mode and the staff web console) share: `GET /healthz`, and running
until a stop signal arrives. tornado, as python-telegram-bot[webhooks] installs it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterable
from http import HTTPStatus

import tornado.web

from bot.health import HealthProbe

HEALTH_PATH = "/healthz"


class HealthHandler(tornado.web.RequestHandler):
    """GET /healthz: the report of `python -m bot health --json`; 200 when ok, 503 when a check fails."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]

    def initialize(self, probe: HealthProbe) -> None:
        self.probe = probe

    async def get(self) -> None:
        report = await self.probe()
        self.set_status(HTTPStatus.OK if report["ok"] else HTTPStatus.SERVICE_UNAVAILABLE)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(report, ensure_ascii=False))


@contextlib.asynccontextmanager
async def stop_on(signals: Iterable[int]) -> AsyncIterator[asyncio.Event]:
    """An event set when one of `signals` arrives; the handlers are removed on the way out."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = tuple(signals)
    for sig in signals:
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
