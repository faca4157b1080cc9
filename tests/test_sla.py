"""Deadlines on China's official calendar, with the Monday-to-Friday fallback."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.services.sla import SHANGHAI, SlaConfigError, SlaPolicy, WorkCalendar

MONDAY_9 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai


def local(dt: datetime) -> datetime:
    return dt.astimezone(SHANGHAI)


def test_defaults_urgent_normal_and_services() -> None:
    sla = SlaPolicy()
    assert sla.accept_due("facilities", "urgent", MONDAY_9) == MONDAY_9 + timedelta(minutes=30)
    assert sla.resolve_due("facilities", "urgent", MONDAY_9) == MONDAY_9 + timedelta(hours=24)
    assert sla.accept_due("facilities", "normal", MONDAY_9) == MONDAY_9 + timedelta(hours=4)
    # 3 working days from Monday 09:00 is Thursday 09:00.
    assert local(sla.resolve_due("facilities", "normal", MONDAY_9)) == datetime(
        2026, 11, 26, 9, 0, tzinfo=SHANGHAI
    )
    assert local(sla.resolve_due("services", "normal", MONDAY_9)) == datetime(
        2026, 11, 24, 9, 0, tzinfo=SHANGHAI
    )
    # An urgent services question is still urgent.
    assert sla.resolve_due("services", "urgent", MONDAY_9) == MONDAY_9 + timedelta(hours=24)


def test_working_days_skip_the_weekend() -> None:
    friday_15 = datetime(2026, 11, 27, 15, 0, tzinfo=SHANGHAI)
    due = SlaPolicy().resolve_due("noise", "normal", friday_15)
    assert local(due) == datetime(2026, 12, 2, 15, 0, tzinfo=SHANGHAI)  # Mon, Tue, Wed


def test_national_day_holiday_and_make_up_working_day() -> None:
    calendar = WorkCalendar()
    # 2026: 1-7 October are holidays; Sunday 20 September is a make-up working day (调休).
    assert not calendar.is_workday(date(2026, 10, 1))
    assert calendar.is_workday(date(2026, 9, 20))
    before_holiday = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
    due = SlaPolicy().resolve_due("noise", "normal", before_holiday)
    assert local(due).date() > date(2026, 10, 7)
    saturday = datetime(2026, 9, 19, 10, 0, tzinfo=SHANGHAI)
    assert local(
        SlaPolicy(calendar=calendar).resolve_due("services", "normal", saturday)
    ).date() == (date(2026, 9, 20))


def test_years_without_data_fall_back_to_monday_to_friday_with_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calendar = WorkCalendar()
    with caplog.at_level(logging.WARNING, logger="bot.services.sla"):
        assert calendar.is_workday(date(2031, 1, 1))  # a Wednesday; the library has no 2031
        assert not calendar.is_workday(date(2031, 1, 4))  # Saturday
        calendar.is_workday(date(2031, 1, 6))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2031" in warnings[0].getMessage()


def test_reminder_at_three_quarters() -> None:
    sla = SlaPolicy()
    assert sla.reminder_time(MONDAY_9, MONDAY_9 + timedelta(hours=4)) == MONDAY_9 + timedelta(
        hours=3
    )


def test_from_config_reads_every_key() -> None:
    sla = SlaPolicy.from_config(
        {
            "reminder_at": 0.5,
            "rating_window_hours": 48,
            "follower_threshold": 5,
            "urgent": {"accept_minutes": 15, "resolve_hours": 12},
            "normal": {"accept_hours": 2, "resolve_working_days": 2},
            "categories": {"parking": {"resolve_working_days": 5}},
        }
    )
    assert (sla.reminder_at, sla.rating_window, sla.follower_threshold) == (
        0.5,
        timedelta(hours=48),
        5,
    )
    assert sla.accept_due("x", "urgent", MONDAY_9) == MONDAY_9 + timedelta(minutes=15)
    assert sla.accept_due("x", "normal", MONDAY_9) == MONDAY_9 + timedelta(hours=2)
    assert sla.accept_due("parking", "normal", MONDAY_9) == MONDAY_9 + timedelta(hours=2)
    assert local(sla.resolve_due("parking", "normal", MONDAY_9)).day == 30
    assert SlaPolicy.from_config(None) == SlaPolicy.from_config({})


def test_from_config_names_every_problem() -> None:
    with pytest.raises(SlaConfigError) as bad:
        SlaPolicy.from_config(
            {
                "reminder_at": 2,
                "urgent": {"accept_minutes": -1, "resolve_hours": 3, "resolve_working_days": 1},
                "normal": {"resolve_working_days": 1.5},
                "colour": "red",
            }
        )
    message = str(bad.value)
    for part in (
        "sla.reminder_at",
        "sla.urgent.accept_minutes",
        "sla.urgent: give only one",
        "sla.normal.resolve_working_days",
        "sla.colour: unknown key",
    ):
        assert part in message


# ── working hours: normal tickets' clocks stop out of office hours; urgent ones never stop ──
NIGHT = datetime(2026, 11, 23, 1, 12, tzinfo=SHANGHAI)  # Monday 01:12


def test_a_normal_ticket_opened_at_night_counts_from_the_office_opening() -> None:
    sla = SlaPolicy()
    assert local(sla.accept_due("noise", "normal", NIGHT)) == datetime(
        2026, 11, 23, 12, 30, tzinfo=SHANGHAI
    )
    # Urgent ones run around the clock.
    assert sla.accept_due("noise", "urgent", NIGHT) == NIGHT + timedelta(minutes=30)


def test_office_time_carries_over_the_evening_and_the_weekend() -> None:
    sla = SlaPolicy()
    friday_16 = datetime(2026, 11, 27, 16, 0, tzinfo=SHANGHAI)
    # 1.5 hours on Friday, the other 2.5 on Monday morning.
    assert local(sla.accept_due("noise", "normal", friday_16)) == datetime(
        2026, 11, 30, 11, 0, tzinfo=SHANGHAI
    )
    saturday = datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI)
    # 3 working days of office time from the weekend: Monday, Tuesday, Wednesday.
    assert local(sla.resolve_due("noise", "normal", saturday)) == datetime(
        2026, 12, 2, 17, 30, tzinfo=SHANGHAI
    )


def test_the_reminder_of_a_normal_ticket_falls_in_office_hours() -> None:
    sla = SlaPolicy()
    friday_16 = datetime(2026, 11, 27, 16, 0, tzinfo=SHANGHAI)
    due = sla.accept_due("noise", "normal", friday_16)
    # 75 % of 4 office hours is 3 hours: 1.5 on Friday and 1.5 on Monday.
    assert local(sla.reminder_time(friday_16, due, "normal")) == datetime(
        2026, 11, 30, 10, 0, tzinfo=SHANGHAI
    )


def test_working_hours_are_configurable_or_off_and_validated() -> None:
    late = SlaPolicy.from_config({"working_hours": "09:00-18:00"})
    assert local(late.accept_due("noise", "normal", NIGHT)) == datetime(
        2026, 11, 23, 13, 0, tzinfo=SHANGHAI
    )
    off = SlaPolicy.from_config({"working_hours": "off"})
    assert off.accept_due("noise", "normal", NIGHT) == NIGHT + timedelta(hours=4)
    for bad in ("18:00-09:00", "8点到5点", 830, "25:00-26:00"):
        with pytest.raises(SlaConfigError, match=r"sla\.working_hours"):
            SlaPolicy.from_config({"working_hours": bad})
