"""Webhook mode: our own small tornado server in front of the Application, with `GET /healthz`.

`Application.run_webhook` serves only Telegram's path, so, as python-telegram-bot's `customwebhookbot`
example does, the Application is run by hand (initialize, start, stop, shutdown) and updates are put on
its public `update_queue`. tornado is what python-telegram-bot[webhooks] installs, so nothing new is needed.
The checks of PTB's own handler are kept: JSON only, and the `X-Telegram-Bot-Api-Secret-Token` header must
equal WEBHOOK_SECRET (403 otherwise).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import signal
from http import HTTPStatus
from typing import TYPE_CHECKING
from urllib.parse import urlparse

import tornado.web
from telegram import Update
from tornado.httpserver import HTTPServer

from bot.health import HealthProbe
from bot.serving import HEALTH_PATH, HealthHandler, stop_on
from bot.telegram.ordering import PerSenderUpdateProcessor

if TYPE_CHECKING:
    from telegram.ext import Application

    from bot.app import Services

log = logging.getLogger(__name__)
# Telegram (and the test's fake) give up on a webhook call after some seconds and deliver the update again: the
# answer comes once the update is handled or after this long, whichever is first.
ACK_SECONDS = 8.0
MAX_UPDATE_BYTES = 1 << 20  # an update is a few KB (files arrive as ids): refuse anything far larger
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGABRT)  # as Application.run_webhook


class _App(tornado.web.Application):
    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """No access log: one line per update (and per probe) says nothing the bot's own logs do not."""


class UpdateHandler(tornado.web.RequestHandler):
    """POST from Telegram: check the secret, decode the update, queue it; 200 once queued."""

    SUPPORTED_METHODS = ("POST",)  # type: ignore[assignment]

    def initialize(self, telegram_app: Application, secret: str, services: Services) -> None:
        self.telegram_app = telegram_app
        self.secret = secret
        self.services = services

    async def post(self) -> None:
        content_type = self.request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN)
        given = self.request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        # Constant-time comparison; the header's value is never logged (it is the secret, or a guess at it).
        if self.secret and not hmac.compare_digest(given.encode(), self.secret.encode()):
            raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN, reason="wrong or missing secret token")
        bot = self.telegram_app.bot
        try:
            update = Update.de_json(json.loads(self.request.body), bot)
        except Exception as exc:  # noqa: BLE001 - whatever the body is, the answer is "bad request"
            log.warning("webhook: an update could not be decoded (%s)", type(exc).__name__)
            raise tornado.web.HTTPError(HTTPStatus.BAD_REQUEST, reason="update could not be processed") from None
        if update is not None:
            await self._handle(update)
        self.set_status(HTTPStatus.OK)

    async def _handle(self, update: Update) -> None:
        """Queue the update and answer once it has been handled (at most ACK_SECONDS): Telegram delivers again
        an update it got no answer for, so one a replica died with goes to another replica, not lost. One that
        was handled already (its answer was lost) is not handled twice."""
        store = self.services.store
        if await asyncio.to_thread(store.update_handled, update.update_id):
            return
        self.telegram_app.bot.insert_callback_data(update)  # a no-op unless arbitrary callback data is on
        processor = self.telegram_app.update_processor
        finished = processor.finished(update.update_id) if isinstance(processor, PerSenderUpdateProcessor) else None
        await self.telegram_app.update_queue.put(update)
        if finished is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(finished), ACK_SECONDS)
        except TimeoutError:
            log.warning("webhook: update %s still being handled; answering Telegram now", update.update_id)
            return
        await asyncio.to_thread(store.mark_update_handled, update.update_id)

    def log_exception(self, typ, value, tb) -> None:
        # Refusals are expected (probes, forged posts) and say what they are in the status; no tracebacks.
        if not isinstance(value, tornado.web.HTTPError):
            super().log_exception(typ, value, tb)


def make_app(application: Application, services: Services, probe: HealthProbe) -> tornado.web.Application:
    """The routes: /healthz, and the path of WEBHOOK_URL for Telegram's posts."""
    settings = services.settings
    path = re.escape("/" + urlparse(settings.webhook_url).path.strip("/"))
    secret = settings.webhook_secret.get_secret_value()
    return _App(
        [
            (HEALTH_PATH, HealthHandler, {"probe": probe}),
            (
                rf"{path.rstrip('/')}/?",
                UpdateHandler,
                {"telegram_app": application, "secret": secret, "services": services},
            ),
        ]
    )


def run_webhook(application: Application, services: Services) -> None:
    """Serve Telegram's posts and /healthz on WEBHOOK_LISTEN:WEBHOOK_PORT until SIGTERM or SIGINT."""
    asyncio.run(_serve(application, services))


async def _serve(application: Application, services: Services) -> None:
    async with stop_on(STOP_SIGNALS) as stop:  # set up before the server exists, removed after it stopped
        settings = services.settings
        probe = HealthProbe(services)
        server = HTTPServer(make_app(application, services, probe), max_body_size=MAX_UPDATE_BYTES)
        try:
            async with application:  # initialize ... shutdown
                if application.post_init:
                    await application.post_init(application)
                # Listening before setWebhook, as PTB does: Telegram may post the moment the webhook is set.
                server.listen(settings.webhook_port, address=settings.webhook_listen)
                await application.bot.set_webhook(
                    url=settings.webhook_url,
                    allowed_updates=Update.ALL_TYPES,
                    secret_token=settings.webhook_secret.get_secret_value() or None,
                )
                await application.start()
                log.info("webhook server listening on %s:%d", settings.webhook_listen, settings.webhook_port)
                try:
                    await stop.wait()
                    log.info("stopping")
                finally:  # shutdown() refuses a running Application, whatever ended the wait
                    server.stop()  # no new posts; Telegram retries what it could not deliver, maybe to another replica
                    await server.close_all_connections()
                    await application.stop()  # running handlers finish
                    if application.post_stop:
                        await application.post_stop(application)
            if application.post_shutdown:
                await application.post_shutdown(application)
        finally:
            server.stop()
            probe.close()
