"""The bot itself: getMe, logOut, close, the command menu (setMyCommands…) and descriptions."""

from __future__ import annotations

import json
import re

from tgsandbox.model import JSON, bad_request
from tgsandbox.params import Params
from tgsandbox.state import World

_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


async def accept(world: World, params: Params) -> bool:
    """Answer true: a call whose effect nobody in the chats can see."""
    return True


async def get_me(world: World, params: Params) -> JSON:
    me = dict(world.bot_user)
    me.update(
        can_join_groups=True,
        can_read_all_group_messages=not world.privacy_mode,
        supports_inline_queries=False,
        can_connect_to_business=False,
        has_main_web_app=False,
    )
    return me


async def set_my_commands(world: World, params: Params) -> bool:
    commands = params.get("commands")
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("can't parse commands JSON object")
    for command in commands:
        name = command.get("command", "") if isinstance(command, dict) else ""
        description = command.get("description", "") if isinstance(command, dict) else ""
        if not _COMMAND_NAME.match(name) or not 1 <= len(description) <= 256:
            raise bad_request("BOT_COMMAND_INVALID")
    world.commands[_commands_key(params)] = [
        {"command": c["command"], "description": c["description"]} for c in commands
    ]
    return True


async def get_my_commands(world: World, params: Params) -> list[JSON]:
    return list(world.commands.get(_commands_key(params), []))


async def delete_my_commands(world: World, params: Params) -> bool:
    world.commands.pop(_commands_key(params), None)
    return True


def _commands_key(params: Params) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    if not isinstance(scope, dict) or "type" not in scope:
        raise bad_request("can't parse BotCommandScope JSON object")
    return json.dumps(scope, sort_keys=True), params.text("language_code") or ""
