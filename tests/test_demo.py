"""`gridbot demo`: the README's first command plays the whole product against the emulator."""

from __future__ import annotations

import asyncio
import io
import subprocess
from pathlib import Path
from typing import Any, cast

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup

from bot.services.community import load_community
from bot.settings import read_config_file
from gridbot_demo.script import (
    As,
    Expect,
    Press,
    Say,
    ScriptError,
    Start,
    parse_line,
    parse_script,
)
from gridbot_demo.stage import DemoOptions, Stage, default_scene, run_demo
from gridbot_demo.transcript import Transcript, format_buttons
from tests.botkit import EXAMPLE_CONFIG, gridbot_command, subprocess_env
from tgsandbox import Button, Emulator, Event

MAIN_PATH = """\
say 周大爷 group 4号楼电梯又坏了，关人了！
expect group 李娜
expect 李娜 接单
press 李娜 接单
expect group 已接单
press 李娜 办结
say 李娜 private 已联系维保公司修好电梯
expect group 已办结
show 李娜
"""


def run_gridbot(
    tmp_path: Path, *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run `gridbot demo …` in tmp_path with its own database; stdin is not a terminal."""
    env = subprocess_env({"GRIDBOT_DB": str(tmp_path / "demo.sqlite3")})
    return subprocess.run(
        [*gridbot_command(), "demo", *args],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def entries(transcript: str) -> list[tuple[str, str]]:
    """Split a transcript into (chat, text) entries; indented lines continue the entry."""
    found: list[tuple[str, str]] = []
    for line in transcript.splitlines():
        if line.startswith("[") and "]" in line:
            chat, _, text = line[1:].partition("]")
            found.append((chat, text.strip()))
        elif line.startswith(" ") and found:
            chat, text = found[-1]
            found[-1] = (chat, text + "\n" + line.strip())
    return found


def scene_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "scene.txt"
    path.write_text(text, encoding="utf-8")
    return str(path)


# ── the script format ─────────────────────────────────────────────────────────────────────────


def test_script_lines_become_actions() -> None:
    assert parse_line("say 周大爷 group 4号楼电梯又坏了， 关人了！") == Say(
        "周大爷", "group", "4号楼电梯又坏了， 关人了！"
    )
    assert parse_line('press 李娜 "接单"') == Press("李娜", "接单")
    assert parse_line("点 李娜 直接办结") == Press("李娜", "直接办结")
    assert parse_line("press 2") == Press(None, "2")
    assert parse_line("expect 李娜 工单 #1") == Expect("李娜", "工单 #1")
    assert parse_line("as 3001") == As("3001")
    assert parse_line("start 周大爷 inv-abc") == Start("周大爷", "inv-abc")
    assert parse_line("reply 吴阿姨 group 是的") == Say("吴阿姨", "group", "是的", reply=True)
    # Anything else is said by the current person in the current chat.
    assert parse_line("  9号楼楼道堆满了纸箱  ") == Say(None, None, "9号楼楼道堆满了纸箱")
    assert parse_line("# a comment") is None
    assert parse_line("   ") is None


def test_a_bad_line_is_named_by_its_number() -> None:
    with pytest.raises(ScriptError, match="第 3 行"):
        parse_script("note 开始\n\nsay 周大爷\n")


def test_the_default_scene_parses_and_tells_the_whole_story() -> None:
    actions = [line.action for line in parse_script(default_scene())]
    pressed = [a.label for a in actions if isinstance(a, Press)]
    assert {"接单", "办结", "满意"} <= set(pressed)
    assert any(isinstance(a, Say) and a.who == "周大爷" for a in actions)


def test_buttons_print_as_labels_in_brackets() -> None:
    message = {
        "reply_markup": {
            "inline_keyboard": [
                [{"text": "接单", "callback_data": "acc:1"}],
                [
                    {"text": "转派", "callback_data": "xfer:1"},
                    {"text": "不属于我", "callback_data": "ret:1"},
                ],
            ]
        }
    }
    assert format_buttons(message) == "[接单]   [转派] [不属于我]"


def test_an_edit_that_only_changes_buttons_says_so() -> None:
    out = io.StringIO()
    transcript = Transcript(lambda chat: "私聊·李娜", out=out)
    card = {"message_id": 5, "from": {"first_name": "网格助手", "is_bot": True}, "text": "工单 #1"}
    transcript(
        Event("sent", 2001, {**card, "reply_markup": {"inline_keyboard": [[{"text": "接单"}]]}})
    )
    transcript(
        Event("edited", 2001, {**card, "reply_markup": {"inline_keyboard": [[{"text": "办结"}]]}})
    )
    transcript(Event("edited", 2001, {**card, "text": "工单 #1 已办结"}))
    lines = out.getvalue().splitlines()
    assert "🤖 网格助手：工单 #1" in lines[0] and "[接单]" in lines[1]
    assert "更新了按钮：[办结]" in lines[2]
    assert "✎ 修改了消息" in lines[3] and "工单 #1 已办结" in lines[4]


# ── the whole demo ────────────────────────────────────────────────────────────────────────────


def test_a_scene_file_plays_the_main_path_and_exits(tmp_path: Path) -> None:
    result = run_gridbot(tmp_path, "--script", scene_file(tmp_path, MAIN_PATH), "--fresh")
    out = result.stdout
    assert result.returncode == 0, result.stderr + out
    assert "[幸福里业主群]  周大爷：4号楼电梯又坏了，关人了！" in out
    # The worker's card, its buttons, the press and the edits, in the worker's private chat.
    assert "[私聊·李娜]" in out and "工单 #1" in out
    assert "[接单]   [转派] [不属于我]" in out
    assert "李娜 点了 [接单]" in out
    assert "✎ 修改了消息" in out and "[办结] [转派]" in out
    # The group hears who has it, that it was accepted, and that it was resolved.
    replies = [text for chat, text in entries(out) if chat == "幸福里业主群" and "🤖" in text]
    assert "#1" in replies[0] and "李娜" in replies[0]
    assert any("已接单" in text for text in replies)
    assert any("已办结" in text for text in replies)
    assert out.index("李娜 点了 [接单]") < out.index("李娜 点了 [办结]")
    assert (tmp_path / "demo.sqlite3").exists()


def test_without_a_keyboard_the_default_scene_plays_and_the_demo_ends(tmp_path: Path) -> None:
    result = run_gridbot(tmp_path, "--fresh")
    assert result.returncode == 0, result.stderr + result.stdout
    out = result.stdout
    assert "周大爷 点了 [满意]" in out
    assert "谢谢" in out.split("周大爷 点了 [满意]", 1)[1]  # the rating was taken
    assert "演示场景结束" in out
    assert "交互演示" not in out  # no prompt waited for input


def test_a_second_run_on_the_same_database_still_hears_everyone(tmp_path: Path) -> None:
    scene = scene_file(tmp_path, "say 周大爷 group /help\nexpect group /report\n")
    first = run_gridbot(tmp_path, "--script", scene, "--fresh")
    assert first.returncode == 0, first.stderr
    second = run_gridbot(tmp_path, "--script", scene)
    assert second.returncode == 0, second.stderr + second.stdout
    assert "/report" in second.stdout


def test_a_failing_line_names_itself_and_fails_the_run(tmp_path: Path) -> None:
    scene = scene_file(tmp_path, "note 开始\npress 路人甲 接单\nnote 不会到这里\n")
    result = run_gridbot(tmp_path, "--script", scene, "--fresh")
    assert result.returncode == 1
    assert "第 2 行" in result.stderr and "路人甲" in result.stderr
    assert "不会到这里" not in result.stdout


def test_a_scene_with_a_typo_is_refused_before_anything_starts(tmp_path: Path) -> None:
    result = run_gridbot(tmp_path, "--script", scene_file(tmp_path, "press\n"))
    assert result.returncode == 2
    assert "第 1 行" in result.stderr
    assert not (tmp_path / "demo.sqlite3").exists()


async def test_interactive_mode_acts_as_anyone_and_presses_buttons_by_number(
    tmp_path: Path,
) -> None:
    keyboard = io.StringIO(
        "4号楼电梯又坏了，关人了！\n"
        "as 李娜\n"
        "buttons\n"
        "press 1\n"
        "chat group\n"
        "show\n"
        "quit\n"
        "这一行不会被发出\n"
    )
    out = io.StringIO()
    options = DemoOptions(
        db_path=str(tmp_path / "demo.sqlite3"),
        config_path=EXAMPLE_CONFIG,
        scene=[],
        scene_name="test",
        interactive=True,
    )
    code = await asyncio.wait_for(run_demo(options, out=out, keyboard=keyboard), timeout=120)
    text = out.getvalue()
    assert code == 0, text
    assert "周大爷：4号楼电梯又坏了，关人了！" in text  # plain text: the resident in the group
    assert "现在你是 李娜（网格员），在「私聊·李娜」" in text
    assert "1. [接单]" in text
    assert "李娜 点了 [接单]" in text
    assert "已接单" in text
    assert "这一行不会被发出" not in text


async def test_a_label_presses_the_exact_button_on_the_latest_message_that_has_it() -> None:
    community = load_community(read_config_file(EXAMPLE_CONFIG), str(EXAMPLE_CONFIG))
    async with Emulator(privacy_mode=False) as emu:
        transcript = Transcript(str, out=io.StringIO())
        emu.add_listener(transcript)
        stage = Stage(emu, cast(Any, None), community, transcript)
        stage.cast_people()
        group, resident = stage.groups[0][0], stage.person("周大爷")
        await emu.open_private(resident)

        def rating(ticket: int) -> InlineKeyboardMarkup:
            labels = (("不满意", "bad"), ("基本满意", "basic"), ("满意", "good"))
            row = [InlineKeyboardButton(t, callback_data=f"rate:{ticket}:{d}") for t, d in labels]
            return InlineKeyboardMarkup([row])

        async with Bot(emu.token, base_url=emu.base_url) as bot:
            older = await bot.send_message(group, "#1 请评价", reply_markup=rating(1))
            newer = await bot.send_message(resident, "#2 请评价", reply_markup=rating(2))
            # "满意" is also part of "不满意" and "基本满意": the exact label wins.
            assert stage.find_button(resident, "满意") == (
                resident,
                newer.message_id,
                Button("满意", "rate:2:good"),
            )
            assert stage.find_button(resident, "基本") == (
                resident,
                newer.message_id,
                Button("基本满意", "rate:2:basic"),
            )
            # Editing the older message makes it the latest one with the button.
            await bot.edit_message_text(
                "#1 请评价（再次提醒）", group, older.message_id, reply_markup=rating(1)
            )
            hit = stage.find_button(resident, "满意")
            assert hit is not None and hit[:2] == (group, older.message_id)
            assert stage.find_button(resident, "接单") is None


def test_the_readme_command_can_run_twice_in_a_row(tmp_path: Path) -> None:
    """Without GRIDBOT_DB the default scene plays on data/demo.sqlite3, new each time."""
    env = subprocess_env({})
    env.pop("GRIDBOT_DB", None)
    for _ in range(2):
        result = subprocess.run(
            [*gridbot_command(), "demo"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "工单 #1" in result.stdout  # the story starts again from ticket #1
    assert (tmp_path / "data" / "demo.sqlite3").exists()
