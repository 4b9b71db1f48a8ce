"""The bot's own profile: getMe, and the command menus per scope and language (setMyCommands, deleteMyCommands)."""

from __future__ import annotations

import json
import re

from .errors import bad
from .params import Params
from .state import State

_SCOPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)


def get_me(state: State, params: Params) -> dict:
    return {
        **state.bot_user(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


def scope_key(state: State, scope: object, language: str) -> str:
    """The key of a (scope, language_code) menu; refuses unknown scopes, chats and language codes."""
    scope = scope or {"type": "default"}
    if not isinstance(scope, dict) or scope.get("type") not in _SCOPES:
        raise bad("can't parse BotCommandScope JSON object")
    scope = dict(scope)
    if scope["type"] in ("chat", "chat_administrators", "chat_member"):
        scope["chat_id"] = state.resolve_chat(scope.get("chat_id"))["id"]
        if scope["type"] == "chat_member":
            scope["user_id"] = int(scope.get("user_id") or 0)
    if language and not re.fullmatch(r"[a-z]{2}", language):
        raise bad("invalid language code specified")
    return json.dumps([scope, language], sort_keys=True)


def set_my_commands(state: State, params: Params) -> bool:
    with state.lock:
        commands = params.json("commands")
        if not isinstance(commands, list):
            raise bad("can't parse commands JSON object")
        if len(commands) > 100:
            raise bad("too many commands specified")
        clean = []
        for command in commands:
            if not isinstance(command, dict):
                raise bad("can't parse BotCommand JSON object")
            name = str(command.get("command", "")).lstrip("/")
            description = str(command.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise bad("BOT_COMMAND_INVALID")
            if not 1 <= len(description.strip()) <= 256:
                raise bad("BOT_COMMAND_DESCRIPTION_INVALID")
            clean.append({"command": name, "description": description})
        key = scope_key(state, params.json("scope"), params.str("language_code") or "")
        if clean:
            state.commands[key] = clean
        else:
            state.commands.pop(key, None)
        return True


def delete_my_commands(state: State, params: Params) -> bool:
    with state.lock:
        state.commands.pop(scope_key(state, params.json("scope"), params.str("language_code") or ""), None)
        return True


METHODS = {"getme": get_me, "setmycommands": set_my_commands, "deletemycommands": delete_my_commands}
