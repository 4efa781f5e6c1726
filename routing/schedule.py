"""Opening hours: is a schedule open at an instant?

Hours are wall-clock times in the schedule's IANA zone, so they follow daylight saving: 09:00-17:30 is
09:00-17:30 local on both sides of a change. On a spring-forward night the skipped local hour never occurs
(an opening at 01:30 in London on that night starts, in effect, at 02:00 BST); on a fall-back night the
repeated hour is open, or closed, both times.

An opening belongs to the day it opens on: Friday 22:00-06:00 runs into Saturday morning, is governed by
Friday's holiday or exception, and is not cut short by Saturday being a holiday.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta

from routing.model import Schedule

__all__ = ["CompiledSchedule", "always_open", "compile_schedule", "is_open", "never_opens"]

MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

Interval = tuple[int, int]
"""(open, close) in minutes after local midnight; close <= open means the opening runs past midnight."""


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class CompiledSchedule:
    """A schedule prepared for repeated `is_open` checks (zone loaded, hours indexed by weekday and date)."""

    __slots__ = ("_exceptions", "_holidays", "_weekly", "zone")

    def __init__(self, schedule: Schedule) -> None:
        self.zone = zoneinfo.ZoneInfo(schedule.timezone)
        weekly: list[list[Interval]] = [[] for _ in WEEKDAYS]
        for hours in schedule.weekly:
            for day in hours.days:
                weekly[WEEKDAYS.index(day)].append((_minutes(hours.open), _minutes(hours.close)))
        self._weekly = tuple(tuple(day) for day in weekly)
        self._holidays = frozenset(schedule.holidays)
        self._exceptions: dict[date, tuple[Interval, ...]] = {}
        for exception in schedule.exceptions:
            if exception.closed or exception.open is None or exception.close is None:
                self._exceptions[exception.date] = ()
            else:
                self._exceptions[exception.date] = ((_minutes(exception.open), _minutes(exception.close)),)

    def hours_on(self, day: date) -> tuple[Interval, ...]:
        """Openings that start on `day` (an exception, else nothing on a holiday, else the weekly hours)."""
        exception = self._exceptions.get(day)
        if exception is not None:
            return exception
        if day in self._holidays:
            return ()
        return self._weekly[day.weekday()]

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(self.zone)
        today = local.date()
        now = local.hour * 60 + local.minute
        for start, end in self.hours_on(today):
            if start <= now < (end if end > start else MINUTES_PER_DAY):
                return True
        yesterday = self.hours_on(today - timedelta(days=1))
        return any(end <= start and now < end for start, end in yesterday)


def compile_schedule(schedule: Schedule) -> CompiledSchedule:
    return CompiledSchedule(schedule)


def is_open(schedule: Schedule, at: datetime) -> bool:
    """True when `schedule` is open at the aware instant `at` (see the module docstring for the rules)."""
    if at.tzinfo is None:
        raise ValueError("`at` must be timezone-aware")
    return CompiledSchedule(schedule).is_open(at)


def never_opens(schedule: Schedule, *, after: date | None = None) -> bool:
    """True when the schedule has no weekly hours and no special opening (on or after `after`, if given)."""
    if schedule.weekly:
        return False
    return not any(
        not exception.closed and (after is None or exception.date >= after)
        for exception in schedule.exceptions
    )


def always_open(schedule: Schedule) -> bool:
    """True when the weekly hours cover the whole week and no holiday or exception can close it."""
    if schedule.holidays or schedule.exceptions:
        return False
    covered: list[list[Interval]] = [[] for _ in WEEKDAYS]
    for hours in schedule.weekly:
        start, end = _minutes(hours.open), _minutes(hours.close)
        for day in hours.days:
            index = WEEKDAYS.index(day)
            if end > start:
                covered[index].append((start, end))
            else:
                covered[index].append((start, MINUTES_PER_DAY))
                covered[(index + 1) % 7].append((0, end))
    return all(_covers_whole_day(intervals) for intervals in covered)


def _covers_whole_day(intervals: list[Interval]) -> bool:
    reached = 0
    for start, end in sorted(intervals):
        if start > reached:
            return False
        reached = max(reached, end)
    return reached >= MINUTES_PER_DAY
