"""The staff web console in process: a real tornado server on 127.0.0.1, a real SQLite database, a real index.

Login by a one-time link, sessions, XSRF, the pages over real data, and the console's actions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import logging
import re
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlalchemy import select, update
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets

from bot import health
from bot.app import build_services
from bot.config import Settings
from bot.health import HealthProbe
from bot.web.models import WebLoginToken, WebSession
from bot.web.server import COOKIE, make_app, max_body_size
from tests.conftest import changed
from tests.workspace import indexed_sample

ADMIN, OTHER_ADMIN = 4242, 4343
PAGES = ("/", "/gaps", "/kb", "/answers", "/needs", "/kb/remove?key=x")
GUIDE = """---
title: "Hỗ trợ đổi mới công nghệ tỉnh Lâm Viên"
topic: funding
---
# Hỗ trợ đổi mới công nghệ tỉnh Lâm Viên

Doanh nghiệp nhỏ ở tỉnh Lâm Viên được hỗ trợ 45 triệu đồng để thuê chuyên gia đánh giá dây chuyền sản xuất.
"""


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, embedder):
    """The sample knowledge base indexed once, plus a file the indexer refuses (a failed file on the page)."""
    from indexer.pipeline import Indexer

    kb, data = indexed_sample(tmp_path_factory.mktemp("web"), embedder)
    (kb / "ip" / "hong.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf")
    settings = Settings(_env_file=None, data_dir=data, knowledge_dir=kb)
    Indexer(settings, embedder_factory=lambda: embedder).refresh()
    return settings


@pytest.fixture
def settings(indexed, tmp_path):
    return changed(
        indexed, {"database_url": f"sqlite:///{tmp_path / 'bot.sqlite3'}", "admin_ids": [ADMIN, OTHER_ADMIN]}
    )


@contextlib.asynccontextmanager
async def console(settings, embedder):
    """The console's tornado app on a free port of 127.0.0.1; yields (services, a client factory)."""
    services = build_services(settings, embedder=embedder)
    probe = HealthProbe(services)
    server = HTTPServer(make_app(services, probe), max_body_size=max_body_size(services))
    sockets = bind_sockets(0, "127.0.0.1")
    server.add_sockets(sockets)
    base = f"http://127.0.0.1:{sockets[0].getsockname()[1]}"
    services.web_logins.base_url = base  # links name the port the test server got
    clients: list[httpx.AsyncClient] = []

    def client() -> httpx.AsyncClient:
        clients.append(httpx.AsyncClient(base_url=base, follow_redirects=False, timeout=60))
        return clients[-1]

    try:
        yield services, client
    finally:
        for c in clients:
            await c.aclose()
        server.stop()
        await server.close_all_connections()
        probe.close()
        services.close()


def _token(link: str) -> str:
    return parse_qs(urlparse(link).query)["token"][0]


def _xsrf(html: str) -> str:
    return re.search(r'name="_xsrf" value="([^"]+)"', html).group(1)


async def log_in(client: httpx.AsyncClient, link: str) -> httpx.Response:
    """What a browser does with the link: open it (a page with a button), press the button."""
    page = await client.get(urlparse(link).path + "?" + urlparse(link).query)
    assert page.status_code == 200 and 'action="/login"' in page.text
    return await client.post("/login", data={"token": _token(link), "_xsrf": _xsrf(page.text)})


async def logged_in(services, client_factory) -> httpx.AsyncClient:
    client = client_factory()
    response = await log_in(client, services.web_logins.issue_link(ADMIN))
    assert response.status_code == 303 and response.headers["location"] == "/"
    return client


async def form_token(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    assert page.status_code == 200, page.text
    return _xsrf(page.text)


async def test_a_link_logs_in_once(settings, embedder, caplog):
    caplog.set_level(logging.INFO, logger="bot.web")
    async with console(settings, embedder) as (services, client_factory):
        link = services.web_logins.issue_link(ADMIN)
        assert link.startswith(services.web_logins.base_url + "/login?token=")
        browser = client_factory()
        assert (await browser.get(urlparse(link).path + "?" + urlparse(link).query)).status_code == 200  # a preview
        response = await log_in(browser, link)  # ... does not spend the link
        assert response.status_code == 303
        cookie = response.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        overview = await browser.get("/")
        assert overview.status_code == 200 and "Câu hỏi" in overview.text and f"quản trị viên {ADMIN}" in overview.text

        again = await log_in(client_factory(), link)  # the same link, a second time
        assert again.status_code == 403 and "/web" in again.text and COOKIE not in again.headers.get("set-cookie", "")

        expired = services.web_logins.issue_link(ADMIN)
        with services.store.session.begin() as s:
            s.execute(
                update(WebLoginToken)
                .where(WebLoginToken.token_hash == hashlib.sha256(_token(expired).encode()).hexdigest())
                .values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
            )
        assert (await log_in(client_factory(), expired)).status_code == 403
        assert (await log_in(client_factory(), link.replace("token=", "token=x"))).status_code == 403

        with services.store.session() as s:  # only hashes are stored
            hashes = set(s.scalars(select(WebLoginToken.token_hash))) | set(s.scalars(select(WebSession.session_hash)))
        session_value = browser.cookies[COOKIE]
        assert _token(link) not in hashes and session_value not in hashes
        assert hashlib.sha256(session_value.encode()).hexdigest() in hashes

        logout = await browser.post("/logout", data={"_xsrf": browser.cookies["_xsrf"]})
        assert logout.status_code == 200
        browser.cookies.set(COOKIE, session_value)  # a copy of the old cookie opens nothing any more
        assert (await browser.get("/")).headers["location"] == "/welcome"
    logs = caplog.text
    assert f"admin {ADMIN} logged in" in logs and f"login refused for admin {ADMIN} (used)" in logs
    assert "(expired)" in logs and _token(link) not in logs and session_value not in logs


async def test_pages_need_a_session(settings, embedder):
    async with console(settings, embedder) as (_, client_factory):
        client = client_factory()
        for path in PAGES:
            response = await client.get(path)
            assert response.status_code == 302 and response.headers["location"] == "/welcome", path
        client.cookies.set(COOKIE, "forged-or-expired")
        assert (await client.get("/kb")).headers["location"] == "/welcome"
        welcome = await client.get("/welcome")
        assert welcome.status_code == 200 and "<code>/web</code>" in welcome.text
        token = await form_token(client, "/login?token=unused")  # any page with a form
        refused = await client.post("/answers", data={"_xsrf": token, "id": "1", "action": "approve"})
        assert refused.status_code == 403


async def test_a_post_without_the_xsrf_token_is_refused(settings, embedder):
    async with console(settings, embedder) as (services, client_factory):
        record = services.answers.propose("Nhãn hiệu bảo hộ mấy năm?", "10 năm, gia hạn được.", "ip")
        client = await logged_in(services, client_factory)
        for data in ({"id": str(record.id), "action": "approve"}, {"id": str(record.id), "action": "approve",
                                                                   "_xsrf": "2|00|11|22"}):  # fmt: skip
            assert (await client.post("/answers", data=data)).status_code == 403
        assert (await client.post("/logout")).status_code == 403
        assert services.answers.get(record.id).status == "pending"


async def test_an_admin_removed_from_admin_ids_is_refused(settings, embedder):
    async with console(settings, embedder) as (services, client_factory):
        client = await logged_in(services, client_factory)
        link = services.web_logins.issue_link(ADMIN)
        assert (await client.get("/kb")).status_code == 200
        session_value = client.cookies[COOKIE]
        services.settings.admin_ids.remove(ADMIN)  # the settings' list, as a restart with new ADMIN_IDS reads it
        response = await client.get("/kb")
        assert response.status_code == 302 and response.headers["location"] == "/welcome"
        assert (await log_in(client_factory(), link)).status_code == 403  # a link sent before is no use either
        with pytest.raises(PermissionError):
            services.web_logins.issue_link(ADMIN)
    # A restarted console with the new ADMIN_IDS, over the same database: the old cookie still opens nothing.
    async with console(changed(settings, {"admin_ids": [OTHER_ADMIN]}), embedder) as (services, client_factory):
        assert services.web_logins.admin_for(session_value) is None
        browser = client_factory()
        browser.cookies.set(COOKIE, session_value)
        assert (await browser.get("/")).headers["location"] == "/welcome"


async def test_gaps_page_shows_what_the_bot_could_not_answer(settings, embedder):
    async with console(settings, embedder) as (services, client_factory):
        store = services.store
        for user, question in ((7001, "Thủ tục xin giấy phép xả thải cho xưởng dệt <b>nhỏ</b>?"),
                               (7002, "Làm sao xin giấy phép xả thải cho xưởng dệt nhỏ?")):  # fmt: skip
            store.add_turn(user, "user", question)
            store.add_turn(user, "assistant", "Tài liệu chưa có nội dung này.", {"kind": "abstain", "topic": "other"})
        store.add_turn(7003, "user", "nhan hieu duoc bao ho bao lau")
        store.add_turn(7003, "assistant", "10 năm [1]", {"kind": "extractive", "topic": "ip", "sources": ["ip-tm"]})
        client = await logged_in(services, client_factory)
        page = await client.get("/gaps")
        assert page.status_code == 200
        assert "xưởng dệt &lt;b&gt;nhỏ&lt;/b&gt;?" in page.text and "<b>nhỏ</b>" not in page.text  # escaped
        assert "Làm sao xin giấy phép xả thải" in page.text and "nhan hieu duoc bao ho" not in page.text
        assert "chưa có tài liệu" in page.text  # the reason, as /gaps names it
        empty = await client.get("/gaps?days=1")
        assert empty.status_code == 200


async def test_knowledge_page_lists_documents_without_loading_the_model(settings, embedder):
    from indexer.manifest import Manifest
    from indexer.pipeline import manifest_path

    async with console(settings, embedder) as (services, client_factory):
        client = await logged_in(services, client_factory)
        page = await client.get("/kb")
        assert page.status_code == 200
        manifest = Manifest.load(manifest_path(settings))
        assert len(manifest.documents) == 4
        for rel, entry in manifest.documents.items():
            assert rel in page.text and entry["title"].replace('"', "&quot;") in page.text
        assert "2024-01-10" in page.text and "Cần rà soát" in page.text  # ip/patent.md, reviewed long ago
        assert "ip/hong.pdf" in page.text and "Lỗi:" in page.text  # the file the indexer refused
        assert "engine" not in services.__dict__ and "knowledge" not in services.__dict__


async def test_upload_and_remove_through_the_console(tmp_path, embedder):
    kb, data = indexed_sample(tmp_path / "own", embedder)  # its own index: this test changes it
    settings = Settings(_env_file=None, data_dir=data, knowledge_dir=kb, admin_ids=[ADMIN], max_file_mb=0.01)
    async with console(settings, embedder) as (services, client_factory):
        client = await logged_in(services, client_factory)
        token = await form_token(client, "/kb")
        files = {"file": ("Hỗ trợ Lâm Viên.md", GUIDE.encode(), "text/markdown")}
        assert (await client.post("/kb/upload", files=files)).status_code == 403  # no XSRF token
        done = await client.post("/kb/upload", data={"_xsrf": token, "topic": ""}, files=files)
        assert done.status_code == 200 and "Đã thêm «Hỗ trợ đổi mới công nghệ tỉnh Lâm Viên»" in done.text
        assert (kb / "funding" / "Hỗ-trợ-Lâm-Viên.md").exists()
        hits = services.engine.searcher.search("Lâm Viên hỗ trợ thuê chuyên gia bao nhiêu tiền", k=1)
        assert hits[0].meta["path"] == "funding/Hỗ-trợ-Lâm-Viên.md"

        big = {"file": ("lon.txt", b"x" * 20_000, "text/plain")}
        refused = await client.post("/kb/upload", data={"_xsrf": token}, files=big)
        assert "lớn hơn giới hạn" in refused.text and not (kb / "other" / "lon.txt").exists()
        wrong = await client.post("/kb/upload", data={"_xsrf": token}, files={"file": ("a.xlsx", b"PK", "x")})
        assert "chưa được hỗ trợ" in wrong.text

        key = next(d.key for d in services.knowledge.documents() if d.path == "funding/Hỗ-trợ-Lâm-Viên.md")
        confirm = await client.get(f"/kb/remove?key={key}")
        assert confirm.status_code == 200 and "Xoá «Hỗ trợ đổi mới" in confirm.text
        assert (await client.post("/kb/remove", data={"key": key})).status_code == 403
        removed = await client.post("/kb/remove", data={"key": key, "_xsrf": _xsrf(confirm.text)})
        assert removed.status_code == 200 and "Đã xoá «Hỗ trợ đổi mới" in removed.text
        assert not (kb / "funding" / "Hỗ-trợ-Lâm-Viên.md").exists()
        assert all(d.path != "funding/Hỗ-trợ-Lâm-Viên.md" for d in services.knowledge.documents())


async def test_model_answers_are_approved_discarded_and_retired_by_the_admin(settings, embedder):
    async with console(settings, embedder) as (services, client_factory):
        first = services.answers.propose("Nhãn hiệu bảo hộ mấy năm?", "10 năm kể từ ngày nộp đơn.", "ip")
        second = services.answers.propose("Câu hỏi <script>x</script>", "Không dùng.", "other")
        client = await logged_in(services, client_factory)
        page = await client.get("/answers")
        assert "Nhãn hiệu bảo hộ mấy năm?" in page.text and "<script>" not in page.text
        token = _xsrf(page.text)

        approved = await client.post("/answers", data={"_xsrf": token, "id": str(first.id), "action": "approve"})
        assert approved.status_code == 200 and f"Đã duyệt câu trả lời #{first.id}" in approved.text
        record = services.answers.get(first.id)
        assert record.status == "approved" and record.approved_by == ADMIN and record.review_on is not None

        again = await client.post("/answers", data={"_xsrf": token, "id": str(first.id), "action": "discard"})
        assert "Không thực hiện được" in again.text and services.answers.get(first.id).status == "approved"
        await client.post("/answers", data={"_xsrf": token, "id": str(second.id), "action": "discard"})
        assert services.answers.get(second.id).status == "discarded"
        assert services.answers.get(second.id).closed_by == ADMIN
        await client.post("/answers", data={"_xsrf": token, "id": str(first.id), "action": "retire"})
        assert services.answers.get(first.id).status == "retired"
        bad = await client.post("/answers", data={"_xsrf": token, "id": "1; drop", "action": "approve"})
        assert bad.status_code == 400


async def test_needs_page_and_export(settings, embedder):
    from io import BytesIO

    from openpyxl import load_workbook

    from bot.needs.models import NeedsProfile

    async with console(settings, embedder) as (services, client_factory):
        client = await logged_in(services, client_factory)
        empty = await client.get("/needs")
        assert empty.status_code == 200 and "Chưa có hồ sơ nhu cầu nào" in empty.text
        with services.store.session.begin() as s:
            s.add(NeedsProfile(user_id=987654321, user_name="Chị Hoa", status="new", topic="ip", size_class="small",
                               data={}, submitted_at=dt.datetime.now(dt.UTC)))  # fmt: skip
        page = await client.get("/needs")
        assert "doanh nghiệp nhỏ" in page.text and "Chị Hoa" not in page.text and "987654321" not in page.text
        token = _xsrf(page.text)
        pseudo = await client.post("/needs/export", data={"_xsrf": token})
        assert pseudo.status_code == 200 and pseudo.headers["content-type"].startswith("application/vnd.openxml")

        def cells(content: bytes) -> str:
            book = load_workbook(BytesIO(content), read_only=True)
            try:
                return " ".join(str(v) for sheet in book for row in sheet.iter_rows(values_only=True) for v in row)
            finally:
                book.close()

        assert "987654321" not in cells(pseudo.content)
        raw = await client.post("/needs/export", data={"_xsrf": token, "raw": "1"})
        assert "987654321" in cells(raw.content) and "-raw.xlsx" in raw.headers["content-disposition"]
        bad = await client.post("/needs/export", data={"_xsrf": token, "from": "2026-13-01", "to": "x"})
        assert "YYYY-MM-DD" in bad.text


async def test_healthz_answers_like_the_webhook(settings, embedder):
    async with console(settings, embedder) as (services, client_factory):
        response = await client_factory().get("/healthz")
        assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
        report = response.json()
        assert report["ok"] is True and set(report["checks"]) == {"database", "vector_store", "index", "outbox"}
        direct = health.check(services)  # what `python -m bot health --json` prints
        assert {k: {f: v for f, v in c.items() if f != "ms"} for k, c in report["checks"].items()} == {
            k: {f: v for f, v in c.items() if f != "ms"} for k, c in direct["checks"].items()
        }
        assert response.headers["cache-control"] == "no-store"
