"""Checks run when routes are saved: each problem names the route, the field (a path inside the route, such as
``target.agent`` or ``match.numbers[2]``) and says what is wrong and what to do.

Errors make a table unusable as intended (a target that does not exist, an invalid number); warnings point at
routes that cannot win (shadowed), schedules that never open, or a missing project default.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from typing import Literal

import msgspec
import phonenumbers

from routing.matching import CompiledRoute, NumberSet
from routing.model import (
    AgentTarget,
    CallerMatch,
    FlowTarget,
    ForwardTarget,
    ProjectRouting,
    RejectTarget,
    Route,
    Schedule,
    ScheduleMatch,
    Target,
)
from routing.neighbours import RouteNeighbours
from routing.numbers import InvalidNumber, mask, normalize
from routing.schedule import always_open, never_opens

__all__ = ["Problem", "check_route", "has_errors", "shadowed_by", "validate"]

Severity = Literal["error", "warning"]
CALL_VARIABLES = frozenset({"caller", "called", "call_id"})
"""Flow variables every call sets itself: a route cannot set them."""


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    route_id: str | None
    """None for project-level problems (default target, regions)."""
    field: str
    severity: Severity
    message: str


def has_errors(problems: Collection[Problem]) -> bool:
    return any(problem.severity == "error" for problem in problems)


def validate(
    table: ProjectRouting, known_flows: Collection[str], known_agents: Collection[str]
) -> list[Problem]:
    """All problems of `table`, project-level first, then per route in evaluation order."""
    checker = _Checker(known_flows, known_agents)
    checker.project(table)
    compiled = sorted(
        (CompiledRoute(route, i) for i, route in enumerate(table.routes)), key=lambda r: r.sort_key
    )
    for route in compiled:
        checker.route(route.route)
    checker.shadowing(compiled)
    return checker.problems


def check_route(
    route: Route, table: RouteNeighbours, known_flows: Collection[str], known_agents: Collection[str]
) -> list[Problem]:
    """What `validate` says about `route` in the table `table` holds with `route` put in it (replacing the route
    with its id), found by comparing it with the routes it can interact with only."""
    checker = _Checker(known_flows, known_agents)
    checker.route(route)
    if route.enabled:
        compiled = table.compile(route)
        earlier = [
            other
            for other in table.covering(compiled)
            if other.enabled and other.id != route.id and other.sort_key < compiled.sort_key
        ]
        checker.first_cover(compiled, earlier)
    return checker.problems


def shadowed_by(route: Route, table: RouteNeighbours) -> list[str]:
    """Ids of the enabled routes after `route` (in evaluation order) that match no call `route` does not match:
    with `route` in the table they only run when its target and fallback are unavailable."""
    if not route.enabled:
        return []
    compiled = table.compile(route)
    return [
        later.id
        for later in table.covered(compiled)
        if later.enabled
        and later.id != route.id
        and later.sort_key > compiled.sort_key
        and _covers(compiled, later)
    ]


class _Checker:
    def __init__(self, known_flows: Collection[str], known_agents: Collection[str]) -> None:
        self.flows = frozenset(known_flows)
        self.agents = frozenset(known_agents)
        self.problems: list[Problem] = []

    def add(self, route_id: str | None, field: str, severity: Severity, message: str) -> None:
        where = f"route {route_id!r}" if route_id is not None else "project"
        self.problems.append(
            Problem(route_id=route_id, field=field, severity=severity, message=f"{where}: {field}: {message}")
        )

    def project(self, table: ProjectRouting) -> None:
        if table.default_region not in phonenumbers.SUPPORTED_REGIONS:
            self.add(None, "default_region", "error", f"unknown region {table.default_region!r}")
        for trunk, region in sorted(table.trunk_regions.items()):
            if region not in phonenumbers.SUPPORTED_REGIONS:
                self.add(None, f"trunk_regions.{trunk}", "error", f"unknown region {region!r}")
        if table.default_target is None:
            self.add(
                None,
                "default_target",
                "warning",
                "no project default: calls that match no route are rejected as unavailable (SIP 480)",
            )
        else:
            self.target(None, "default_target", table.default_target)
        counts = Counter(route.id for route in table.routes)
        for route_id, count in sorted(counts.items()):
            if count > 1:
                self.add(route_id, "id", "error", f"{count} routes share this id; ids must be unique")

    def route(self, route: Route) -> None:
        self.target(route.id, "target", route.target)
        if route.fallback is not None:
            self.target(route.id, "fallback", route.fallback)
            if route.fallback == route.target:
                self.add(
                    route.id, "fallback", "warning", "fallback is the same as the target; it never helps"
                )
            if isinstance(route.target, RejectTarget):
                self.add(
                    route.id, "fallback", "warning", "a reject is always available; the fallback is unused"
                )
        self.numbers(route)
        if route.match.caller is not None:
            self.caller(route.id, route.match.caller)
        if route.match.schedule is not None:
            self.schedule(route.id, route.match.schedule)
        pin = route.dispatch.pin
        if pin and not pin.isdigit():
            self.add(route.id, "dispatch.pin", "error", "a room PIN is dialled on a keypad: digits only")

    def target(self, route_id: str | None, field: str, target: Target) -> None:
        if isinstance(target, FlowTarget):
            for name in sorted(CALL_VARIABLES & set(target.variables)):
                message = f"{name!r} is set by the call itself; pick another name"
                self.add(route_id, f"{field}.variables.{name}", "error", message)
        if isinstance(target, FlowTarget) and target.flow not in self.flows:
            self.add(
                route_id, f"{field}.flow", "error", f"flow {target.flow!r} does not exist{_known(self.flows)}"
            )
        elif isinstance(target, AgentTarget) and target.agent not in self.agents:
            message = f"agent {target.agent!r} does not exist{_known(self.agents)}"
            self.add(route_id, f"{field}.agent", "error", message)
        elif isinstance(target, ForwardTarget) and target.number is not None:
            self.number(route_id, f"{field}.number", target.number)

    def number(self, route_id: str | None, field: str, number: str) -> None:
        try:
            normalize(number, None)
        except InvalidNumber as exc:
            self.add(route_id, field, "error", f"{mask(number)} is not a valid number ({exc.reason})")

    def numbers(self, route: Route) -> None:
        seen: set[str] = set()
        for i, pattern in enumerate(route.match.numbers):
            field = f"match.numbers[{i}]"
            if pattern in seen:
                self.add(route.id, field, "warning", "listed twice")
            seen.add(pattern)
            if not pattern.endswith("*"):
                self.number(route.id, field, pattern)
        for i, (low, high) in enumerate(route.match.number_ranges):
            for end, number in (("0", low), ("1", high)):
                self.number(route.id, f"match.number_ranges[{i}][{end}]", number)

    def caller(self, route_id: str, caller: CallerMatch) -> None:
        for i, country in enumerate(caller.countries):
            if country not in phonenumbers.SUPPORTED_REGIONS:
                self.add(route_id, f"match.caller.countries[{i}]", "error", f"unknown region {country!r}")
        if caller.withheld == "only" and (caller.prefixes or caller.countries or caller.allow):
            self.add(
                route_id,
                "match.caller.withheld",
                "error",
                '"only" matches withheld callers, who have no number: prefixes, countries and allow '
                "can never hold; remove them or use withheld: any",
            )
        both = set(caller.allow) & set(caller.deny)
        if both:
            self.add(
                route_id, "match.caller.deny", "warning", f"{len(both)} entries are on both allow and deny"
            )

    def schedule(self, route_id: str, match: ScheduleMatch) -> None:
        schedule: Schedule = match.schedule
        field = "match.schedule"
        dates = Counter(exception.date for exception in schedule.exceptions)
        for day, count in sorted(dates.items()):
            if count > 1:
                self.add(route_id, f"{field}.schedule.exceptions", "error", f"{count} exceptions for {day}")
        if never_opens(schedule):
            if match.when == "open":
                self.add(route_id, field, "warning", "the schedule never opens, so this route never matches")
            else:
                self.add(route_id, field, "warning", 'the schedule never opens, so "closed" always holds')
        elif match.when == "closed" and always_open(schedule):
            self.add(route_id, field, "warning", 'the schedule is always open, so "closed" never holds')

    def shadowing(self, routes: list[CompiledRoute]) -> None:
        """Each enabled route against the earlier ones that may cover it (`RouteNeighbours`), not every pair."""
        table = RouteNeighbours()
        for route in routes:
            table.add(route)
        for later in routes:
            if later.enabled:
                earlier = [
                    other
                    for other in table.covering(later)
                    if other.enabled and other.sort_key < later.sort_key
                ]
                self.first_cover(later, earlier)

    def first_cover(self, later: CompiledRoute, earlier: list[CompiledRoute]) -> None:
        """Warn about `later` when one of `earlier` (in evaluation order) matches every call it does."""
        for route in earlier:
            if _covers(route, later):
                self.add(later.id, "match", "warning", _shadow_message(route))
                return


def _shadow_message(earlier: CompiledRoute) -> str:
    head = f"shadowed by route {earlier.id!r} (priority {earlier.priority}), which matches every call this route does"
    if isinstance(earlier.target, RejectTarget) or isinstance(earlier.fallback, RejectTarget):
        return head + ": this route can never win"
    return head + f": this route only runs when {earlier.id!r}'s target and fallback are unavailable"


def _known(names: frozenset[str]) -> str:
    if not names:
        return " (none are defined)"
    shown = sorted(names)[:10]
    more = f", ... {len(names) - 10} more" if len(names) > 10 else ""
    return f" (known: {', '.join(shown)}{more})"


def _covers(earlier: CompiledRoute, later: CompiledRoute) -> bool:
    """True when every call `later` matches is also matched by `earlier` (conservative: may say False)."""
    a, b = earlier.route.match, later.route.match
    if not _numbers_cover(earlier.numbers, later.numbers):
        return False
    if earlier.trunks is not None and (later.trunks is None or not later.trunks <= earlier.trunks):
        return False
    if (
        not {k.lower(): v for k, v in a.headers.items()}.items()
        <= {k.lower(): v for k, v in b.headers.items()}.items()
    ):
        return False
    if a.caller is not None and a.caller != b.caller:
        return False
    return a.schedule is None or a.schedule == b.schedule


def _numbers_cover(outer: NumberSet, inner: NumberSet) -> bool:
    if outer.matches_any:
        return True
    if inner.matches_any:
        return False
    if not all(outer.contains(number) for number in inner.exact):
        return False
    if not all(any(prefix.startswith(p) for p in outer.prefixes) for prefix in inner.prefixes):
        return False
    return all(_range_covered(outer, low, high) for low, high in inner.ranges)


def _range_covered(outer: NumberSet, low: str, high: str) -> bool:
    if any(low.startswith(p) and high.startswith(p) for p in outer.prefixes):
        return True
    return any(len(a) == len(low) and a <= low and high <= b for a, b in outer.ranges)
