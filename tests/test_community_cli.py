"""`gridbot invite`: the secretary gets a link a worker can open to link their account."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from bot.cli import main
from bot.services.clock import SystemClock
from bot.services.community import load_community
from bot.services.people import CommunityState
from bot.settings import DEFAULT_CONFIG_PATH, read_config_file
from storage.db import Database


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data" / "gridbot.sqlite3"
    monkeypatch.setenv("GRIDBOT_DB", str(path))
    monkeypatch.delenv("GRIDBOT_CONFIG", raising=False)
    monkeypatch.delenv("GRIDBOT_TOKEN", raising=False)
    return path


def redeem(db_path: Path, code: str, telegram_id: int) -> str:
    async def run() -> str:
        community = load_community(read_config_file(DEFAULT_CONFIG_PATH), "example")
        async with Database(db_path) as db:
            state = CommunityState(db, community, SystemClock())
            return (await state.redeem_invite(code, telegram_id)).key

    return asyncio.run(run())


def test_invite_prints_a_deep_link_that_links_the_worker(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invite", "zhang", "--bot-username", "@xingfuli_bot"]) == 0
    out = capsys.readouterr().out
    assert "张伟" in out and "72 小时" in out
    link = r"https://t\.me/xingfuli_bot\?start=([A-Za-z0-9_-]{12})(?![A-Za-z0-9_-])"
    match = re.search(link, out)
    assert match, out
    assert redeem(db_path, match.group(1), 8080) == "zhang"


def test_invite_uses_the_username_the_running_bot_stored(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def store() -> None:
        async with Database(db_path) as db:
            await db.execute(
                "INSERT INTO kv (key, value, updated_at) VALUES ('bot_username', 'grid_bot', 'x')"
            )

    asyncio.run(store())
    assert main(["invite", "li", "--ttl-hours", "24"]) == 0
    out = capsys.readouterr().out
    assert "https://t.me/grid_bot?start=" in out and "24 小时" in out


def test_without_a_username_the_code_and_start_command_are_printed(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invite", "secretary"]) == 0
    out = capsys.readouterr().out
    match = re.search(r"/start ([A-Za-z0-9_-]{12})", out)
    assert match and "t.me" not in out
    assert redeem(db_path, match.group(1), 9191) == "secretary"


def test_an_unknown_worker_is_one_clear_line_and_exit_2(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invite", "nobody"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1
    assert "nobody" in lines[0] and "zhang" in lines[0] and "社区配置" in lines[0]
    assert not db_path.exists()


def test_a_bad_ttl_is_refused(db_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", "li", "--ttl-hours", "0"]) == 2
    assert "有效期" in capsys.readouterr().err


def test_the_street_office_and_departments_are_invited_like_workers(
    db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.services.escalation import contact_names

    config = read_config_file(DEFAULT_CONFIG_PATH)
    for key, name in (("street", "和平街道办事处"), ("fire", "消防救援站")):
        assert main(["invite", key, "--bot-username", "xingfuli_bot"]) == 0
        out = capsys.readouterr().out
        assert name in out
        match = re.search(r"start=([A-Za-z0-9_-]{12})", out)
        assert match, out

        async def link(code: str, key: str) -> str:
            community = load_community(config, "example")
            async with Database(db_path) as db:
                state = CommunityState(db, community, SystemClock())
                state.set_contacts(contact_names(config, community.street_office))
                person = await state.redeem_invite(code, 7000 + len(key))
                assert await state.contact_ids() == {key: 7000 + len(key)} | (
                    {"street": 7006} if key == "fire" else {}
                )
                return person.key

        assert asyncio.run(link(match.group(1), key)) == key
    # The unknown-key line lists them too.
    assert main(["invite", "nobody"]) == 2
    assert "street（和平街道办事处）" in capsys.readouterr().err
