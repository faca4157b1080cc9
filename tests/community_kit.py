"""Shared pieces for the whole-bot task, points and schedule tests (no tests here)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.context import GridContext
from bot.handlers import jobs
from bot.services.errors import DomainError
from bot.services.residents import Person
from bot.services.tickets import NewTicket
from tests.botkit import EXAMPLE_CONFIG, GROUP, RunningBot
from tgsandbox import Emulator
from tgsandbox.model import BotMessage

PROPERTY_STAFF = 3201  # 物业公司 staff: may claim tasks targeted at 物业公司
SECRETARY_ACTOR = Person(2020, "刘书记", is_admin=True)
# Monday 2026-11-23 08:00 in Shanghai.
MONDAY_8AM = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)

EXTRA_CONFIG = """

# ── test additions ──
[[organisations]]
name = "物业公司"
members = [3201]

[[catalogue]]
code = "soap"
name = "洗衣皂"
points = 10
stock = 1
"""


def community_config(tmp_path: Path) -> Path:
    """Write the example community plus an organisation and a one-piece catalogue item."""
    path = tmp_path / "community.toml"
    path.write_text(EXAMPLE_CONFIG.read_text(encoding="utf-8") + EXTRA_CONFIG, encoding="utf-8")
    return path


def add_property_staff(emu: Emulator) -> None:
    """Create the 物业公司 staff member and put them into the big group."""
    emu.add_user(PROPERTY_STAFF, "物业老王")
    emu.add_member(GROUP, PROPERTY_STAFF)


def only_domain_errors(bot: RunningBot) -> list[str]:
    """Return the codes of the domain errors handlers raised; fail on any other error."""
    codes: list[str] = []
    for update_id, error in bot.errors:
        assert isinstance(error, DomainError), f"update {update_id}: {error!r}"
        codes.append(error.code)
    return codes


def button_data(message: BotMessage) -> list[str]:
    """Return the callback data of every button on a message."""
    return [b.callback_data or "" for row in message.buttons for b in row]


async def say(emu: Emulator, chat_id: int, user_id: int, text: str) -> BotMessage:
    """Post a text as a person and wait for the bot's next message in that chat."""
    await emu.send_text(chat_id, user_id, text)
    return await emu.wait_for(chat_id)


async def press(
    emu: Emulator,
    chat_id: int,
    user_id: int,
    message: BotMessage,
    data: str,
    *,
    check: bool = True,
) -> str:
    """Press a button and return the bot's answer text."""
    query = await emu.press_button(chat_id, user_id, message.message_id, data, check=check)
    answer = await emu.wait_for_answer(query)
    return answer.text or ""


async def run_schedule_job(bot: RunningBot) -> None:
    """Run the schedule job as the JobQueue would (queue what is due, then send it)."""
    await jobs.schedule_job(GridContext(bot.app))  # type: ignore[arg-type]


async def open_ticket(bot: RunningBot, category: str, number_hint: str, **fields: Any) -> int:
    """Open a ticket directly through the service; return its id."""
    services = bot.state.require_services()
    new = NewTicket(
        community=services.community.name,
        source_key=f"test:{number_hint}",
        text="测试问题",
        category=category,
        confidence=0.9,
        keywords=(),
        urgency="normal",
        location={},
        building=fields.get("building", "3"),
        grid=fields.get("grid", "g1"),
        reporter_id=fields.get("reporter_id", 3001),
        reporter_name="周大爷",
        is_private=False,
        chat_id=GROUP,
        message_id=None,
        assignee_key="li",
        assignee_id=2001,
    )
    ticket, _ = await services.tickets.open_ticket(new)
    return int(ticket.id)
