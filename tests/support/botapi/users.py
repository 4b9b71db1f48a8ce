"""Test-side API: set up users and chats, and play users (write, send files, press buttons, block the bot).

Each action stores the user's message as Telegram would and queues the update the bot then receives.
"""

from __future__ import annotations

import copy
import mimetypes
import time
from typing import Any

from .files import file_object, new_file, photo_sizes
from .formatting import u16len
from .keyboards import inline_buttons
from .state import State, message_address, reply_copy

# A valid 1x1 PNG, the default photo content.
_TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


class Users:
    """Users, groups and what they do."""

    state: State

    # ---------------------------------------------------------------- setup
    def add_private_user(
        self,
        user_id: int,
        first_name: str = "Test User",
        language_code: str | None = "vi",
        username: str | None = None,
        last_name: str | None = None,
    ) -> dict:
        """Register a user and their private chat with the bot (chat id == user id). Returns the User."""
        user: dict[str, Any] = {"id": int(user_id), "is_bot": False, "first_name": first_name}
        chat: dict[str, Any] = {"id": int(user_id), "type": "private", "first_name": first_name}
        for key, value in (("last_name", last_name), ("username", username)):
            if value:
                user[key] = chat[key] = value
        if language_code:
            user["language_code"] = language_code
        with self.state.cond:
            self.state.users[int(user_id)] = user
            self.state.chats[int(user_id)] = chat
            self.state.cond.notify_all()
        return copy.deepcopy(user)

    def add_group(self, chat_id: int, title: str, type: str | None = None) -> dict:
        """Register a group (ids <= -10**12 default to "supergroup", other negative ids to "group")."""
        chat: dict[str, Any] = {
            "id": int(chat_id),
            "type": type or ("supergroup" if chat_id <= -(10**12) else "group"),
            "title": title,
        }
        with self.state.cond:
            self.state.chats[int(chat_id)] = chat
            self.state.cond.notify_all()
        return copy.deepcopy(chat)

    def block(self, user_id: int, notify: bool = False) -> None:
        """The user blocks the bot: sends/edits to their private chat fail with 403.

        ``notify=True`` also injects the my_chat_member update Telegram sends in that case.
        """
        with self.state.cond:
            self.state.require_user(user_id)
            self.state.blocked.add(int(user_id))
            if notify:
                self._member_change(int(user_id), "member", "kicked")
            self.state.cond.notify_all()

    def unblock(self, user_id: int, notify: bool = False) -> None:
        with self.state.cond:
            self.state.require_user(user_id)
            if int(user_id) in self.state.blocked:
                self.state.blocked.discard(int(user_id))
                if notify:
                    self._member_change(int(user_id), "kicked", "member")
            self.state.cond.notify_all()

    def _member_change(self, user_id: int, old: str, new: str) -> None:
        bot = self.state.bot_user()

        def member(status: str) -> dict:
            return {"status": status, "user": bot, **({"until_date": 0} if status == "kicked" else {})}

        self.state.inject(
            "my_chat_member",
            {
                "chat": copy.deepcopy(self.state.chats[user_id]),
                "from": copy.deepcopy(self.state.users[user_id]),
                "date": int(time.time()),
                "old_chat_member": member(old),
                "new_chat_member": member(new),
            },
        )

    # ---------------------------------------------------------------- messages
    def inject_update(self, kind: str, payload: dict) -> dict:
        """Inject an arbitrary update, e.g. inject_update("my_chat_member", {...}). Returns it."""
        with self.state.cond:
            return self.state.inject(kind, copy.deepcopy(payload))

    def _user_message(
        self, user_id: int, content: dict, chat_id: int | None, reply_to_message_id: int | None, kind: str
    ) -> dict:
        state = self.state
        with state.cond:
            user = state.require_user(user_id)
            target = int(chat_id) if chat_id is not None else int(user_id)
            chat = state.chats.get(target)
            if chat is None:
                raise KeyError(f"chat {target} is not registered")
            if chat["type"] == "private":
                state.blocked.discard(target)  # writing to a blocked bot means pressing "Restart"
            wire: dict[str, Any] = {
                "message_id": state.new_message_id(target),
                "from": copy.deepcopy(user),
                "chat": copy.deepcopy(chat),
                "date": int(time.time()),
            }
            if reply_to_message_id is not None:
                replied = state.find_message(target, int(reply_to_message_id))
                if replied is None:
                    raise KeyError(f"message {reply_to_message_id} not found in chat {target}")
                wire["reply_to_message"] = reply_copy(replied["message"])
            wire.update(content)
            state.store_message(chat, wire, False, kind, raw=content.get("text") or content.get("caption"))
            return state.inject("message", wire)

    def send_text(
        self,
        user_id: int,
        text: str,
        chat_id: int | None = None,
        reply_to_message_id: int | None = None,
        entities: list[dict] | None = None,
    ) -> dict:
        """The user writes ``text`` (to their private chat unless chat_id). Returns the Update dict."""
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        return self._user_message(user_id, content, chat_id, reply_to_message_id, "text")

    def send_command(
        self, user_id: int, command: str, chat_id: int | None = None, reply_to_message_id: int | None = None
    ) -> dict:
        """The user sends e.g. "/start" or "/start payload" (with a bot_command entity)."""
        if not command.startswith("/"):
            command = "/" + command
        head = command.split(maxsplit=1)[0] if command.strip() else command
        entities = [{"type": "bot_command", "offset": 0, "length": u16len(head)}]
        return self.send_text(user_id, command, chat_id, reply_to_message_id, entities=entities)

    def send_sticker(self, user_id: int, emoji: str = "👍", chat_id: int | None = None) -> dict:
        with self.state.lock:
            info = new_file(self.state, "sticker", b"RIFF\x00\x00\x00\x00WEBPVP8 ", None, "image/webp", "webp")
            sticker = {
                **file_object(info),
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": emoji,
            }
        return self._user_message(user_id, {"sticker": sticker}, chat_id, None, "sticker")

    def send_photo(
        self, user_id: int, caption: str | None = None, chat_id: int | None = None, data: bytes | None = None
    ) -> dict:
        with self.state.lock:
            info = new_file(self.state, "photo", data if data is not None else _TINY_PNG, None, "image/jpeg", "jpg")
            content: dict[str, Any] = {"photo": photo_sizes(self.state, info)}
        if caption:
            content["caption"] = caption
        return self._user_message(user_id, content, chat_id, None, "photo")

    def send_document(
        self,
        user_id: int,
        file_name: str,
        data: bytes,
        mime_type: str | None = None,
        caption: str | None = None,
        chat_id: int | None = None,
    ) -> dict:
        """The user uploads a file; getFile and the download URL then serve ``data``."""
        mime_type = mime_type or mimetypes.guess_type(file_name)[0] or "application/octet-stream"
        with self.state.lock:
            info = new_file(self.state, "document", bytes(data), file_name, mime_type)
            document = {**file_object(info), "file_name": file_name, "mime_type": mime_type}
        content: dict[str, Any] = {"document": document}
        if caption:
            content["caption"] = caption
        return self._user_message(user_id, content, chat_id, None, "document")

    # ---------------------------------------------------------------- buttons
    def click(self, user_id: int, chat_id: int, message_id: int, callback_data: str, check: bool = True) -> str:
        """The user presses the inline button with ``callback_data`` on a bot message.

        Injects a callback_query update and returns its id. With ``check`` (default) the button must
        exist in the message's current inline keyboard, as for a real user.
        """
        state = self.state
        with state.cond:
            user = state.require_user(user_id)
            record = state.find_message(int(chat_id), int(message_id))
            if record is None:
                raise AssertionError(f"message {message_id} not found in chat {chat_id}")
            buttons = inline_buttons(record["reply_markup"])
            if check and callback_data not in [data for _, data in buttons]:
                raise AssertionError(
                    f"message {message_id} in chat {chat_id} has no button with callback_data "
                    f"{callback_data!r}; buttons: {buttons}"
                )
            state.callback_counter += 1
            query_id = str(4_500_000_000_000_000_000 + int(user_id) % 10**9 * 1000 + state.callback_counter)
            query = {
                "id": query_id,
                "from": copy.deepcopy(user),
                "message": copy.deepcopy(record["message"]),
                "chat_instance": str((int(chat_id) * 2654435761) % 10**19),
                "data": callback_data,
            }
            update = state.inject("callback_query", query)
            state.callbacks[query_id] = {
                "id": query_id,
                "user_id": int(user_id),
                "chat_id": int(chat_id),
                "message_id": int(message_id),
                "data": callback_data,
                "update_id": update["update_id"],
                "injected_at": time.monotonic(),
                "answered_at": None,
                "answer": None,
            }
            return query_id

    def press_button(
        self, user_id: int, message: dict, callback_data: str | None = None, text: str | None = None, check: bool = True
    ) -> str:
        """Press a button of ``message`` (a record from messages()/wait_for_message or a Message dict),
        chosen by callback_data or by its label ``text``. Returns the callback query id."""
        chat_id, message_id = message_address(message)
        if callback_data is None:
            if text is None:
                raise ValueError("give callback_data or text")
            with self.state.lock:
                record = self.state.find_message(chat_id, message_id)
                markup = record["reply_markup"] if record else message.get("reply_markup")
            matches = [data for label, data in inline_buttons(markup) if label == text]
            if not matches:
                raise AssertionError(f"no button labelled {text!r}; buttons: {inline_buttons(markup)}")
            callback_data = matches[0]
        return self.click(user_id, chat_id, message_id, callback_data, check=check)
