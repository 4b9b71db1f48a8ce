"""A python-telegram-bot request class that answers like the Bot API and records every call, offline."""

from __future__ import annotations

import itertools
import json
import time

from telegram.request import BaseRequest, RequestData

BOT = {
    "id": 999,
    "is_bot": True,
    "first_name": "SME Bot",
    "username": "sme_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


class RecordingRequest(BaseRequest):
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self._ids = itertools.count(1000)

    @property
    def read_timeout(self) -> float:
        return 5.0

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    def sent(self, method: str) -> list[dict]:
        return [params for name, params in self.calls if name == method]

    async def do_request(
        self,
        url,
        method,
        request_data: RequestData | None = None,
        read_timeout=None,
        write_timeout=None,
        connect_timeout=None,
        pool_timeout=None,
    ):
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        params = {k: (json.loads(v) if isinstance(v, str) and v[:1] in "[{" else v) for k, v in params.items()}
        self.calls.append((name, params))
        if name == "getMe":
            result = BOT
        elif name in ("sendMessage", "editMessageText", "sendPhoto", "sendDocument"):
            chat_id = int(params.get("chat_id", 0) or 0)
            result = {
                "message_id": next(self._ids),
                "date": int(time.time()),
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "from": BOT,
                "text": params.get("text", ""),
            }
        else:
            result = True
        return 200, json.dumps({"ok": True, "result": result}).encode()
