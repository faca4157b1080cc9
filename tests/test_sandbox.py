"""The Bot API emulator, driven by python-telegram-bot's real Bot and HTTP layer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    MessageEntity,
    ReplyParameters,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    RetryAfter,
)
from telegram.helpers import escape_markdown

from tgsandbox import Emulator, make_png

TOKEN = "123456789:AAEmulatorTestTokenNotARealOne0000000"
GROUP = -4001
RESIDENT = 1001
WORKER = 1002
STRANGER = 1003


@pytest.fixture
async def emu() -> AsyncIterator[Emulator]:
    async with Emulator(token=TOKEN, bot_username="gridbot_demo_bot") as emulator:
        emulator.add_user(RESIDENT, "小王", username="xiaowang")
        emulator.add_user(WORKER, "李", "网格员")
        emulator.add_user(STRANGER, "陌生人")
        emulator.add_group(GROUP, "幸福里小区业主群", members=[RESIDENT], admins=[WORKER])
        yield emulator
        assert emulator.internal_errors == []


@pytest.fixture
async def bot(emu: Emulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emu.base_url, base_file_url=emu.base_file_url) as tg_bot:
        yield tg_bot


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d)] for t, d in pairs])


async def test_get_me_describes_the_bot_and_its_privacy_mode(emu: Emulator, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.id == 123456789
    assert me.username == "gridbot_demo_bot"
    assert me.can_join_groups is True
    assert me.can_read_all_group_messages is False
    assert me.supports_inline_queries is False
    emu.set_privacy_mode(False)
    assert (await bot.get_me()).can_read_all_group_messages is True


async def test_get_updates_offset_confirms_and_forgets(emu: Emulator, bot: Bot) -> None:
    await emu.open_private(RESIDENT)
    await emu.send_text(RESIDENT, RESIDENT, "电梯坏了")
    updates = await bot.get_updates()
    assert [u.message.text for u in updates if u.message] == ["/start", "电梯坏了"]
    first, second = updates
    assert second.update_id == first.update_id + 1
    assert first.message is not None and first.message.from_user is not None
    assert first.message.from_user.is_bot is False
    assert first.message.chat.type == "private"
    # Without an offset nothing is confirmed: the same updates come again.
    assert [u.update_id for u in await bot.get_updates()] == [first.update_id, second.update_id]
    assert [u.update_id for u in await bot.get_updates(offset=second.update_id)] == [
        second.update_id
    ]
    # Confirmed updates are forgotten even when a later call asks from an older offset.
    assert await bot.get_updates(offset=second.update_id + 1) == ()
    assert await bot.get_updates(offset=0) == ()
    assert emu.pending_updates == 0


async def test_get_updates_limit(emu: Emulator, bot: Bot) -> None:
    await emu.open_private(RESIDENT)
    for n in range(4):
        await emu.send_text(RESIDENT, RESIDENT, f"第{n}条")
    assert len(await bot.get_updates(limit=2)) == 2
    assert len(await bot.get_updates()) == 5


async def test_long_poll_wakes_when_a_message_arrives(emu: Emulator, bot: Bot) -> None:
    assert await bot.get_updates(timeout=0) == ()
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await emu.wait_until(lambda: emu.stats.by_method["getUpdates"] == 2)
    assert not poll.done()
    await emu.send_text(GROUP, RESIDENT, "/report 3号楼漏水")
    # The poll must end with the update long before its 30 s timeout.
    updates = await asyncio.wait_for(poll, 5)
    assert [u.message.text for u in updates if u.message] == ["/report 3号楼漏水"]


async def test_a_second_poller_ends_the_first_with_conflict(emu: Emulator, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30))
    await emu.wait_until(lambda: emu.stats.by_method["getUpdates"] == 1)
    # python-telegram-bot keeps one connection for getUpdates, so the rival is a plain client.
    async with httpx.AsyncClient(base_url=emu.url) as rival:
        response = await rival.post(f"/bot{TOKEN}/getUpdates", data={"timeout": "0"})
    assert response.json() == {"ok": True, "result": []}
    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, 5)


async def test_updates_have_the_real_shapes(emu: Emulator, bot: Bot) -> None:
    await emu.open_private(RESIDENT, payload="inv-42")
    [update] = await bot.get_updates()
    message = update.message
    assert message is not None
    assert message.text == "/start inv-42"
    assert message.entities == (MessageEntity("bot_command", 0, 6),)
    # Dates are in seconds: a millisecond value would be tens of thousands of years away.
    assert 2020 < message.date.year < 2100
    raw = emu.messages(RESIDENT)[0]
    assert set(raw) >= {"message_id", "from", "chat", "date", "text"}


async def test_entity_offsets_count_utf16_code_units(emu: Emulator, bot: Bot) -> None:
    await emu.send_text(GROUP, RESIDENT, "😀 /report@gridbot_demo_bot 垃圾 @xiaowang")
    [update] = await bot.get_updates()
    assert update.message is not None
    parsed = update.message.parse_entities()
    assert sorted(parsed.values()) == ["/report@gridbot_demo_bot", "@xiaowang"]
    command = next(e for e in parsed if e.type == "bot_command")
    assert command.offset == 3  # the emoji takes two UTF-16 code units


async def test_privacy_mode_limits_what_the_bot_sees_in_groups(emu: Emulator, bot: Bot) -> None:
    sent = await bot.send_message(GROUP, "大家好")
    await emu.send_text(GROUP, RESIDENT, "今天天气不错")  # chit-chat: hidden
    await emu.send_text(GROUP, RESIDENT, "/help@other_bot")  # another bot's command: hidden
    await emu.send_text(GROUP, RESIDENT, "/report 路灯坏了")
    await emu.send_text(GROUP, RESIDENT, "/help@gridbot_demo_bot")
    await emu.send_text(GROUP, RESIDENT, "谢谢", reply_to=sent.message_id)
    await emu.send_text(GROUP, RESIDENT, "@gridbot_demo_bot 垃圾没人收")
    await emu.send_photo(GROUP, RESIDENT, caption="没有命令的照片")  # hidden
    await emu.open_private(RESIDENT)
    await emu.send_text(RESIDENT, RESIDENT, "私聊什么都看得到")
    texts = [u.message.text for u in await bot.get_updates() if u.message]
    assert texts == [
        "/report 路灯坏了",
        "/help@gridbot_demo_bot",
        "谢谢",
        "@gridbot_demo_bot 垃圾没人收",
        "/start",
        "私聊什么都看得到",
    ]


async def test_without_privacy_mode_the_bot_sees_everything(emu: Emulator, bot: Bot) -> None:
    emu.set_privacy_mode(False)
    await emu.send_text(GROUP, RESIDENT, "今天天气不错")
    await emu.send_photo(GROUP, RESIDENT, caption="楼道堆物")
    updates = await bot.get_updates()
    assert updates[0].message is not None and updates[0].message.text == "今天天气不错"
    assert updates[1].message is not None and updates[1].message.caption == "楼道堆物"


async def test_joining_a_group_is_a_service_message_the_bot_sees(emu: Emulator, bot: Bot) -> None:
    await emu.join(GROUP, STRANGER)
    await emu.leave(GROUP, STRANGER)
    updates = await bot.get_updates()
    assert updates[0].message is not None
    assert [u.id for u in updates[0].message.new_chat_members] == [STRANGER]
    assert updates[1].message is not None and updates[1].message.left_chat_member is not None
    assert (await bot.get_chat_member(GROUP, STRANGER)).status == "left"


async def test_an_admin_bot_sees_everything_even_in_privacy_mode(emu: Emulator, bot: Bot) -> None:
    emu.set_bot_status(GROUP, "administrator")
    await emu.send_text(GROUP, RESIDENT, "今天天气不错")
    assert len(await bot.get_updates()) == 1


async def test_send_message_with_keyboard_and_reply(emu: Emulator, bot: Bot) -> None:
    complaint = await emu.send_text(GROUP, RESIDENT, "/report 5栋电梯困人")
    sent = await bot.send_message(
        GROUP,
        "已受理 #1",
        reply_markup=keyboard(("接单", "t:1:accept"), ("转派", "t:1:move")),
        reply_parameters=ReplyParameters(complaint["message_id"]),
    )
    assert sent.reply_to_message is not None
    assert sent.reply_to_message.message_id == complaint["message_id"]
    assert sent.reply_to_message.text == "/report 5栋电梯困人"
    assert sent.from_user is not None and sent.from_user.is_bot
    [seen] = emu.sent(GROUP)
    assert seen.text == "已受理 #1"
    assert seen.reply_to_message_id == complaint["message_id"]
    assert [[b.callback_data for b in row] for row in seen.buttons] == [
        ["t:1:accept"],
        ["t:1:move"],
    ]
    assert seen.button("转派").callback_data == "t:1:move"


async def test_replying_to_a_missing_message(emu: Emulator, bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(GROUP, "回复", reply_parameters=ReplyParameters(999))
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await bot.send_message(GROUP, "回复", reply_to_message_id=999)
    sent = await bot.send_message(
        GROUP, "回复", reply_parameters=ReplyParameters(999, allow_sending_without_reply=True)
    )
    assert sent.reply_to_message is None
    assert [m.text for m in emu.sent(GROUP)] == ["回复"]


async def test_message_length_limit_and_empty_text(emu: Emulator, bot: Bot) -> None:
    await bot.send_message(GROUP, "满" * 4096)
    with pytest.raises(BadRequest, match="Message is too long"):
        await bot.send_message(GROUP, "满" * 4097)
    # The limit applies to the text after markup is parsed.
    await bot.send_message(GROUP, "<b>" + "满" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(GROUP, "   ")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(GROUP, "<b></b>", parse_mode=ParseMode.HTML)
    assert len(emu.sent(GROUP)) == 2


async def test_html_parse_mode(emu: Emulator, bot: Bot) -> None:
    sent = await bot.send_message(
        GROUP,
        '<b>工单 #12</b> 由 <a href="tg://user?id=1002">李</a> 处理 &lt;紧急&gt; '
        '<tg-spoiler>138****0000</tg-spoiler><pre><code class="language-text">x</code></pre>',
        parse_mode=ParseMode.HTML,
    )
    assert sent.text == "工单 #12 由 李 处理 <紧急> 138****0000x"
    kinds = {e.type: sent.parse_entity(e) for e in sent.entities}
    assert kinds["bold"] == "工单 #12"
    assert kinds["text_mention"] == "李"
    assert kinds["spoiler"] == "138****0000"
    assert kinds["pre"] == "x"
    pre = next(e for e in sent.entities if e.type == "pre")
    assert pre.language == "text"
    for bad, reason in [
        ("<b>没闭合", 'Can\'t find end tag corresponding to start tag "b"'),
        ("第一行<br>第二行", 'Unsupported start tag "br"'),
        ("<b><i>交叉</b></i>", "Unmatched end tag"),
        ("a < b", "Unsupported start tag"),
    ]:
        with pytest.raises(BadRequest, match="Can't parse entities") as caught:
            await bot.send_message(GROUP, bad, parse_mode=ParseMode.HTML)
        assert reason.lower() in caught.value.message.lower()
    assert len(emu.sent(GROUP)) == 1


async def test_markdown_v2_parse_mode(emu: Emulator, bot: Bot) -> None:
    text = (
        "*工单* " + escape_markdown("#12 (3号楼) 已受理.", version=2) + " [李](tg://user?id=1002)"
    )
    sent = await bot.send_message(GROUP, text, parse_mode=ParseMode.MARKDOWN_V2)
    assert sent.text == "工单 #12 (3号楼) 已受理. 李"
    assert {e.type: sent.parse_entity(e) for e in sent.entities} == {
        "bold": "工单",
        "text_mention": "李",
    }
    with pytest.raises(BadRequest, match=r"(?i)character '#' is reserved"):
        await bot.send_message(GROUP, "工单 #12", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(BadRequest, match="Can't parse entities"):
        await bot.send_message(GROUP, "*没闭合", parse_mode=ParseMode.MARKDOWN_V2)
    with pytest.raises(BadRequest, match="Unsupported parse_mode"):
        await bot.send_message(GROUP, "x", parse_mode="Textile")
    assert len(emu.sent(GROUP)) == 1


async def test_inline_keyboard_validation(emu: Emulator, bot: Bot) -> None:
    await bot.send_message(GROUP, "ok", reply_markup=keyboard(("确认", "x" * 64)))
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(GROUP, "bad", reply_markup=keyboard(("确认", "x" * 65)))
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        # 22 Chinese characters are 66 bytes in UTF-8: too long although only 22 characters.
        await bot.send_message(GROUP, "bad", reply_markup=keyboard(("确认", "满" * 22)))
    assert [m.text for m in emu.sent(GROUP)] == ["ok"]


async def test_edit_text_and_not_modified(emu: Emulator, bot: Bot) -> None:
    sent = await bot.send_message(GROUP, "工单 #3 待接单", reply_markup=keyboard(("接单", "a")))
    edited = await bot.edit_message_text(
        "工单 #3 已接单", GROUP, sent.message_id, reply_markup=keyboard(("办结", "r"))
    )
    assert not isinstance(edited, bool) and edited.edit_date is not None
    [seen] = emu.sent(GROUP)
    assert seen.text == "工单 #3 已接单"
    assert seen.button("办结").callback_data == "r"
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "工单 #3 已接单", GROUP, sent.message_id, reply_markup=keyboard(("办结", "r"))
        )
    # As on Telegram, editing the text without reply_markup removes the keyboard.
    await bot.edit_message_text("工单 #3 已接单", GROUP, sent.message_id)
    assert emu.sent(GROUP)[0].buttons == []
    await bot.edit_message_reply_markup(
        GROUP, sent.message_id, reply_markup=keyboard(("评价", "e"))
    )
    assert emu.sent(GROUP)[0].button("评价").callback_data == "e"
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(
            GROUP, sent.message_id, reply_markup=keyboard(("评价", "e"))
        )
    complaint = await emu.send_text(GROUP, RESIDENT, "/report 水管爆了")
    with pytest.raises(BadRequest, match="Message can't be edited"):
        await bot.edit_message_text("改别人的", GROUP, complaint["message_id"])
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("不存在", GROUP, 999)


async def test_callback_query_is_answered_once(emu: Emulator, bot: Bot) -> None:
    sent = await bot.send_message(GROUP, "#7", reply_markup=keyboard(("接单", "t:7:accept")))
    with pytest.raises(ValueError, match="no button"):
        await emu.press_button(GROUP, WORKER, sent.message_id, "t:7:resolve")
    query_id = await emu.press_button(GROUP, WORKER, sent.message_id, "t:7:accept")
    [update] = await bot.get_updates()
    query = update.callback_query
    assert query is not None and query.id == query_id
    assert query.data == "t:7:accept"
    assert query.chat_instance
    assert query.from_user.id == WORKER
    assert query.message is not None and query.message.message_id == sent.message_id
    assert emu.callback_answer(query_id) is None
    assert await bot.answer_callback_query(query_id, "已接单", show_alert=True)
    answer = emu.callback_answer(query_id)
    assert answer is not None and answer.text == "已接单" and answer.show_alert
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query_id, "再答一次")
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("12345", "不存在")
    forged = await emu.press_button(GROUP, STRANGER, sent.message_id, "t:999:x", check=False)
    with pytest.raises(BadRequest, match="Message_too_long"):
        await bot.answer_callback_query(forged, "长" * 201)
    await bot.answer_callback_query(forged, "长" * 200)


async def test_photo_upload_get_file_and_download(emu: Emulator, bot: Bot) -> None:
    image = make_png(640, 480)
    sent = await bot.send_photo(GROUP, image, caption="现场照片")
    assert sent.caption == "现场照片"
    largest = sent.photo[-1]
    assert (largest.width, largest.height) == (640, 480)
    assert max(sent.photo[0].width, sent.photo[0].height) <= 90
    file = await bot.get_file(largest.file_id)
    assert file.file_size == len(image)
    assert bytes(await file.download_as_bytearray()) == image
    again = await bot.send_photo(GROUP, largest.file_id)
    assert again.photo[-1].file_unique_id == largest.file_unique_id
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_photo(GROUP, "AgACno-such-file")
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_photo(GROUP, largest.file_id, caption="长" * 1025)
    assert [m.text for m in emu.sent(GROUP)] == ["现场照片", ""]
    assert emu.sent(GROUP)[0].photo is not None


async def test_a_residents_photo_can_be_downloaded_by_the_bot(emu: Emulator, bot: Bot) -> None:
    emu.set_privacy_mode(False)
    image = make_png(1600, 1200, (10, 20, 30))
    await emu.send_photo(GROUP, RESIDENT, image, caption="垃圾堆在门口")
    [update] = await bot.get_updates()
    assert update.message is not None
    assert update.message.caption == "垃圾堆在门口"
    photo = update.message.photo[-1]
    assert (photo.width, photo.height) == (1600, 1200)
    file = await photo.get_file()
    assert bytes(await file.download_as_bytearray()) == image


async def test_send_document(emu: Emulator, bot: Bot) -> None:
    sent = await bot.send_document(GROUP, b"a,b\n1,2\n", filename="ledger.csv", caption="台账")
    assert sent.document is not None and sent.document.file_name == "ledger.csv"
    file = await bot.get_file(sent.document.file_id)
    assert bytes(await file.download_as_bytearray()) == b"a,b\n1,2\n"


async def test_retry_after_on_demand(
    emu: Emulator, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # read retry_after without a deprecation warning
    emu.fail_next("sendMessage", 429, "Too Many Requests: retry after 7", {"retry_after": 7})
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(GROUP, "第一次")
    assert caught.value.retry_after.total_seconds() == 7  # type: ignore[union-attr]
    assert emu.sent(GROUP) == []  # a failed call takes no effect
    await bot.send_message(GROUP, "第二次")
    assert [m.text for m in emu.sent(GROUP)] == ["第二次"]
    assert emu.stats.too_many_requests == 1


async def test_fail_next_repeats_and_matches_the_method_name_loosely(
    emu: Emulator, bot: Bot
) -> None:
    emu.fail_next("sendmessage", 400, "Bad Request: chat not found", times=2)
    for _ in range(2):
        with pytest.raises(BadRequest, match="Chat not found"):
            await bot.send_message(GROUP, "x")
    await bot.send_message(GROUP, "y")
    assert emu.stats.errors[400] == 2


async def test_unreachable_private_chats(emu: Emulator, bot: Bot) -> None:
    with pytest.raises(Forbidden, match="bot can't initiate conversation with a user"):
        await bot.send_message(WORKER, "您有新工单")
    await emu.open_private(WORKER)
    await bot.send_message(WORKER, "您有新工单")
    emu.block(WORKER)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(WORKER, "再发一次")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "没有这个人")
    [update] = [u for u in await bot.get_updates() if u.my_chat_member]
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"
    await emu.open_private(WORKER)  # pressing Start again unblocks
    await bot.send_message(WORKER, "欢迎回来")
    assert [m.text for m in emu.sent(WORKER)] == ["您有新工单", "欢迎回来"]


async def test_group_upgraded_to_supergroup(emu: Emulator, bot: Bot) -> None:
    new_id = await emu.upgrade_to_supergroup(GROUP)
    assert str(new_id).startswith("-100")
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(GROUP, "还在老群吗")
    assert caught.value.new_chat_id == new_id
    updates = await bot.get_updates()  # service messages pass privacy mode
    assert [u.message.migrate_to_chat_id for u in updates if u.message] == [new_id, None]
    assert [u.message.migrate_from_chat_id for u in updates if u.message] == [None, GROUP]
    sent = await bot.send_message(new_id, "已迁移")
    assert sent.chat.type == "supergroup"
    chat = await bot.get_chat(new_id)
    assert chat.type == "supergroup" and chat.title == "幸福里小区业主群"
    member = await bot.get_chat_member(new_id, WORKER)
    assert member.status == "administrator"


async def test_rate_limit_per_group(
    emu: Emulator, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    for n in range(25):  # off by default
        await bot.send_message(GROUP, f"{n}")
    emu.set_rate_limits(on=True)
    for n in range(20):
        await bot.send_message(GROUP, f"限流 {n}")
    with pytest.raises(RetryAfter, match="Flood control exceeded") as caught:
        await bot.send_message(GROUP, "第 21 条")
    assert caught.value.retry_after.total_seconds() >= 1  # type: ignore[union-attr]
    assert emu.stats.too_many_requests == 1
    assert emu.sent(GROUP)[-1].text == "限流 19"
    # The per-group window does not hold back a private chat.
    await emu.open_private(RESIDENT)
    await bot.send_message(RESIDENT, "私聊不受群限制")


async def test_rate_limit_overall(
    emu: Emulator, bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    emu.set_rate_limits(on=True, per_second=5)
    for n in range(5):
        emu.add_group(-5000 - n, f"群{n}")
        await bot.send_message(-5000 - n, "日报")
    emu.add_group(-5999, "第六个群")
    with pytest.raises(RetryAfter):
        await bot.send_message(-5999, "日报")
    assert emu.stats.too_many_requests == 1


async def test_commands(emu: Emulator, bot: Bot) -> None:
    commands = [BotCommand("report", "报事报修"), BotCommand("help", "帮助")]
    assert await bot.set_my_commands(commands)
    assert await bot.set_my_commands(
        [BotCommand("mytickets", "我的工单")], scope=BotCommandScopeChat(WORKER)
    )
    assert list(await bot.get_my_commands()) == commands
    assert [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(WORKER))] == [
        "mytickets"
    ]
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Report", "大写不行")])
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()


async def test_chat_and_member_queries(emu: Emulator, bot: Bot) -> None:
    emu.add_member(GROUP, STRANGER, "left")
    chat = await bot.get_chat(GROUP)
    assert (chat.id, chat.type, chat.title) == (GROUP, "group", "幸福里小区业主群")
    private = await bot.get_chat(RESIDENT)
    assert private.first_name == "小王" and private.username == "xiaowang"
    assert (await bot.get_chat_member(GROUP, RESIDENT)).status == "member"
    assert (await bot.get_chat_member(GROUP, STRANGER)).status == "left"
    assert (await bot.get_chat_member(GROUP, bot.id)).status == "member"
    admins = await bot.get_chat_administrators(GROUP)
    assert [(a.user.id, a.status) for a in admins] == [(WORKER, "administrator")]
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.get_chat(-999)
    with pytest.raises(BadRequest, match="User not found"):
        await bot.get_chat_member(GROUP, 555)


async def test_delete_message_and_chat_action(emu: Emulator, bot: Bot) -> None:
    sent = await bot.send_message(GROUP, "撤回我")
    complaint = await emu.send_text(GROUP, RESIDENT, "/report 别人的消息")
    assert await bot.send_chat_action(GROUP, ChatAction.TYPING)
    with pytest.raises(BadRequest, match="Message can't be deleted"):
        await bot.delete_message(GROUP, complaint["message_id"])
    assert await bot.delete_message(GROUP, sent.message_id)
    assert emu.sent(GROUP) == []
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(GROUP, sent.message_id)
    emu.set_bot_status(GROUP, "administrator")
    assert await bot.delete_message(GROUP, complaint["message_id"])


async def test_redelivery_sends_the_same_update_again(emu: Emulator, bot: Bot) -> None:
    await emu.send_text(GROUP, RESIDENT, "/report 化粪池满了")
    [update] = await bot.get_updates()
    assert await bot.get_updates(offset=update.update_id + 1) == ()
    emu.redeliver(update.update_id)
    [again] = await bot.get_updates(offset=update.update_id + 1)
    assert again.update_id == update.update_id
    assert again.message is not None and again.message.text == "/report 化粪池满了"
    raw_id = emu.enqueue_raw_update({"message": again.message.to_dict()})
    [raw] = await bot.get_updates(offset=update.update_id + 1)
    assert raw.update_id == raw_id > update.update_id


async def test_wait_for_wakes_on_the_bots_next_message(emu: Emulator, bot: Bot) -> None:
    await bot.send_message(GROUP, "旧消息")
    await emu.send_text(GROUP, RESIDENT, "/report 井盖丢了")

    async def answer_later() -> None:
        await emu.wait_until(lambda: True)
        await bot.send_message(GROUP, "已受理")

    task = asyncio.create_task(answer_later())
    message = await emu.wait_for(GROUP)  # only messages after the resident's post count
    assert message.text == "已受理"
    await task
    assert (await emu.wait_for(GROUP, after=0)).text == "旧消息"
    assert (await emu.wait_for(GROUP, lambda m: "受理" in m.text, after=0)).text == "已受理"
    with pytest.raises(TimeoutError, match="no matching bot message"):
        await emu.wait_for(GROUP, lambda m: "不存在" in m.text, timeout=0.05)


async def test_slow_answer_takes_effect_only_after_the_delay(bot: Bot, emu: Emulator) -> None:
    emu.set_delay("sendMessage", 60)
    slow = asyncio.create_task(bot.send_message(GROUP, "慢"))
    await emu.wait_until(lambda: len(emu.calls_to("sendMessage")) == 1)
    assert emu.sent(GROUP) == []  # the bot could be killed now and nothing was sent
    slow.cancel()
    emu.set_delay("sendMessage", 0)
    await bot.send_message(GROUP, "快")
    assert [m.text for m in emu.sent(GROUP)] == ["快"]


async def test_http_edges(emu: Emulator) -> None:
    async with httpx.AsyncClient(base_url=emu.url) as client:
        response = await client.post(
            f"/bot{TOKEN}/SENDMESSAGE", json={"chat_id": GROUP, "text": "json"}
        )
        assert response.json()["ok"] is True
        assert response.json()["result"]["chat"]["id"] == GROUP
        response = await client.get(f"/bot{TOKEN}/getMe")
        assert response.json()["result"]["username"] == "gridbot_demo_bot"
        response = await client.get(
            f"/bot{TOKEN}/sendMessage", params={"chat_id": GROUP, "text": "q"}
        )
        assert response.json()["result"]["text"] == "q"
        response = await client.post("/bot1:wrong/getMe")
        assert response.status_code == 401
        assert response.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        response = await client.post(f"/bot{TOKEN}/noSuchMethod")
        assert response.status_code == 404
        assert response.json()["description"] == "Not Found"
        response = await client.post(f"/bot{TOKEN}/sendMessage", data={"text": "没有 chat_id"})
        assert response.json() == {
            "ok": False,
            "error_code": 400,
            "description": "Bad Request: chat_id is empty",
        }
    assert [m.text for m in emu.sent(GROUP)] == ["json", "q"]
    assert emu.stats.by_method["sendMessage"] == 3


async def test_wrong_token_raises_invalid_token(emu: Emulator) -> None:
    with pytest.raises(InvalidToken, match="rejected by the server"):
        async with Bot("1:wrong", base_url=emu.base_url):
            pass


async def test_listeners_see_every_visible_event(emu: Emulator, bot: Bot) -> None:
    seen: list[tuple[str, int]] = []
    emu.add_listener(lambda event: seen.append((event.kind, event.chat_id)))
    await emu.send_text(GROUP, RESIDENT, "/report 停水")
    sent = await bot.send_message(GROUP, "收到")
    await bot.edit_message_text("收到了", GROUP, sent.message_id)
    await bot.delete_message(GROUP, sent.message_id)
    assert [kind for kind, _ in seen] == ["user_message", "sent", "edited", "deleted"]


async def test_calls_record_decoded_parameters(emu: Emulator, bot: Bot) -> None:
    await bot.send_message(GROUP, "看参数", reply_markup=keyboard(("接单", "a:1")))
    [params] = emu.calls_to("sendMessage")
    assert params["chat_id"] == GROUP
    assert params["reply_markup"] == {
        "inline_keyboard": [[{"text": "接单", "callback_data": "a:1"}]]
    }
    assert emu.calls[-1].method == "sendMessage"
