"""Login links and sessions of the web console on SQLite and PostgreSQL: hashed, single use, expiring."""

from __future__ import annotations

import datetime as dt
import threading
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select, update

from bot.storage import Store
from bot.web.logins import Logins, digest
from bot.web.models import WebLoginToken, WebSession

ADMIN = 4242


@pytest.fixture
def logins(database_url):
    store = Store(database_url)
    return Logins(store, [ADMIN], "https://kb.example.vn")


def _token(link: str) -> str:
    return parse_qs(urlparse(link).query)["token"][0]


def test_two_browsers_racing_for_one_link_open_one_session(logins):
    token = _token(logins.issue_link(ADMIN))
    barrier, results = threading.Barrier(4), []

    def redeem() -> None:
        barrier.wait()
        results.append(logins.redeem(token))

    threads = [threading.Thread(target=redeem) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = [r for r in results if r.cookie]
    assert len(won) == 1 and sorted(r.refused for r in results if not r.cookie) == ["used"] * 3
    assert logins.admin_for(won[0].cookie) == ADMIN
    with logins.session() as s:
        assert s.scalars(select(WebSession.session_hash)).all() == [digest(won[0].cookie)]
        assert s.scalars(select(WebLoginToken.token_hash)).all() == [digest(token)]


def test_expiry_and_strangers(logins):
    token = _token(logins.issue_link(ADMIN))
    with logins.session.begin() as s:
        s.execute(update(WebLoginToken).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
    assert logins.redeem(token).refused == "expired" and logins.redeem("nope").refused == "unknown"
    with pytest.raises(PermissionError):
        logins.issue_link(777)
    cookie = logins.redeem(_token(logins.issue_link(ADMIN))).cookie
    with logins.session.begin() as s:
        s.execute(update(WebSession).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    assert logins.admin_for(cookie) is None and logins.admin_for("") is None and logins.admin_for("x" * 500) is None
