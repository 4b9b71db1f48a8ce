"""Helpers for the fake Bot API's own tests: a served fake with two users and a group, and raw HTTP calls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from tests.support.botapi import FakeBotAPI

TOKEN = "123456:TEST-token_x"
USER = 1001
OTHER = 1002
GROUP = -1001234567890


@contextmanager
def served() -> Iterator[FakeBotAPI]:
    """A running fake with users USER (Vietnamese) and OTHER (English), and the supergroup GROUP."""
    server = FakeBotAPI(token=TOKEN, username="sme_test_bot")
    server.start()
    server.add_private_user(USER, first_name="Lan", username="lan_vn")
    server.add_private_user(OTHER, first_name="Minh", language_code="en")
    server.add_group(GROUP, "SME consultants")
    try:
        yield server
    finally:
        server.stop()


def client_for(api: FakeBotAPI) -> httpx.Client:
    return httpx.Client(base_url=f"{api.base_url}/bot{TOKEN}", timeout=10, trust_env=False)


def call(client: httpx.Client, method: str, **params) -> tuple[int, dict]:
    """JSON-encoded call."""
    response = client.post(f"/{method}", json=params)
    return response.status_code, response.json()


def form_call(client: httpx.Client, method: str, **params) -> tuple[int, dict]:
    """Form-encoded call the way python-telegram-bot does it (non-strings JSON-encoded)."""
    data = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in params.items()}
    response = client.post(f"/{method}", data=data)
    return response.status_code, response.json()


def assert_error(result: tuple[int, dict], code: int, description: str) -> dict:
    status, body = result
    assert status == code, body
    assert body["ok"] is False and body["error_code"] == code, body
    assert body["description"].startswith(description), body
    return body
