"""The [privacy] settings: defaults, and a wrong value named with its key."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.services.community import ConfigError
from bot.services.retention import RetentionConfig, parse_retention_config


def test_defaults_are_a_week_and_three_years() -> None:
    assert parse_retention_config({}, "c.toml") == RetentionConfig(
        timedelta(days=7), timedelta(days=1095)
    )
    assert parse_retention_config(
        {"privacy": {"keep_updates_days": 2, "keep_closed_tickets_days": 400}}, "c.toml"
    ) == RetentionConfig(timedelta(days=2), timedelta(days=400))


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"keep_updates_days": 0}, "privacy.keep_updates_days"),
        ({"keep_updates_days": "7"}, "privacy.keep_updates_days"),
        ({"keep_closed_tickets_days": 10}, "privacy.keep_closed_tickets_days"),
        ({"keep_closed_tickets_days": True}, "privacy.keep_closed_tickets_days"),
        ({"keep_messages": 3}, "privacy.keep_messages"),
    ],
)
def test_a_wrong_setting_is_named(section: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_retention_config({"privacy": section}, "c.toml")
    assert f"c.toml: {key}" in str(error.value)
