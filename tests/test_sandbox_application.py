"""A real python-telegram-bot Application polling the emulator: the way whole-bot tests use it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from tgsandbox import Emulator

TOKEN = "987654321:AAApplicationTestTokenNotARealOne00000"
GROUP = -4100
RESIDENT = 2001
WORKER = 2002


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    payload = " ".join(context.args or [])
    await update.effective_message.reply_text(f"欢迎 {payload}".strip())


async def report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    buttons = InlineKeyboardMarkup([[InlineKeyboardButton("接单", callback_data="accept:1")]])
    await update.effective_message.reply_text("已受理 #1", reply_markup=buttons)
    await context.bot.send_message(WORKER, "新工单 #1", reply_markup=buttons)


async def accept(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("已接单")
    await query.edit_message_text("#1 已接单")


async def photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    size = update.effective_message.photo[-1]
    data = await (await size.get_file()).download_as_bytearray()
    await update.effective_message.reply_text(f"收到照片 {len(data)} 字节")


async def fail_on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    raise AssertionError(f"handler failed: {context.error!r}")


@pytest.fixture
async def running() -> AsyncIterator[Emulator]:
    async with Emulator(token=TOKEN) as emu:
        emu.add_user(RESIDENT, "张阿姨")
        emu.add_user(WORKER, "李", "网格员")
        emu.add_group(GROUP, "幸福里业主群", members=[RESIDENT])
        await emu.open_private(WORKER)
        app = (
            Application.builder()
            .token(TOKEN)
            .base_url(emu.base_url)
            .base_file_url(emu.base_file_url)
            .build()
        )
        app.add_handler(CommandHandler("start", start))
        app.add_handler(CommandHandler("report", report))
        app.add_handler(CallbackQueryHandler(accept))
        app.add_handler(MessageHandler(filters.PHOTO, photo))
        app.add_error_handler(fail_on_error)
        async with app:
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0, timeout=10)
            await app.start()
            yield emu
            await app.updater.stop()
            await app.stop()
        assert emu.internal_errors == []


async def test_start_with_deep_link_payload(running: Emulator) -> None:
    await running.open_private(RESIDENT, payload="inv-7")
    reply = await running.wait_for(RESIDENT)
    assert reply.text == "欢迎 inv-7"


async def test_complaint_card_and_button_press(running: Emulator) -> None:
    complaint = await running.send_text(GROUP, RESIDENT, "/report@gridbot_demo_bot 电梯困人")
    ack = await running.wait_for(GROUP)
    assert ack.text == "已受理 #1"
    assert ack.reply_to_message_id == complaint["message_id"]
    card = await running.wait_for(WORKER, lambda m: m.text.startswith("新工单"))
    query_id = await running.press_button(
        WORKER, WORKER, card.message_id, card.button("接单").callback_data or ""
    )
    answer = await running.wait_for_answer(query_id)
    assert answer.text == "已接单"
    await running.wait_until(lambda: running.message(WORKER, card.message_id).text == "#1 已接单")
    assert running.message(WORKER, card.message_id).buttons == []


async def test_a_private_photo_is_downloaded_by_the_bot(running: Emulator) -> None:
    await running.open_private(RESIDENT)
    await running.wait_for(RESIDENT)
    await running.send_photo(RESIDENT, RESIDENT, b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)
    reply = await running.wait_for(RESIDENT)
    assert reply.text == "收到照片 108 字节"
