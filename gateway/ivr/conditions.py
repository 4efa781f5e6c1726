"""Conditions for `branch` steps: variables, the caller's number, business hours and holidays."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

import msgspec

from gateway.ivr.problems import FieldPath
from gateway.ivr.templates import render
from routing.model import Schedule
from routing.numbers import is_withheld
from routing.schedule import CompiledSchedule

__all__ = [
    "Condition",
    "ConditionEnv",
    "FlowSchedule",
    "caller_numbers",
    "condition_texts",
    "condition_variables",
    "describe",
    "evaluate",
    "nested",
    "schedules_used",
]

_COMPARATORS = ("equals", "not_equals", "one_of", "starts_with", "is_set")
_TESTS = (
    "variable",
    "caller_in",
    "caller_starts_with",
    "caller_withheld",
    "business_hours",
    "holiday",
    "all",
    "any",
    "not_",
)


class Condition(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False, kw_only=True):
    """True when every test written here holds. Combine with `all`, `any` and `not`."""

    variable: Annotated[str | None, msgspec.Meta(description="Variable to test with a comparator")] = None
    equals: Annotated[str | None, msgspec.Meta(description="The variable equals this (case-insensitive)")] = (
        None
    )
    not_equals: str | None = None
    one_of: Annotated[list[str] | None, msgspec.Meta(description="The variable is one of these")] = None
    starts_with: str | None = None
    is_set: Annotated[bool | None, msgspec.Meta(description="The variable has a non-empty value")] = None
    caller_in: Annotated[
        list[str] | None, msgspec.Meta(description="Caller is one of these E.164 numbers")
    ] = None
    caller_starts_with: Annotated[
        list[str] | None, msgspec.Meta(description="Caller's E.164 number starts with one of these")
    ] = None
    caller_withheld: Annotated[bool | None, msgspec.Meta(description="Caller withheld their number")] = None
    business_hours: Annotated[
        str | None, msgspec.Meta(description="Name of a schedule: true while it is open (not on holidays)")
    ] = None
    holiday: Annotated[str | None, msgspec.Meta(description="Name of a schedule: true on its holidays")] = (
        None
    )
    all: list[Condition] | None = None
    any: list[Condition] | None = None
    not_: Condition | None = msgspec.field(default=None, name="not")

    def __post_init__(self) -> None:
        comparators = [name for name in _COMPARATORS if getattr(self, name) is not None]
        if self.variable is not None and len(comparators) != 1:
            raise ValueError(
                "`variable` needs exactly one of: equals, not_equals, one_of, starts_with, is_set"
            )
        if self.variable is None and comparators:
            raise ValueError(f"`{comparators[0]}` needs `variable:` to say which variable to test")
        if not any(getattr(self, name) is not None for name in _TESTS):
            raise ValueError(
                "an empty condition: add a test such as `variable`, `business_hours` or `caller_in`"
            )


@dataclass(frozen=True, slots=True)
class FlowSchedule:
    """A flow's named schedule, prepared for checks (routing's opening-hours rules, plus its holidays)."""

    hours: CompiledSchedule
    holidays: frozenset[date]

    @classmethod
    def of(cls, schedule: Schedule) -> FlowSchedule:
        return cls(CompiledSchedule(schedule), frozenset(schedule.holidays))

    def is_open(self, at: datetime) -> bool:
        return self.hours.is_open(at)

    def is_holiday(self, at: datetime) -> bool:
        return at.astimezone(self.hours.zone).date() in self.holidays


@dataclass(frozen=True, slots=True)
class ConditionEnv:
    variables: Mapping[str, str]
    caller: str
    now: datetime
    schedules: Mapping[str, FlowSchedule]


def evaluate(condition: Condition, env: ConditionEnv) -> bool:
    if condition.variable is not None and not _variable_test(condition, env.variables):
        return False
    if condition.caller_in is not None and env.caller not in condition.caller_in:
        return False
    if condition.caller_starts_with is not None and not any(
        env.caller.startswith(prefix) for prefix in condition.caller_starts_with
    ):
        return False
    if condition.caller_withheld is not None and is_withheld(env.caller) != condition.caller_withheld:
        return False
    if condition.business_hours is not None and not env.schedules[condition.business_hours].is_open(env.now):
        return False
    if condition.holiday is not None and not env.schedules[condition.holiday].is_holiday(env.now):
        return False
    if condition.all is not None and not all(evaluate(inner, env) for inner in condition.all):
        return False
    if condition.any is not None and not any(evaluate(inner, env) for inner in condition.any):
        return False
    return not (condition.not_ is not None and evaluate(condition.not_, env))


def _variable_test(condition: Condition, variables: Mapping[str, str]) -> bool:
    value = variables.get(condition.variable or "", "")
    folded = value.casefold()
    if condition.equals is not None:
        return folded == render(condition.equals, variables).casefold()
    if condition.not_equals is not None:
        return folded != render(condition.not_equals, variables).casefold()
    if condition.one_of is not None:
        return folded in {render(choice, variables).casefold() for choice in condition.one_of}
    if condition.starts_with is not None:
        return folded.startswith(render(condition.starts_with, variables).casefold())
    return bool(value) == condition.is_set


def nested(condition: Condition, path: FieldPath) -> Iterator[tuple[FieldPath, Condition]]:
    """The condition and every condition inside it (`all`, `any`, `not`), each with its path."""
    yield path, condition
    for name, inner in (("all", condition.all), ("any", condition.any)):
        for index, sub in enumerate(inner or ()):
            yield from nested(sub, (*path, name, index))
    if condition.not_ is not None:
        yield from nested(condition.not_, (*path, "not"))


def condition_variables(condition: Condition, path: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    """Variables a condition tests by name (templates inside it are listed by `condition_texts`)."""
    for where, test in nested(condition, path):
        if test.variable is not None:
            yield (*where, "variable"), test.variable


def condition_texts(condition: Condition, path: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    """Templates inside a condition's comparison values."""
    for where, test in nested(condition, path):
        for name in ("equals", "not_equals", "starts_with"):
            value = getattr(test, name)
            if value is not None:
                yield (*where, name), value
        for index, choice in enumerate(test.one_of or ()):
            yield (*where, "one_of", index), choice


def schedules_used(condition: Condition, path: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    for where, test in nested(condition, path):
        for name in ("business_hours", "holiday"):
            value = getattr(test, name)
            if value is not None:
                yield (*where, name), value


def caller_numbers(condition: Condition, path: FieldPath) -> Iterator[tuple[FieldPath, str]]:
    """Phone numbers written in a condition, for number validation."""
    for where, test in nested(condition, path):
        for index, number in enumerate(test.caller_in or ()):
            yield (*where, "caller_in", index), number


def describe(condition: Condition) -> str:
    """A short label for graphs: ``business_hours office``, ``tier = gold``, ``not (holiday office)``."""
    parts = []
    if condition.variable is not None:
        for name, symbol in (("equals", "="), ("not_equals", "!="), ("starts_with", "starts with")):
            value = getattr(condition, name)
            if value is not None:
                parts.append(f"{condition.variable} {symbol} {value}")
        if condition.one_of is not None:
            parts.append(f"{condition.variable} in {', '.join(condition.one_of)}")
        if condition.is_set is not None:
            parts.append(f"{condition.variable} {'is set' if condition.is_set else 'is empty'}")
    if condition.caller_in is not None:
        count = len(condition.caller_in)
        parts.append(f"caller in {count} number{'' if count == 1 else 's'}")
    if condition.caller_starts_with is not None:
        parts.append(f"caller starts with {', '.join(condition.caller_starts_with)}")
    if condition.caller_withheld is not None:
        parts.append("caller withheld" if condition.caller_withheld else "caller known")
    if condition.business_hours is not None:
        parts.append(f"business_hours {condition.business_hours}")
    if condition.holiday is not None:
        parts.append(f"holiday {condition.holiday}")
    if condition.all is not None:
        parts.append("(" + " and ".join(describe(inner) for inner in condition.all) + ")")
    if condition.any is not None:
        parts.append("(" + " or ".join(describe(inner) for inner in condition.any) + ")")
    if condition.not_ is not None:
        parts.append(f"not ({describe(condition.not_)})")
    return " and ".join(parts)
