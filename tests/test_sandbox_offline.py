"""tgsandbox.offline: a python-telegram-bot Application answered in-process, no HTTP."""

from __future__ import annotations

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest, Forbidden, RetryAfter
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters

from tgsandbox import Emulator, make_png
from tgsandbox.offline import OfflineRequest, take_updates

TOKEN = "987654321:AAOfflineTestTokenNotARealOne0000000"
GROUP = -4200
RESIDENT = 2001


async def echo_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    assert message is not None
    data = await (await message.photo[-1].get_file()).download_as_bytearray()
    buttons = InlineKeyboardMarkup([[InlineKeyboardButton("好", callback_data="ok")]])
    await message.reply_photo(bytes(data), caption=f"{len(data)} 字节", reply_markup=buttons)


async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("收到")
    await query.edit_message_caption("已确认")


async def test_an_application_downloads_uploads_and_answers_without_a_server() -> None:
    emu = Emulator(token=TOKEN)
    emu.add_user(RESIDENT, "张阿姨")
    emu.add_group(GROUP, "幸福里业主群", members=[RESIDENT])
    request = OfflineRequest(emu)
    app = Application.builder().token(TOKEN).request(request).get_updates_request(request).build()
    app.add_handler(MessageHandler(filters.PHOTO, echo_photo))
    app.add_handler(CallbackQueryHandler(pressed))
    image = make_png(10, 10)
    async with app:
        await emu.open_private(RESIDENT)
        await emu.send_photo(RESIDENT, RESIDENT, image)
        for body in take_updates(emu):
            await app.process_update(Update.de_json(body, app.bot))
        reply = emu.sent(RESIDENT)[-1]
        assert reply.text == f"{len(image)} 字节" and reply.photo is not None
        assert emu.file_bytes(reply.photo[-1]["file_id"]) == image
        query = await emu.press_button(RESIDENT, RESIDENT, reply.message_id, "ok")
        for body in take_updates(emu):
            await app.process_update(Update.de_json(body, app.bot))
    answer = emu.callback_answer(query)
    assert answer is not None and answer.text == "收到"
    assert emu.message(RESIDENT, reply.message_id).text == "已确认"
    assert emu.pending_updates == 0
    assert emu.internal_errors == []


async def test_faults_and_telegrams_refusals_reach_the_bot_as_errors() -> None:
    emu = Emulator(token=TOKEN)
    emu.add_user(RESIDENT, "张阿姨")
    emu.add_group(GROUP, "幸福里业主群", members=[RESIDENT])
    async with Bot(TOKEN, request=OfflineRequest(emu)) as bot:
        with pytest.raises(Forbidden):  # never opened the bot
            await bot.send_message(RESIDENT, "你好")
        emu.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", {"retry_after": 3})
        with pytest.raises(RetryAfter):
            await bot.send_message(GROUP, "第一条")
        emu.fail_next("sendMessage", 400, "Bad Request: chat not found", chat_id=GROUP - 1)
        await bot.send_message(GROUP, "第二条")  # a fault for another chat leaves this one alone
        with pytest.raises(BadRequest):
            await bot.send_message(GROUP, "")
    assert [m.text for m in emu.sent(GROUP)] == ["第二条"]
    assert emu.stats.errors[429] == 1 and emu.stats.errors[403] == 1
