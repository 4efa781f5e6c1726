"""Routes prepared for evaluation: each `Route` becomes a `CompiledRoute` whose conditions are cheap to test.

`CompiledRoute.why_not(context)` is the single definition of "does this route match this call": it returns
None when every condition holds, else a short, log-safe reason (no phone numbers or header values in it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterator
from datetime import datetime
from fnmatch import translate
from typing import Any, TypeVar

import msgspec

from routing.model import (
    AgentTarget,
    CallerMatch,
    FlowTarget,
    ForwardTarget,
    RejectTarget,
    Route,
    RouteQuery,
    Schedule,
    Target,
    TraceEntry,
    TraceOutcome,
    VoicemailTarget,
    target_label,
)
from routing.numbers import InvalidNumber, caller_region, is_canonical_e164, is_withheld, normalize
from routing.schedule import CompiledSchedule

__all__ = ["CompiledCaller", "CompiledRoute", "MatchContext", "NumberSet", "Shared", "requirements"]

LIVEKIT = "livekit"
_H = TypeVar("_H", bound=Hashable)
_V = TypeVar("_V")


def requirements(target: Target) -> frozenset[str]:
    """What must be available for `target` to take a call; compared against `resolve(..., unavailable=...)`.

    Keys: ``livekit``, ``agent:<name>``, ``flow:<id>``, ``forward``, ``voicemail``. A reject needs nothing.
    """
    match target:
        case AgentTarget(agent=agent):
            return frozenset({LIVEKIT, f"agent:{agent}"})
        case FlowTarget(flow=flow):
            return frozenset({f"flow:{flow}"})
        case ForwardTarget():
            return frozenset({"forward"})
        case VoicemailTarget():
            return frozenset({"voicemail"})
        case RejectTarget():
            return frozenset()


class NumberSet:
    """Exact numbers, prefixes and inclusive ranges of E.164 strings; empty means "any number".

    The set of exact numbers is built on first use: the index keeps its own table of them, so routes with
    thousands of numbers do not hold a second copy unless a scan (`explain`, validation) asks.
    """

    __slots__ = ("_exact", "_patterns", "matches_any", "prefixes", "ranges")

    def __init__(self, patterns: list[str], ranges: list[tuple[str, str]]) -> None:
        self._patterns = patterns
        self._exact: frozenset[str] | None = None
        self.prefixes = tuple(sorted({p[:-1] for p in patterns if p.endswith("*")}))
        self.ranges = tuple(ranges)
        self.matches_any = not patterns and not ranges

    def exact_numbers(self) -> Iterator[str]:
        return (pattern for pattern in self._patterns if not pattern.endswith("*"))

    @property
    def exact(self) -> frozenset[str]:
        if self._exact is None:
            self._exact = frozenset(self.exact_numbers())
        return self._exact

    def contains(self, e164: str) -> bool:
        if self.matches_any or e164 in self.exact:
            return True
        if any(e164.startswith(prefix) for prefix in self.prefixes):
            return True
        return any(len(low) == len(e164) and low <= e164 <= high for low, high in self.ranges)


class MatchContext:
    """One call's facts, normalised once and lazily (the caller is parsed only if a route asks about it)."""

    __slots__ = ("_caller", "_headers", "call", "region", "to_e164", "to_invalid")

    def __init__(self, call: RouteQuery, region: str, to_e164: str | None = None) -> None:
        self.call = call
        self.region = region
        self.to_invalid: str | None = None
        if to_e164 is None:
            to_e164, self.to_invalid = _dialled_number(call.to, region)
        self.to_e164 = to_e164
        self._caller: tuple[bool, str | None] | None = None
        self._headers: dict[str, str] | None = None

    @property
    def at(self) -> datetime:
        return self.call.at

    def caller(self) -> tuple[bool, str | None]:
        """(withheld, E.164 number or None when withheld or not a valid number)."""
        found = self._caller
        if found is None:
            found = self._caller = _caller_facts(self.call.from_, self.region)
        return found

    @property
    def headers(self) -> dict[str, str]:
        if self._headers is None:
            self._headers = {name.lower(): value for name, value in self.call.headers.items()}
        return self._headers


def _caller_facts(raw: str, region: str) -> tuple[bool, str | None]:
    if is_withheld(raw):
        return True, None
    if is_canonical_e164(raw):
        return False, raw
    try:
        return False, normalize(raw, region).e164
    except InvalidNumber:
        return False, None


def _dialled_number(raw: str, region: str) -> tuple[str | None, str | None]:
    if is_canonical_e164(raw):
        return raw, None
    try:
        return normalize(raw, region).e164, None
    except InvalidNumber as exc:
        return None, exc.reason


class CompiledCaller:
    __slots__ = ("allow", "countries", "deny", "has_positive", "prefixes", "withheld")

    def __init__(self, caller: CallerMatch) -> None:
        self.deny = NumberSet(caller.deny, []) if caller.deny else None
        self.allow = NumberSet(caller.allow, []) if caller.allow else None
        self.prefixes = tuple(p.rstrip("*") for p in caller.prefixes)
        self.countries = frozenset(caller.countries)
        self.withheld = caller.withheld
        self.has_positive = bool(self.allow or self.prefixes or self.countries)

    def why_not(self, context: MatchContext) -> str | None:
        withheld, number = context.caller()
        if withheld:
            if self.withheld == "exclude":
                return "caller withheld and route excludes withheld callers"
            if self.withheld == "any" and self.has_positive:
                return "caller withheld; route needs a caller prefix, country or allow-list entry"
            return None
        if self.withheld == "only":
            return "caller not withheld; route only takes withheld callers"
        if number is None:
            return "caller number invalid" if self.has_positive else None
        if self.deny is not None and self.deny.contains(number):
            return "caller on deny list"
        if not self.has_positive:
            return None
        if self.allow is not None and self.allow.contains(number):
            return None
        if any(number.startswith(prefix) for prefix in self.prefixes):
            return None
        if self.countries and caller_region(number) in self.countries:
            return None
        return "caller not in route's prefixes, countries or allow list"


HeaderCheck = tuple[str, Callable[[str], bool]]


def _header_check(name: str, pattern: str) -> HeaderCheck:
    if any(c in pattern for c in "*?["):
        matcher = re.compile(translate(pattern)).match
        return name.lower(), lambda value: matcher(value) is not None
    return name.lower(), pattern.__eq__


class Shared:
    """Build-time interning: equal conditions in many routes (and projects) compile to one shared object.

    Compiled conditions are immutable, so sharing them only saves memory and keeps the hot set small.
    """

    def __init__(self) -> None:
        self._objects: dict[object, Any] = {}

    def get(self, value: _H) -> _H:
        return self._objects.setdefault(value, value)  # type: ignore[no-any-return]

    def _made(self, key: object, make: Callable[[], _V]) -> _V:
        found: _V | None = self._objects.get(key)
        if found is None:
            found = self._objects[key] = make()
        return found

    def needs(self, target: Target) -> frozenset[str]:
        return self.get(requirements(target))

    def caller(self, caller: CallerMatch) -> CompiledCaller:
        return self._made(("caller", msgspec.json.encode(caller)), lambda: CompiledCaller(caller))

    def schedule(self, schedule: Schedule) -> CompiledSchedule:
        return self._made(("schedule", msgspec.json.encode(schedule)), lambda: CompiledSchedule(schedule))

    def headers(self, headers: dict[str, str]) -> tuple[HeaderCheck, ...]:
        items = tuple(sorted(headers.items()))
        return self._made(
            ("headers", items), lambda: tuple(_header_check(name, value) for name, value in items)
        )


class CompiledRoute:
    """A route with its conditions prepared; `sort_key` is (priority, id, position in the table)."""

    __slots__ = (
        "_lost",
        "_skipped",
        "caller",
        "disabled_entry",
        "enabled",
        "fallback",
        "fallback_entry",
        "fallback_needs",
        "fallback_reason",
        "headers",
        "id",
        "label",
        "lost_why",
        "matched_entry",
        "matched_reason",
        "numbers",
        "priority",
        "route",
        "schedule",
        "schedule_when_open",
        "sort_key",
        "target",
        "target_needs",
        "trunks",
        "unavailable_entry",
        "unconditional",
    )

    def __init__(self, route: Route, position: int, shared: Shared | None = None) -> None:
        shared = shared if shared is not None else Shared()
        match = route.match
        self.route = route
        self.id = route.id
        self.priority = route.priority
        self.sort_key = (route.priority, route.id, position)
        self.enabled = route.enabled
        self.target = route.target
        self.fallback = route.fallback
        self.target_needs = shared.needs(route.target)
        self.fallback_needs = shared.needs(route.fallback) if route.fallback is not None else frozenset()
        self.numbers = NumberSet(match.numbers, list(match.number_ranges))
        self.trunks = shared.get(frozenset(match.trunks)) if match.trunks else None
        self.caller = shared.caller(match.caller) if match.caller is not None else None
        self.headers = shared.headers(match.headers) if match.headers else ()
        self.schedule = shared.schedule(match.schedule.schedule) if match.schedule is not None else None
        self.schedule_when_open = match.schedule is None or match.schedule.when == "open"
        self.unconditional = (
            self.trunks is None and self.caller is None and not self.headers and self.schedule is None
        )
        self._describe()

    def _describe(self) -> None:
        """Reasons and trace entries are the same for every call, so they are made once, here."""
        held = "conditions held: " + ", ".join(self.condition_kinds() or ["no conditions"])
        target = target_label(self.target)
        self.label = f"{self.route.name!r} ({self.id})" if self.route.name else repr(self.id)
        self.matched_reason = f"route {self.label} matched"
        self.fallback_reason = f"{self.matched_reason}; target {target} unavailable, used fallback"
        self.lost_why = f"route {self.label} (priority {self.priority}) won first"
        self.disabled_entry = self._entry("disabled", "route is disabled")
        self.matched_entry = self._entry("matched", held)
        self.fallback_entry = self._entry("matched", f"{held}; target {target} unavailable, used fallback")
        unavailable = f"{held}; target {target} unavailable, " + (
            "no fallback" if self.fallback is None else f"fallback {target_label(self.fallback)} unavailable"
        )
        self.unavailable_entry = self._entry("unavailable", unavailable)
        self._skipped: dict[str, TraceEntry] = {}
        self._lost: dict[str, TraceEntry] = {}

    def _entry(self, outcome: TraceOutcome, why: str) -> TraceEntry:
        return TraceEntry(route_id=self.id, outcome=outcome, why=why, route_name=self.route.name)

    def skipped_entry(self, why: str) -> TraceEntry:
        found = self._skipped.get(why)
        if found is None:
            found = self._skipped[why] = self._entry("skipped", why)
        return found

    def lost_entry(self, winner: CompiledRoute) -> TraceEntry:
        found = self._lost.get(winner.lost_why)
        if found is None:
            found = self._lost[winner.lost_why] = self._entry("lost", winner.lost_why)
        return found

    def condition_kinds(self) -> list[str]:
        """Names of the conditions this route sets, for traces and compile reports."""
        kinds = []
        if not self.numbers.matches_any:
            kinds.append("dialled number")
        if self.trunks is not None:
            kinds.append("trunk")
        if self.caller is not None:
            kinds.append("caller")
        if self.headers:
            kinds.append("headers")
        if self.schedule is not None:
            kinds.append("schedule " + ("open" if self.schedule_when_open else "closed"))
        return kinds

    def why_not(self, context: MatchContext, number_checked: bool = False) -> str | None:
        """None when every condition holds for the call, else why the route does not match.

        `number_checked`: the caller already knows the dialled number matches (an index candidate).
        """
        if not number_checked and not self.numbers.matches_any:
            if context.to_e164 is None:
                return f"dialled number invalid ({context.to_invalid})"
            if not self.numbers.contains(context.to_e164):
                return "dialled number not in route's numbers or ranges"
        if self.unconditional:
            return None
        if self.trunks is not None and context.call.trunk not in self.trunks:
            return "trunk not in route's trunks"
        for name, accepts in self.headers:
            value = context.headers.get(name)
            if value is None:
                return f"header {name} missing"
            if not accepts(value):
                return f"header {name} does not match"
        if self.caller is not None:
            why = self.caller.why_not(context)
            if why is not None:
                return why
        if self.schedule is not None and self.schedule.is_open(context.at) != self.schedule_when_open:
            return "schedule closed" if self.schedule_when_open else "schedule open; route wants closed"
        return None
