"""Settings: bad values fail at start-up with one line naming the setting; the token is secret."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import DEFAULT_API_BASE_URL, SettingsError, load_settings

GOOD_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def env(tmp_path: Path, **extra: str) -> dict[str, str]:
    config = tmp_path / "community.toml"
    if not config.exists():
        config.write_text('[community]\nname = "测试社区"\n', encoding="utf-8")
    base = {"GRIDBOT_TOKEN": GOOD_TOKEN, "GRIDBOT_CONFIG": str(config)}
    base.update(extra)
    return base


def test_defaults(tmp_path: Path) -> None:
    settings = load_settings(env(tmp_path))
    assert settings.tz_name == "Asia/Shanghai"
    assert settings.api_base_url == DEFAULT_API_BASE_URL
    assert settings.db_path == "data/gridbot.sqlite3"
    assert settings.config["community"]["name"] == "测试社区"
    assert settings.clock_shift_s == 0.0  # the real clock unless a test shifts it


def test_a_test_may_run_the_clock_ahead(tmp_path: Path) -> None:
    settings = load_settings(env(tmp_path, GRIDBOT_TEST_CLOCK_SHIFT_MINUTES="50"))
    assert settings.clock_shift_s == 3000.0


def test_token_never_in_repr_or_str(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(env(tmp_path))
    assert GOOD_TOKEN not in repr(settings)
    assert GOOD_TOKEN not in str(settings.token)
    with caplog.at_level(logging.INFO):
        logging.getLogger("t").info("settings: %s %r", settings, settings)
    assert GOOD_TOKEN not in caplog.text
    assert settings.token.get() == GOOD_TOKEN


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("GRIDBOT_TOKEN", "", "GRIDBOT_TOKEN"),
        ("GRIDBOT_TOKEN", "YOUR_TOKEN", "GRIDBOT_TOKEN"),
        ("GRIDBOT_TOKEN", "<token>", "GRIDBOT_TOKEN"),
        ("GRIDBOT_TOKEN", "12345", "GRIDBOT_TOKEN"),
        ("GRIDBOT_TZ", "Mars/Olympus", "GRIDBOT_TZ"),
        ("GRIDBOT_LOG_LEVEL", "LOUD", "GRIDBOT_LOG_LEVEL"),
        ("GRIDBOT_API_BASE_URL", "ftp://x", "GRIDBOT_API_BASE_URL"),
        ("GRIDBOT_CONFIG", "/nonexistent/c.toml", "GRIDBOT_CONFIG"),
        ("GRIDBOT_DB", "  ", "GRIDBOT_DB"),
        ("GRIDBOT_TEST_CLOCK_SHIFT_MINUTES", "-5", "GRIDBOT_TEST_CLOCK_SHIFT_MINUTES"),
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, key: str, value: str, named: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env(tmp_path, **{key: value}))
    message = str(info.value)
    assert message.startswith(named)
    assert "\n" not in message


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    config = tmp_path / "community.toml"
    config.write_text("[community\nname = 1", encoding="utf-8")
    with pytest.raises(SettingsError, match=r"GRIDBOT_CONFIG.*community\.toml"):
        load_settings(env(tmp_path))


def test_custom_api_base_url_derives_file_url(tmp_path: Path) -> None:
    settings = load_settings(env(tmp_path, GRIDBOT_API_BASE_URL="http://127.0.0.1:8081/bot"))
    assert settings.file_base_url == "http://127.0.0.1:8081/file/bot"


def test_run_with_placeholder_token_fails_with_one_line(tmp_path: Path) -> None:
    environment = {"PATH": "", "GRIDBOT_TOKEN": "changeme", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "bot", "run"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "GRIDBOT_TOKEN" in lines[0]
