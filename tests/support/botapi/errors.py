"""Error answers of the Bot API, in the shape Telegram returns them."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error response of the Bot API (raised inside method handlers, turned into JSON by the transport)."""

    def __init__(self, code: int, description: str, parameters: dict | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters

    def payload(self) -> dict:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad(description: str) -> ApiError:
    """A 400 answer; python-telegram-bot raises BadRequest for it."""
    return ApiError(400, "Bad Request: " + description)
