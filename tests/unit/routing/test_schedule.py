from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from routing.model import OpeningHours, Schedule, ScheduleException, Weekday
from routing.schedule import always_open, is_open, never_opens

WEEKDAYS: list[Weekday] = ["mon", "tue", "wed", "thu", "fri"]


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def office(zone: str, *, holidays: list[date] | None = None, **extra: list[ScheduleException]) -> Schedule:
    hours = [OpeningHours(days=[*WEEKDAYS, "sun"], open="09:00", close="17:30")]
    return Schedule(timezone=zone, weekly=hours, holidays=holidays or [], **extra)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (utc(2025, 3, 23, 8, 30), False),  # Sunday before the change: 08:30 GMT
        (utc(2025, 3, 23, 16, 45), True),  # 16:45 GMT
        (utc(2025, 3, 30, 8, 30), True),  # Sunday of the change: 09:30 BST
        (utc(2025, 3, 30, 16, 45), False),  # 17:45 BST
        (utc(2025, 3, 31, 8, 0), True),  # Monday after: 09:00 BST exactly
        (utc(2025, 3, 31, 16, 30), False),  # 17:30 BST: closing time is exclusive
    ],
)
def test_london_office_hours_follow_british_summer_time(at: datetime, expected: bool) -> None:
    assert is_open(office("Europe/London"), at) is expected


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        (utc(2025, 3, 3, 13, 30), False),  # Monday 08:30 EST
        (utc(2025, 3, 10, 13, 30), True),  # Monday 09:30 EDT
        (utc(2025, 3, 10, 21, 45), False),  # 17:45 EDT
        (utc(2025, 3, 3, 22, 15), True),  # 17:15 EST
    ],
)
def test_new_york_office_hours_follow_daylight_saving(at: datetime, expected: bool) -> None:
    assert is_open(office("America/New_York"), at) is expected


def test_an_opening_inside_the_skipped_hour_starts_when_the_clock_jumps() -> None:
    night = Schedule(
        timezone="Europe/London", weekly=[OpeningHours(days=["sun"], open="01:30", close="02:30")]
    )
    assert not is_open(night, utc(2025, 3, 30, 0, 59))  # 00:59 GMT
    assert is_open(night, utc(2025, 3, 30, 1, 0))  # clocks jump to 02:00 BST
    assert not is_open(night, utc(2025, 3, 30, 1, 30))  # 02:30 BST


def test_new_york_spring_forward_closes_an_opening_that_ends_in_the_skipped_hour() -> None:
    night = Schedule(
        timezone="America/New_York", weekly=[OpeningHours(days=["sun"], open="01:00", close="02:30")]
    )
    assert is_open(night, utc(2025, 3, 9, 6, 59))  # 01:59 EST
    assert not is_open(night, utc(2025, 3, 9, 7, 0))  # 03:00 EDT


def test_the_repeated_hour_of_a_fall_back_night_is_open_both_times() -> None:
    night = Schedule(
        timezone="Europe/London", weekly=[OpeningHours(days=["sun"], open="01:00", close="02:00")]
    )
    assert is_open(night, utc(2025, 10, 26, 0, 30))  # 01:30 BST
    assert is_open(night, utc(2025, 10, 26, 1, 30))  # 01:30 GMT
    assert not is_open(night, utc(2025, 10, 26, 2, 0))  # 02:00 GMT


def test_overnight_hours_run_into_the_next_day_and_belong_to_the_opening_day() -> None:
    nights = Schedule(
        timezone="UTC",
        weekly=[OpeningHours(days=["fri"], open="22:00", close="06:00")],
        holidays=[date(2025, 6, 14)],  # the Saturday
    )
    assert not is_open(nights, utc(2025, 6, 13, 21, 59))
    assert is_open(nights, utc(2025, 6, 13, 23, 0))  # Friday night
    assert is_open(nights, utc(2025, 6, 14, 3, 0))  # Saturday morning, despite the Saturday holiday
    assert not is_open(nights, utc(2025, 6, 14, 6, 0))
    assert not is_open(nights, utc(2025, 6, 15, 3, 0))  # Sunday morning: Saturday has no opening
    friday_off = Schedule(timezone="UTC", weekly=nights.weekly, holidays=[date(2025, 6, 13)])
    assert not is_open(friday_off, utc(2025, 6, 14, 3, 0))


def test_holidays_close_all_day_in_local_time() -> None:
    christmas = office("America/New_York", holidays=[date(2025, 12, 25)])
    assert not is_open(christmas, utc(2025, 12, 25, 15, 0))  # 10:00 EST on the 25th
    assert is_open(christmas, utc(2025, 12, 26, 15, 0))
    assert is_open(christmas, utc(2025, 12, 24, 15, 0))


def test_exceptions_override_weekly_hours_and_holidays() -> None:
    schedule = office(
        "Europe/London",
        holidays=[date(2025, 12, 25)],
        exceptions=[
            ScheduleException(date=date(2025, 12, 24), open="09:00", close="12:00"),
            ScheduleException(date=date(2025, 12, 25), open="10:00", close="11:00"),
            ScheduleException(date=date(2025, 12, 23), closed=True),
        ],
    )
    assert is_open(schedule, utc(2025, 12, 24, 11, 0))
    assert not is_open(schedule, utc(2025, 12, 24, 13, 0))
    assert is_open(schedule, utc(2025, 12, 25, 10, 30))
    assert not is_open(schedule, utc(2025, 12, 25, 12, 0))
    assert not is_open(schedule, utc(2025, 12, 23, 11, 0))
    assert is_open(schedule, utc(2025, 12, 22, 11, 0))


def test_midnight_to_midnight_is_open_all_day() -> None:
    whole = Schedule(timezone="Asia/Tokyo", weekly=[OpeningHours(days=["mon"], open="00:00", close="24:00")])
    assert is_open(whole, utc(2025, 6, 8, 15, 0))  # Monday 00:00 JST
    assert is_open(whole, utc(2025, 6, 9, 14, 59))  # Monday 23:59 JST
    assert not is_open(whole, utc(2025, 6, 9, 15, 0))


def test_is_open_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="aware"):
        is_open(office("UTC"), datetime(2025, 1, 1))


def test_never_opens() -> None:
    assert never_opens(Schedule(timezone="UTC"))
    assert never_opens(
        Schedule(timezone="UTC", exceptions=[ScheduleException(date=date(2025, 1, 1), closed=True)])
    )
    special = Schedule(
        timezone="UTC", exceptions=[ScheduleException(date=date(2025, 1, 1), open="09:00", close="10:00")]
    )
    assert not never_opens(special)
    assert never_opens(special, after=date(2025, 1, 2))
    assert not never_opens(office("UTC"))


def test_always_open() -> None:
    every_day: list[Weekday] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    assert always_open(
        Schedule(timezone="UTC", weekly=[OpeningHours(days=every_day, open="00:00", close="24:00")])
    )
    halves = [
        OpeningHours(days=every_day, open="12:00", close="24:00"),
        OpeningHours(days=every_day, open="00:00", close="12:00"),
    ]
    assert always_open(Schedule(timezone="UTC", weekly=halves))
    overnight = [OpeningHours(days=every_day, open="12:00", close="11:59")]
    assert not always_open(Schedule(timezone="UTC", weekly=overnight))
    assert not always_open(office("UTC"))
    assert not always_open(
        Schedule(
            timezone="UTC",
            weekly=[OpeningHours(days=every_day, open="00:00", close="24:00")],
            holidays=[date(2025, 1, 1)],
        )
    )
