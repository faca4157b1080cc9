"""`gridbot run` as an operator meets it: every failure to start is one line, never the token."""

from __future__ import annotations

import asyncio
import signal
import socket
import sqlite3
from pathlib import Path

from tests.botkit import (
    EXAMPLE_CONFIG,
    GROUP,
    RESIDENT,
    bot_env,
    gridbot_command,
    populate,
    subprocess_env,
)
from tgsandbox import Emulator

OTHER_TOKEN = "987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


async def run_gridbot(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run `gridbot run` to its end; return the exit code and stderr."""
    proc = await asyncio.create_subprocess_exec(
        *gridbot_command(),
        "run",
        *args,
        env=subprocess_env(env),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, stderr.decode()


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def real_config(tmp_path: Path, extra: str = "", replace: tuple[str, str] = ("", "")) -> Path:
    """The example community made "real" (its example marker removed), with changes."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace("example = true\n", "")
    if replace[0]:
        assert replace[0] in text
        text = text.replace(*replace)
    path = tmp_path / "community.toml"
    path.write_text(text + extra, encoding="utf-8")
    return path


async def test_a_token_the_server_rejects_is_one_line_without_the_token(tmp_path: Path) -> None:
    async with Emulator() as emu:
        env = bot_env(emu, tmp_path) | {"GRIDBOT_TOKEN": OTHER_TOKEN}
        code, stderr = await run_gridbot(env)
    assert code == 2
    line = one_line(stderr)
    assert "令牌被拒绝" in line and "InvalidToken" in line
    assert OTHER_TOKEN not in stderr and OTHER_TOKEN.split(":")[1] not in stderr


async def test_no_network_is_one_line_without_the_token(tmp_path: Path) -> None:
    async with Emulator() as emu:
        env = bot_env(emu, tmp_path)
    port = closed_port()
    env |= {
        "GRIDBOT_API_BASE_URL": f"http://127.0.0.1:{port}/bot",
        "GRIDBOT_FILE_BASE_URL": f"http://127.0.0.1:{port}/file/bot",
    }
    code, stderr = await run_gridbot(env)
    assert code == 2
    line = one_line(stderr)
    assert "无法连接 Telegram" in line and "NetworkError" in line
    assert env["GRIDBOT_TOKEN"] not in stderr and env["GRIDBOT_TOKEN"].split(":")[1] not in stderr


async def test_community_file_errors_are_all_listed_before_connecting(tmp_path: Path) -> None:
    config = real_config(
        tmp_path,
        extra='\n[holidays.2027]\noff = ["2027-02-06..2027-02-13"]\nwork = ["2027-13-01"]\n',
        replace=('duty_worker = "duty"', 'duty_worker = "nobody"'),
    )
    text = config.read_text(encoding="utf-8")
    text = text.replace("buildings = [1, 2, 3, 4, 5]", 'buildings = [1, 2, 3, 4, 5, "7号楼"]')
    text = text.replace("reminder_at = 0.75", 'reminder_at = "soon"')
    config.write_text(text, encoding="utf-8")
    async with Emulator() as emu:
        code, stderr = await run_gridbot(bot_env(emu, tmp_path, config))
        assert emu.stats.by_method.get("getMe", 0) == 0  # not even connected
    assert code == 2 and "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert all(line.startswith("配置错误") and str(config) in line for line in lines), stderr
    joined = "\n".join(lines)
    assert "building 7 is already in grid" in joined or "楼栋 7" in joined
    assert "[community].duty_worker" in joined and "'nobody'" in joined
    assert "reminder_at" in joined
    assert "[holidays.2027].work" in joined
    assert len(lines) == 4


async def test_the_example_community_is_refused_unless_asked(tmp_path: Path) -> None:
    async with Emulator() as emu:
        env = bot_env(emu, tmp_path)
        del env["GRIDBOT_ALLOW_EXAMPLE"]
        code, stderr = await run_gridbot(env)
        assert emu.stats.by_method.get("getMe", 0) == 0
    assert code == 2
    line = one_line(stderr)
    assert "示例社区" in line and "GRIDBOT_ALLOW_EXAMPLE" in line


async def test_a_database_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("", encoding="utf-8")
    async with Emulator() as emu:
        env = bot_env(emu, tmp_path) | {"GRIDBOT_DB": str(blocker / "gridbot.sqlite3")}
        code, stderr = await run_gridbot(env)
        assert emu.stats.by_method.get("getMe", 0) == 0
    assert code == 2
    line = one_line(stderr)
    assert line.startswith("数据库错误 (GRIDBOT_DB)") and str(blocker) in line


async def test_a_database_newer_than_the_code_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "gridbot.sqlite3"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL)"
        )
        conn.execute("INSERT INTO schema_version VALUES (999, '0999_future.sql', 'now')")
    conn.close()
    async with Emulator() as emu:
        code, stderr = await run_gridbot(bot_env(emu, tmp_path))
    assert code == 2
    line = one_line(stderr)
    assert "数据库比程序新" in line and "999" in line


async def test_a_postgresql_database_newer_than_the_code_is_one_line_without_its_password(
    pg_url: str,
) -> None:
    import asyncpg

    conn = await asyncpg.connect(pg_url)
    try:
        await conn.execute(
            "CREATE TABLE schema_version (version BIGINT PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at TEXT NOT NULL)"
        )
        await conn.execute("INSERT INTO schema_version VALUES (999, '0999_future.sql', 'now')")
    finally:
        await conn.close()
    # The test server trusts every connection, so a password in the URL is accepted.
    with_password = pg_url.replace("://gridbot@", "://gridbot:s3cret-pw@", 1)
    assert with_password != pg_url
    async with Emulator() as emu:
        env = bot_env(emu, Path("/nonexistent")) | {"GRIDBOT_DB": with_password}
        code, stderr = await run_gridbot(env)
        assert emu.stats.by_method.get("getMe", 0) == 0
    assert code == 2
    line = one_line(stderr)
    assert "数据库比程序新" in line and "999" in line and "s3cret-pw" not in stderr


class RecordingProxy:
    """A plain HTTP forward proxy: records each connection's first request line, relays bytes."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.request_lines: list[str] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def __aenter__(self) -> RecordingProxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = int(self.server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        first = await reader.readline()
        self.request_lines.append(first.decode("latin-1").strip())
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        up_writer.write(first)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while chunk := await src.read(65536):
                    dst.write(chunk)
                    await dst.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


async def test_gridbot_proxy_carries_every_request(tmp_path: Path) -> None:
    async with Emulator() as emu, RecordingProxy(emu.port) as proxy:
        populate(emu)
        env = bot_env(emu, tmp_path) | {"GRIDBOT_PROXY": f"http://127.0.0.1:{proxy.port}"}
        bot = await asyncio.create_subprocess_exec(
            *gridbot_command(),
            "run",
            env=subprocess_env(env),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await emu.wait_until(lambda: emu.stats.by_method.get("setMyCommands", 0) > 0, 60)
            await emu.send_text(GROUP, RESIDENT, "/help")
            await emu.wait_for(GROUP, timeout=30)
        finally:
            bot.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(bot.communicate(), timeout=60)
        assert bot.returncode == 0, stderr.decode()
    # The bot spoke to the proxy in absolute form, not to the server directly.
    assert proxy.request_lines
    assert all(line.split()[1].startswith(emu.url) for line in proxy.request_lines)
    assert any("/getMe" in line for line in proxy.request_lines)
    assert any("/getUpdates" in line for line in proxy.request_lines)
    assert emu.token not in stderr.decode()


async def test_a_dead_proxy_is_one_line_naming_it(tmp_path: Path) -> None:
    async with Emulator() as emu:
        env = bot_env(emu, tmp_path) | {"GRIDBOT_PROXY": f"socks5://127.0.0.1:{closed_port()}"}
        code, stderr = await run_gridbot(env)
        assert emu.stats.by_method.get("getMe", 0) == 0  # nothing went around the proxy
    assert code == 2
    line = one_line(stderr)
    assert "GRIDBOT_PROXY" in line and "无法连接 Telegram" in line
    assert env["GRIDBOT_TOKEN"] not in stderr


async def test_a_street_folder_whose_files_share_a_group_is_one_line_each(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "street"
    folder.mkdir()
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace("example = true\n", "")
    (folder / "a.toml").write_text(text, encoding="utf-8")
    (folder / "b.toml").write_text(text.replace("幸福里社区", "和谐家园社区"), encoding="utf-8")
    async with Emulator() as emu:
        code, stderr = await run_gridbot(bot_env(emu, tmp_path, folder))
        assert emu.stats.by_method.get("getMe", 0) == 0  # not even connected
    assert code == 2 and "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 2, stderr  # the example's two groups, each claimed by both files
    assert all("b.toml" in line and "a.toml" in line for line in lines)


async def test_a_community_file_added_to_the_folder_serves_without_a_restart(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "street"
    folder.mkdir()
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    (folder / "a.toml").write_text(text, encoding="utf-8")
    later = text.replace("幸福里社区", "和谐家园社区").replace("-10010000000", "-10020000000")
    async with Emulator(privacy_mode=False) as emu:
        populate(emu)
        emu.add_group(-1002000000001, "和谐家园业主群", supergroup=True, members=(RESIDENT,))
        env = bot_env(emu, tmp_path, folder) | {"GRIDBOT_RELOAD_S": "0.2"}
        bot = await asyncio.create_subprocess_exec(
            *gridbot_command(),
            "run",
            env=subprocess_env(env),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await emu.wait_until(lambda: emu.stats.by_method.get("getUpdates", 0) > 0, 30)
            (folder / "b.toml").write_text(later, encoding="utf-8")
            await asyncio.sleep(1.0)  # a few reloads
            await emu.send_text(-1002000000001, RESIDENT, "4号楼电梯又坏了，关人了！快来人")
            ack = await emu.wait_for(-1002000000001, timeout=20)
            assert "已收到" in ack.text and "#1" in ack.text
        finally:
            bot.terminate()
            await asyncio.wait_for(bot.wait(), timeout=30)
