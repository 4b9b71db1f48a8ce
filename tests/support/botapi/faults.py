"""Faults a test can queue: flood limits (429 retry_after) and arbitrary failures of the next calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import ApiError

if TYPE_CHECKING:
    from .state import State


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
