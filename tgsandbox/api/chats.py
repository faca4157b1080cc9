"""Chats and their members: getChat, getChatMember, getChatAdministrators,
getChatMemberCount, pinChatMessage, leaveChat."""

from __future__ import annotations

from tgsandbox.model import JSON, bad_request
from tgsandbox.params import Params
from tgsandbox.state import World


async def get_chat(world: World, params: Params) -> JSON:
    chat = world.known_chat(params.chat_ref())
    info = chat.as_chat()
    info.pop("all_members_are_administrators", None)
    info.update(
        accent_color_id=0,
        max_reaction_count=11,
        accepted_gift_types={
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    )
    return info


async def get_chat_member(world: World, params: Params) -> JSON:
    chat = world.known_chat(params.chat_ref())
    user_id = params.integer("user_id")
    if user_id == world.bot_id:
        return world.member_json(dict(world.bot_user), chat.bot_status)
    person = world.people.get(user_id or 0)
    if person is None:
        raise bad_request("user not found")
    if not chat.is_group:
        status = "member" if person.id == chat.id else "left"
        return world.member_json(person.as_user(), status)
    return world.member_json(person.as_user(), chat.members.get(person.id, "left"))


async def get_chat_administrators(world: World, params: Params) -> list[JSON]:
    chat = world.known_chat(params.chat_ref())
    if not chat.is_group:
        raise bad_request("there are no administrators in the private chat")
    admins = [
        world.member_json(world.people[uid].as_user(), status)
        for uid, status in chat.members.items()
        if status in ("creator", "administrator")
    ]
    if chat.bot_status == "administrator":
        admins.append(world.member_json(dict(world.bot_user), "administrator"))
    return admins


async def get_chat_member_count(world: World, params: Params) -> int:
    chat = world.known_chat(params.chat_ref())
    if not chat.is_group:
        return 2
    present = [s for s in chat.members.values() if s not in ("left", "kicked")]
    return len(present) + (1 if chat.bot_status not in ("left", "kicked") else 0)


async def pin_chat_message(world: World, params: Params) -> bool:
    chat = world.target_chat(params.chat_ref())
    if (params.integer("message_id") or 0) not in chat.messages:
        raise bad_request("message to pin not found")
    return True


async def leave_chat(world: World, params: Params) -> bool:
    chat = world.known_chat(params.chat_ref())
    if chat.is_group:
        chat.bot_status = "left"
    return True
