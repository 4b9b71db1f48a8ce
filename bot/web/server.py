"""`python -m bot web`: the staff web console on WEB_HOST:WEB_PORT (tornado), and `GET /healthz`.

Every page but the login ones needs a session cookie from a /web link (`bot/web/logins.py`); POST forms carry
tornado's XSRF token. Blocking service calls run in worker threads; the embedding model loads only when a page
needs it (the gaps grouping, a knowledge-base upload or removal). No access log: URLs of login links carry a
token, and nothing here writes tokens or cookies anywhere.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
from html import escape
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import tornado.web
from tornado.httpserver import HTTPServer

from bot.answers.service import AnswerError
from bot.health import HealthProbe
from bot.i18n import STAFF, t
from bot.knowledge_admin import REFUSALS
from bot.serving import HEALTH_PATH, HealthHandler, stop_on
from bot.web import pages
from bot.web.logins import SESSION_HOURS

if TYPE_CHECKING:
    from bot.app import Services

log = logging.getLogger(__name__)
COOKIE = "staff_session"
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
GAPS_DAYS, STATS_DAYS = 90, 30  # as /gaps and /stats
ANSWER_ACTIONS = {"approve": "answer_approved", "discard": "answer_discarded", "retire": "answer_retired"}
UPLOAD_OVERHEAD = 256 * 1024  # the multipart envelope around a file of MAX_FILE_MB
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",  # a login page's URL holds its token
    "Cache-Control": "no-store",
}


class _App(tornado.web.Application):
    def log_request(self, handler: tornado.web.RequestHandler) -> None:
        """The path and status only, at debug: the query string of /login is a token."""
        log.debug("%s %s %d", handler.request.method, handler.request.path, handler.get_status())


class Page(tornado.web.RequestHandler):
    """A console page: the admin behind the session cookie is `self.admin_id`; without one, the login hint."""

    public = False

    def initialize(self, services: Services) -> None:
        self.services = services
        self.admin_id: int | None = None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.services.settings.timezone)

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    async def prepare(self) -> None:
        cookie = self.get_cookie(COOKIE)
        if cookie:
            self.admin_id = await asyncio.to_thread(self.services.web_logins.admin_for, cookie)
        if self.admin_id is None and not self.public:
            if cookie:
                self.clear_cookie(COOKIE, path="/")  # expired, logged out, or no longer an admin
            if self.request.method == "GET":
                self.redirect("/welcome")
            else:
                raise tornado.web.HTTPError(HTTPStatus.FORBIDDEN)

    def show(self, title_key: str, body: str, active: str = "") -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(
            pages.layout(pages.w(title_key), body, admin_id=self.admin_id, xsrf=self.xsrf_form_html(), active=active)
        )

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(pages.error(status_code))

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, tornado.web.HTTPError):  # refusals (no session, no XSRF token): no traceback
            log.info("web console: %s %s refused (%d)", self.request.method, self.request.path, value.status_code)
        else:  # tornado's own line would carry the URI (a login token) and the request
            log.error("web console: %s %s failed", self.request.method, self.request.path, exc_info=(typ, value, tb))

    def _request_summary(self) -> str:
        """What tornado's warnings name the request by: the path, never the query string."""
        return f"{self.request.method} {self.request.path}"

    def days(self, default: int) -> int:
        value = self.get_query_argument("days", "")
        return max(1, min(int(value), 3650)) if value.isascii() and value.isdigit() and len(value) < 6 else default


class Welcome(Page):
    public = True

    def get(self) -> None:
        if self.admin_id is not None:
            self.redirect("/")
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(pages.welcome())


class Login(Page):
    """GET shows a button (a link preview or a mail scanner fetching the URL does not spend it); POST logs in."""

    public = True

    def get(self) -> None:
        token = self.get_query_argument("token", "")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(pages.login_confirm(token, self.xsrf_form_html()) if token else pages.welcome())

    async def post(self) -> None:
        result = await asyncio.to_thread(self.services.web_logins.redeem, self.get_body_argument("token", ""))
        if result.cookie is None:
            who = "unknown link" if result.admin_id is None else f"admin {result.admin_id}"
            log.info("web console: login refused for %s (%s)", who, result.refused)
            self.set_status(HTTPStatus.FORBIDDEN)
            self.set_header("Content-Type", "text/html; charset=utf-8")
            self.finish(pages.welcome(pages.message(pages.w("login_refused"), "error")))
            return
        log.info("web console: admin %d logged in", result.admin_id)
        self.set_cookie(
            COOKIE,
            result.cookie,
            path="/",
            httponly=True,
            samesite="Strict",
            secure=self.services.settings.web_base_url.startswith("https://"),
            expires_days=SESSION_HOURS / 24,
        )
        self.redirect("/", status=HTTPStatus.SEE_OTHER)


class Logout(Page):
    async def post(self) -> None:
        await asyncio.to_thread(self.services.web_logins.logout, self.get_cookie(COOKIE))
        log.info("web console: admin %d logged out", self.admin_id)
        self.clear_cookie(COOKIE, path="/")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(pages.welcome(pages.message(pages.w("logged_out"))))


class Overview(Page):
    async def get(self) -> None:
        from bot.reports import stats
        from bot.reports.data import Period

        days = self.days(STATS_DAYS)
        period = Period.last_days(days, self.services.settings.timezone)
        figures = await asyncio.to_thread(stats.compute, self.services.store, period)
        self.show("overview_title", pages.overview(figures, days), "/")


class Gaps(Page):
    async def get(self) -> None:
        from bot.reports import gaps
        from bot.reports.data import Period

        svc = self.services
        days = self.days(GAPS_DAYS)
        period = Period.last_days(days, svc.settings.timezone)
        # The model loads on the first page with gap questions only (query_embedder asks for the engine lazily).
        groups = await asyncio.to_thread(gaps.find_gaps, svc.store, gaps.query_embedder(lambda: svc.engine), period)
        self.show("gaps_title", pages.gaps(groups, days, period.tz), "/gaps")


class Knowledge(Page):
    async def get(self) -> None:
        await self.render_kb()

    async def render_kb(self, note: str = "") -> None:
        reader = self.services.knowledge_status  # reads the manifest; never loads the model

        def read() -> tuple[dict, list, dict[str, str]]:
            manifest = reader.manifest()
            reviewed = {rel: str(e.get("last_reviewed") or "") for rel, e in manifest.documents.items()}
            return reader.status(), reader.documents(), reviewed

        status, documents, reviewed = await asyncio.to_thread(read)
        body = pages.knowledge(
            status,
            documents,
            reviewed,
            xsrf=self.xsrf_form_html(),
            max_mb=self.services.settings.max_file_mb,
            note=note,
        )
        self.show("kb_title", body, "/kb")


class Upload(Knowledge):
    """The Telegram upload's path: precheck (type, size) before anything, then `KnowledgeAdmin.add`."""

    async def post(self) -> None:
        files = self.request.files.get("file") or []
        if not files or not files[0].filename:
            await self.render_kb(pages.message(pages.w("kb_upload_none"), "error"))
            return
        upload = files[0]
        name, data = upload.filename, bytes(upload.body)
        topic = self.get_body_argument("topic", "") or None
        svc = self.services
        result = svc.knowledge_status.precheck(name, len(data))
        if result is None:
            result = await asyncio.to_thread(lambda: svc.knowledge.add(name, data, topic))
        log.info("web console: admin %d uploaded %r: %s", self.admin_id, name, "ok" if result.ok else result.reason)
        esc = escape
        if result.ok:
            text = t(
                STAFF,
                "admin.upload_replaced" if result.replaced else "admin.upload_done",
                title=esc(result.title),
                path=esc(result.path),
                topic=pages.topic(result.topic),
                chunks=result.chunks,
            )
            note = pages.message(text)
        else:
            key = REFUSALS.get(result.reason, REFUSALS["index"])
            note = pages.message(t(STAFF, key, name=esc(name), detail=esc(result.detail)), "error")
        await self.render_kb(note)


class Remove(Knowledge):
    """GET asks to confirm (as the Telegram buttons do); POST removes through `KnowledgeAdmin.remove`."""

    async def get(self) -> None:
        key = self.get_query_argument("key", "")
        found = await asyncio.to_thread(self.services.knowledge_status.find, key) if key else []
        if len(found) != 1:
            await self.render_kb(pages.message(t(STAFF, "admin.remove_not_found", ref=escape(key)), "error"))
            return
        self.show("kb_title", pages.remove_confirm(found[0], self.xsrf_form_html()), "/kb")

    async def post(self) -> None:
        key = self.get_body_argument("key", "")
        esc = escape
        if not key or len(await asyncio.to_thread(self.services.knowledge_status.find, key)) != 1:
            await self.render_kb(pages.message(t(STAFF, "admin.remove_not_found", ref=esc(key)), "error"))
            return
        result = await asyncio.to_thread(self.services.knowledge.remove, key)
        doc = result.document
        log.info("web console: admin %d removed %s: %s", self.admin_id, doc.path if doc else key, result.reason or "ok")
        if result.ok and doc is not None:
            note = pages.message(t(STAFF, "admin.removed", title=esc(doc.title), path=esc(doc.path), chunks=doc.chunks))
        elif result.reason == "busy" and doc is not None:
            note = pages.message(t(STAFF, "admin.remove_busy", title=esc(doc.title)), "error")
        else:
            note = pages.message(t(STAFF, "admin.remove_not_found", ref=esc(key)), "error")
        await self.render_kb(note)


class Answers(Page):
    async def get(self) -> None:
        await self.render_answers()

    async def render_answers(self, note: str = "") -> None:
        curation = self.services.curation
        pending, recent = await asyncio.to_thread(lambda: (curation.pending(), curation.recent()))
        self.show("answers_title", pages.answers(pending, recent, self.tz, xsrf=self.xsrf_form_html(), note=note),
                  "/answers")  # fmt: skip

    async def post(self) -> None:
        """Approve, discard or retire through `Curation`, which checks the admin as for the Telegram buttons."""
        action, raw_id = self.get_body_argument("action", ""), self.get_body_argument("id", "")
        if action not in ANSWER_ACTIONS or not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) < 12):
            raise tornado.web.HTTPError(HTTPStatus.BAD_REQUEST)
        curation, admin_id = self.services.curation, self.admin_id
        try:
            if action == "approve":
                record = await asyncio.to_thread(curation.approve, int(raw_id), admin_id)
            else:
                record = await asyncio.to_thread(getattr(curation, action), int(raw_id), admin_id)
        except AnswerError as exc:  # not allowed, already decided, gone: nothing changed
            log.info("web console: admin %d could not %s answer %s: %s", admin_id, action, raw_id, exc)
            await self.render_answers(pages.message(pages.w("answer_refused", detail=escape(str(exc))), "error"))
            return
        log.info("web console: admin %d: %s answer %d", admin_id, action, record.id)
        await self.render_answers(pages.message(pages.w(ANSWER_ACTIONS[action], id=record.id)))


class Needs(Page):
    async def get(self, note: str = "") -> None:
        records = await asyncio.to_thread(self.services.needs.records)
        self.show("needs_title", pages.needs(records, self.tz, xsrf=self.xsrf_form_html(), note=note), "/needs")


class NeedsExport(Needs):
    """The XLSX of /needs_export: user ids pseudonymised unless `raw` is ticked."""

    async def post(self) -> None:
        from bot.needs.export import workbook
        from bot.reports.data import Period

        svc = self.services
        start, end = self.get_body_argument("from", "").strip(), self.get_body_argument("to", "").strip()
        raw = self.get_body_argument("raw", "") == "1"
        since = until = None
        if start or end:
            try:
                period = Period.between(dt.date.fromisoformat(start), dt.date.fromisoformat(end), svc.settings.timezone)
            except ValueError:
                await self.get(pages.message(pages.w("needs_bad_dates"), "error"))
                return
            since, until = period.since, period.until
        records = await asyncio.to_thread(svc.needs.records, since, until)
        if not records:
            await self.get(pages.message(t(STAFF, "needs.export_empty"), "error"))
            return
        content = await asyncio.to_thread(workbook, svc.needs, records, raw)
        log.info("web console: admin %d exported %d needs profile(s)%s", self.admin_id, len(records),
                 " with raw ids" if raw else "")  # fmt: skip
        span = f"{start}_{end}" if start else dt.date.today().isoformat()
        self.set_header("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        self.set_header("Content-Disposition", f'attachment; filename="needs-{span}{"-raw" if raw else ""}.xlsx"')
        self.finish(content)


def make_app(services: Services, probe: HealthProbe) -> tornado.web.Application:
    """The routes; `probe` answers /healthz exactly as the webhook server's does."""
    secure = services.settings.web_base_url.startswith("https://")
    page = {"services": services}
    return _App(
        [
            (HEALTH_PATH, HealthHandler, {"probe": probe}),
            (r"/welcome", Welcome, page),
            (r"/login", Login, page),
            (r"/logout", Logout, page),
            (r"/", Overview, page),
            (r"/gaps", Gaps, page),
            (r"/kb", Knowledge, page),
            (r"/kb/upload", Upload, page),
            (r"/kb/remove", Remove, page),
            (r"/answers", Answers, page),
            (r"/needs", Needs, page),
            (r"/needs/export", NeedsExport, page),
        ],
        xsrf_cookies=True,
        xsrf_cookie_kwargs={"httponly": True, "samesite": "Strict", "secure": secure, "path": "/"},
    )


def max_body_size(services: Services) -> int:
    return int(services.settings.max_file_mb * 1024 * 1024) + UPLOAD_OVERHEAD


def run_web(services: Services) -> int:
    """Serve the console on WEB_HOST:WEB_PORT until SIGTERM or SIGINT."""
    asyncio.run(_serve(services))
    return 0


async def _serve(services: Services) -> None:
    settings = services.settings
    async with stop_on(STOP_SIGNALS) as stop:
        probe = HealthProbe(services)
        server = HTTPServer(make_app(services, probe), max_body_size=max_body_size(services))
        try:
            server.listen(settings.web_port, address=settings.web_host)
            log.info("web console listening on %s:%d; links point to %s", settings.web_host, settings.web_port,
                     settings.web_base_url)  # fmt: skip
            await stop.wait()
            log.info("stopping")
        finally:
            server.stop()
            await server.close_all_connections()
            probe.close()
