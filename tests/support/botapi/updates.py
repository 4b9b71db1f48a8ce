"""Getting updates to the bot: getUpdates long polling, or setWebhook and a thread that posts to the webhook.

As on Telegram, the two exclude each other (409 Conflict), a second long poll ends the first (409), an update
stays pending until the bot confirms it (a higher getUpdates offset, or a 2xx from the webhook), and failed
webhook deliveries are retried with a growing delay.
"""

from __future__ import annotations

import copy
import json
import re
import time
import urllib.error
import urllib.request

from .errors import ApiError, bad
from .params import Params
from .state import State

# Update types Telegram leaves out when allowed_updates is empty or was never set.
_DEFAULT_EXCLUDED = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_WEBHOOK_ACTIVE = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)


def get_updates(state: State, params: Params) -> list[dict]:
    offset = params.int("offset", 0) or 0
    limit = min(max(params.int("limit", 100) or 100, 1), 100)
    deadline = time.monotonic() + max(params.float("timeout", 0.0) or 0.0, 0.0)
    allowed = params.json("allowed_updates")
    with state.cond:
        if state.webhook is not None:
            raise ApiError(409, _WEBHOOK_ACTIVE)
        if isinstance(allowed, list):
            state.allowed_updates = [str(a) for a in allowed]
        state.poll_generation += 1
        generation = state.poll_generation
        state.cond.notify_all()
        _confirm(state, offset)
        while True:
            if state.stopping:
                return []
            if state.poll_generation != generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
                )
            if state.webhook is not None:
                raise ApiError(409, _WEBHOOK_ACTIVE)
            updates = deliverable(state, limit)
            if updates:
                now = time.monotonic()
                for update in updates:
                    meta = state.update_meta[update["update_id"]]
                    meta["delivered_at"] = meta["delivered_at"] or now
                    meta["deliveries"] += 1
                return copy.deepcopy(updates)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            state.cond.wait(remaining)


def _confirm(state: State, offset: int) -> None:
    """A positive offset confirms the updates before it; a negative one keeps only the last -offset."""
    if offset > 0:
        confirmed = [u for u in state.pending if u["update_id"] < offset]
        state.pending = [u for u in state.pending if u["update_id"] >= offset]
    elif offset < 0:
        keep = -offset
        confirmed = state.pending[:-keep] if keep < len(state.pending) else []
        state.pending = state.pending[-keep:]
    else:
        return
    now = time.monotonic()
    for update in confirmed:
        state.update_meta[update["update_id"]]["confirmed_at"] = now
    if confirmed:
        state.cond.notify_all()


def _allowed(state: State, update: dict) -> bool:
    kind = next(k for k in update if k != "update_id")
    if state.allowed_updates:
        return kind in state.allowed_updates
    return kind not in _DEFAULT_EXCLUDED


def deliverable(state: State, limit: int) -> list[dict]:
    """The next pending updates the bot asked for; updates of other types are dropped, as Telegram does."""
    dropped = [u for u in state.pending if not _allowed(state, u)]
    if dropped:
        now = time.monotonic()
        for update in dropped:
            state.update_meta[update["update_id"]]["dropped_at"] = now
        state.pending = [u for u in state.pending if _allowed(state, u)]
    return state.pending[:limit]


def set_webhook(state: State, params: Params) -> tuple[bool, str]:
    url = (params.str("url") or "").strip()
    secret = params.str("secret_token")
    with state.cond:
        if not url:
            return delete_webhook(state, params)
        if not re.match(r"https?://[^/\s]+", url):
            raise bad("bad webhook: Failed to resolve host: Name or service not known")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise bad("secret token contains unallowed characters")
        allowed = params.json("allowed_updates")
        if isinstance(allowed, list):
            state.allowed_updates = [str(a) for a in allowed]
        if params.bool("drop_pending_updates"):
            _drop_pending(state)
        connections = min(max(params.int("max_connections", 40) or 40, 1), 100)
        state.webhook = {"url": url, "secret_token": secret, "max_connections": connections}
        state.poll_generation += 1  # a waiting long poll ends with 409
        state.cond.notify_all()
    return True, "Webhook was set"


def delete_webhook(state: State, params: Params) -> tuple[bool, str]:
    with state.cond:
        if params.bool("drop_pending_updates"):
            _drop_pending(state)
        was_set = state.webhook is not None
        state.webhook = None
        state.cond.notify_all()
    return True, ("Webhook was deleted" if was_set else "Webhook is already deleted")


def _drop_pending(state: State) -> None:
    now = time.monotonic()
    for update in state.pending:
        state.update_meta[update["update_id"]]["dropped_at"] = now
    state.pending = []


# Telegram posts to a webhook over up to `max_connections` connections at once (40 unless setWebhook says
# otherwise), one update of a chat at a time: a chat's next update waits until the one before it was answered.
WEBHOOK_SENDERS = 8  # threads posting at once; setWebhook's max_connections lowers it, never raises it


def chat_of(update: dict) -> int | None:
    """The chat (else the user) an update belongs to, for posting one chat's updates in order."""
    payload = next(v for k, v in update.items() if k != "update_id")
    for holder in (payload, payload.get("message") or {}):
        chat = holder.get("chat")
        if isinstance(chat, dict) and "id" in chat:
            return chat["id"]
    user = payload.get("from") or payload.get("user")
    return user.get("id") if isinstance(user, dict) else None


def _next_post(state: State, busy: set) -> dict | None:
    """The first pending update whose chat has nothing in flight and whose retry time has come."""
    if state.webhook is None or len(busy) >= state.webhook.get("max_connections", 40):
        return None
    now = time.monotonic()
    seen: set = set()
    for update in deliverable(state, len(state.pending)):
        chat = chat_of(update)
        if chat in seen or chat in busy:
            continue
        seen.add(chat)
        if state.update_meta[update["update_id"]].get("retry_at", 0.0) <= now:
            return update
    return None


def webhook_loop(state: State, busy: set) -> None:
    """Post pending updates to the webhook, several chats at once, until ``state.stopping``.

    Run by WEBHOOK_SENDERS threads sharing `busy` (the chats with a post in flight)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
    while True:
        with state.cond:
            while not state.stopping and (update := _next_post(state, busy)) is None:
                state.cond.wait(0.05)
            if state.stopping:
                return
            hook = dict(state.webhook)
            chat = chat_of(update)
            busy.add(chat)
            update = copy.deepcopy(update)
        try:
            status, error = _post(opener, hook, update)
        finally:
            with state.cond:
                busy.discard(chat)
        now = time.monotonic()
        with state.cond:
            state.webhook_deliveries.append(
                {"update_id": update["update_id"], "url": hook["url"], "status": status, "error": error, "at": now}
            )
            meta = state.update_meta[update["update_id"]]
            meta["deliveries"] += 1
            if error is None:
                state.pending = [u for u in state.pending if u["update_id"] != update["update_id"]]
                meta["delivered_at"] = meta["delivered_at"] or now
                meta["confirmed_at"] = now
            else:  # retried with a growing delay; the chat's later updates wait for it
                failed = meta.get("failed", 0) + 1
                meta["failed"] = failed
                delay = min(state.webhook_retry_delay * 2 ** (failed - 1), state.webhook_max_retry_delay)
                meta["retry_at"] = now + delay
            state.cond.notify_all()


def _post(opener: urllib.request.OpenerDirector, hook: dict, update: dict) -> tuple[int | None, str | None]:
    """(HTTP status, error in getWebhookInfo's words or None) of one delivery."""
    headers = {"Content-Type": "application/json"}
    if hook.get("secret_token"):
        headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
    request = urllib.request.Request(hook["url"], data=json.dumps(update).encode("utf-8"), headers=headers)
    try:
        with opener.open(request, timeout=10) as response:
            response.read()
            return response.status, None
    except urllib.error.HTTPError as err:
        err.close()
        return err.code, f"Wrong response from the webhook: {err.code} {err.reason}"
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        return None, "Connection refused" if isinstance(reason, ConnectionRefusedError) else str(reason)


METHODS = {"getupdates": get_updates, "setwebhook": set_webhook, "deletewebhook": delete_webhook}
