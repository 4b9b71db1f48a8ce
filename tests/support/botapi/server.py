"""``FakeBotAPI``: the server's lifecycle, and the one object tests hold.

Its test-side API comes in parts (users.py: play users; reading.py: read what the bot did; waiting.py:
wait for it; faults.py: make calls fail) that share nothing but ``self.state``. The Bot API methods are
plain functions over the state, registered by name in ``METHODS``.
"""

from __future__ import annotations

import threading
from typing import Self

from . import files, keyboards, messages, profile, updates
from .faults import Faults
from .reading import Reading
from .state import State
from .transport import Method, Server
from .users import Users
from .waiting import Waiting

METHODS: dict[str, Method] = {
    **profile.METHODS,
    **updates.METHODS,
    **messages.METHODS,
    **keyboards.METHODS,
    **files.METHODS,
}


class FakeBotAPI(Users, Reading, Waiting, Faults):
    """Thread-safe fake Bot API server with a test-side API to play users."""

    def __init__(
        self,
        token: str = "123:ABC",
        bot_id: int | None = None,
        username: str = "sme_test_bot",
        first_name: str = "SME Test Bot",
        host: str = "127.0.0.1",
        port: int = 0,
        webhook_retry_delay: float = 0.2,
        webhook_max_retry_delay: float = 2.0,
    ) -> None:
        if bot_id is None:
            head = token.split(":", 1)[0]
            bot_id = int(head) if head.isdigit() else 123456789
        self.state = State(token, bot_id, username, first_name)
        self.state.webhook_retry_delay = webhook_retry_delay
        self.state.webhook_max_retry_delay = webhook_max_retry_delay
        self.host = host
        self.port = port
        self._httpd: Server | None = None
        self._threads: list[threading.Thread] = []

    @property
    def token(self) -> str:
        return self.state.token

    @property
    def bot_id(self) -> int:
        return self.state.bot_id

    @property
    def webhook_retry_delay(self) -> float:
        """First delay before a failed webhook delivery is retried (doubling up to the maximum)."""
        return self.state.webhook_retry_delay

    @webhook_retry_delay.setter
    def webhook_retry_delay(self, seconds: float) -> None:
        self.state.webhook_retry_delay = seconds

    @property
    def base_url(self) -> str:
        """Root URL, e.g. http://127.0.0.1:PORT (what TELEGRAM_API_URL should be set to)."""
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """``base_url`` argument for ``telegram.Bot`` (root + "/bot")."""
        return f"{self.base_url}/bot"

    @property
    def file_url(self) -> str:
        """``base_file_url`` argument for ``telegram.Bot`` (root + "/file/bot")."""
        return f"{self.base_url}/file/bot"

    def start(self, port: int | None = None) -> str:
        """Start serving (port 0 = ephemeral); returns ``base_url``. May be restarted after stop()."""
        if self._httpd is not None:
            return self.base_url
        with self.state.lock:
            self.state.stopping = False
        self._httpd = Server((self.host, self.port if port is None else port), self.state, METHODS)
        self.port = self._httpd.server_address[1]
        self._threads = [
            threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fakebotapi-http", daemon=True
            ),
        ]
        busy: set = set()  # chats with a webhook post in flight, shared by the senders
        self._threads += [
            threading.Thread(
                target=updates.webhook_loop, args=(self.state, busy), name=f"fakebotapi-webhook-{n}", daemon=True
            )
            for n in range(updates.WEBHOOK_SENDERS)
        ]
        for thread in self._threads:
            thread.start()
        return self.base_url

    def stop(self) -> None:
        """Stop serving and drop open connections. State is kept, so start() can resume."""
        httpd = self._httpd
        if httpd is None:
            return
        with self.state.cond:
            self.state.stopping = True  # ends waiting long polls and the webhook sender
            self.state.cond.notify_all()
        httpd.shutdown()
        httpd.server_close()
        httpd.drop_connections()
        for thread in self._threads:
            thread.join(timeout=5)
        self._httpd = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
