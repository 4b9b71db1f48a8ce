"""Faults a test can queue: flood limits (429 retry_after), arbitrary failures of the next calls, and outages
lasting some seconds (500s, a flood limit, connections dropped before or after the call is carried out)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import ApiError

if TYPE_CHECKING:
    from .state import State


OUTAGE_KINDS = ("500", "429", "drop_before", "drop_after")


@dataclass
class Outage:
    kind: str
    until: float  # time.monotonic()
    methods: frozenset[str] | None  # lower-case names; None: every method


def active_outage(state: State, method: str) -> Outage | None:
    """The outage that applies to a call of ``method`` now (the caller holds ``state.lock``)."""
    moment = time.monotonic()
    state.outages = [o for o in state.outages if o.until > moment]
    return next((o for o in state.outages if o.methods is None or method in o.methods), None)


def raise_outage(outage: Outage) -> None:
    if outage.kind == "500":
        raise ApiError(500, "Internal Server Error")
    if outage.kind == "429":
        left = max(1, math.ceil(outage.until - time.monotonic()))
        raise ApiError(429, f"Too Many Requests: retry after {left}", {"retry_after": left})


def raise_flood(flood: dict[int | None, list[int]], chat_id: int) -> None:
    """Raise the next queued 429 for ``chat_id`` (or for any chat), as Telegram does past its limits."""
    for key in (chat_id, None):
        queue = flood.get(key)
        if queue:
            retry_after = queue.pop(0)
            if not queue:
                del flood[key]
            raise ApiError(429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after})


def raise_queued(failures: dict[str, list[ApiError]], method: str) -> None:
    """Raise the next failure queued by ``fail_next`` for ``method`` (lower-case), before any validation."""
    queued = failures.get(method)
    if queued:
        raise queued.pop(0)


class Faults:
    """Test-side API of the fake: make the next requests fail."""

    state: State

    def set_flood(self, chat_id: int | None, retry_after: int, count: int = 1) -> None:
        """The next ``count`` sends to ``chat_id`` (None = any chat) fail with 429 retry_after."""
        with self.state.lock:
            key = None if chat_id is None else int(chat_id)
            self.state.flood.setdefault(key, []).extend([int(retry_after)] * count)

    def fail_next(
        self,
        method: str,
        error_code: int = 500,
        description: str = "Internal Server Error",
        count: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """The next ``count`` calls of ``method`` fail with the given error (before any validation)."""
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        with self.state.lock:
            self.state.failures.setdefault(method.lower(), []).extend(
                ApiError(error_code, description, parameters) for _ in range(count)
            )

    def outage(self, kind: str, seconds: float, methods: set[str] | None = None) -> None:
        """For ``seconds`` from now, calls of ``methods`` (default: every method; for "429" the ones that post a
        message) fail as ``kind``: "500"; "429" with retry_after = what is left of the window; "drop_before"
        (the connection closes before the call is carried out); "drop_after" (carried out, then the connection
        closes with no answer, so the bot cannot know it worked)."""
        if kind not in OUTAGE_KINDS:
            raise ValueError(f"kind must be one of {OUTAGE_KINDS}")
        from .state import SEND_METHODS

        chosen = {m.lower() for m in methods} if methods else (set(SEND_METHODS) if kind == "429" else None)
        with self.state.lock:
            self.state.outages.append(
                Outage(kind, time.monotonic() + seconds, frozenset(chosen) if chosen is not None else None)
            )

    def dropped(self) -> list[dict]:
        """Calls whose connection the fake dropped (method, kind, carried out or not), oldest first."""
        with self.state.lock:
            return list(self.state.dropped)
