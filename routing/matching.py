"""Routes prepared for evaluation: each `Route` becomes a `CompiledRoute` whose conditions are cheap to test.

`CompiledRoute.why_not(context)` is the single definition of "does this route match this call": it returns
None when every condition holds, else a short, log-safe reason (no phone numbers or header values in it).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from fnmatch import translate

from routing.model import (
    AgentTarget,
    Call,
    CallerMatch,
    FlowTarget,
    ForwardTarget,
    RejectTarget,
    Route,
    Target,
    VoicemailTarget,
)
from routing.numbers import InvalidNumber, caller_region, is_canonical_e164, is_withheld, normalize
from routing.schedule import CompiledSchedule

__all__ = ["CallContext", "CompiledCaller", "CompiledRoute", "NumberSet", "requirements"]

LIVEKIT = "livekit"


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
    """Exact numbers, prefixes and inclusive ranges of E.164 strings; empty means "any number"."""

    __slots__ = ("exact", "matches_any", "prefixes", "ranges")

    def __init__(self, patterns: list[str], ranges: list[tuple[str, str]]) -> None:
        self.exact = frozenset(p for p in patterns if not p.endswith("*"))
        self.prefixes = tuple(sorted({p[:-1] for p in patterns if p.endswith("*")}))
        self.ranges = tuple(ranges)
        self.matches_any = not patterns and not ranges

    def contains(self, e164: str) -> bool:
        if self.matches_any or e164 in self.exact:
            return True
        if any(e164.startswith(prefix) for prefix in self.prefixes):
            return True
        return any(len(low) == len(e164) and low <= e164 <= high for low, high in self.ranges)


class CallContext:
    """One call's facts, normalised once and lazily (the caller is parsed only if a route asks about it)."""

    __slots__ = ("_caller", "_caller_done", "_headers", "call", "region", "to_e164", "to_invalid")

    def __init__(self, call: Call, region: str, to_e164: str | None = None) -> None:
        self.call = call
        self.region = region
        self.to_invalid: str | None = None
        if to_e164 is None:
            to_e164, self.to_invalid = _dialled_number(call.to, region)
        self.to_e164 = to_e164
        self._caller: str | None = None
        self._caller_done = False
        self._headers: dict[str, str] | None = None

    @property
    def at(self) -> datetime:
        return self.call.at

    @property
    def caller_withheld(self) -> bool:
        return is_withheld(self.call.from_)

    @property
    def caller_e164(self) -> str | None:
        """The caller in E.164, or None when withheld or not a valid number."""
        if not self._caller_done:
            self._caller_done = True
            raw = self.call.from_
            if is_canonical_e164(raw):
                self._caller = raw
            elif not is_withheld(raw):
                try:
                    self._caller = normalize(raw, self.region).e164
                except InvalidNumber:
                    self._caller = None
        return self._caller

    @property
    def headers(self) -> dict[str, str]:
        if self._headers is None:
            self._headers = {name.lower(): value for name, value in self.call.headers.items()}
        return self._headers


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

    def why_not(self, context: CallContext) -> str | None:
        if context.caller_withheld:
            if self.withheld == "exclude":
                return "caller withheld and route excludes withheld callers"
            if self.withheld == "any" and self.has_positive:
                return "caller withheld; route needs a caller prefix, country or allow-list entry"
            return None
        if self.withheld == "only":
            return "caller not withheld; route only takes withheld callers"
        number = context.caller_e164
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


class CompiledRoute:
    """A route with its conditions prepared; `sort_key` is (priority, id, position in the table)."""

    __slots__ = (
        "caller",
        "enabled",
        "fallback",
        "fallback_needs",
        "headers",
        "id",
        "matched_why",
        "numbers",
        "priority",
        "route",
        "schedule",
        "schedule_when_open",
        "sort_key",
        "target",
        "target_needs",
        "trunks",
        "unconditional",
    )

    def __init__(self, route: Route, position: int) -> None:
        match = route.match
        self.route = route
        self.id = route.id
        self.priority = route.priority
        self.sort_key = (route.priority, route.id, position)
        self.enabled = route.enabled
        self.target = route.target
        self.fallback = route.fallback
        self.target_needs = requirements(route.target)
        self.fallback_needs = requirements(route.fallback) if route.fallback is not None else frozenset()
        self.numbers = NumberSet(match.numbers, list(match.number_ranges))
        self.trunks = frozenset(match.trunks) if match.trunks else None
        self.caller = CompiledCaller(match.caller) if match.caller is not None else None
        self.headers = tuple(_header_check(name, pattern) for name, pattern in sorted(match.headers.items()))
        self.schedule = CompiledSchedule(match.schedule.schedule) if match.schedule is not None else None
        self.schedule_when_open = match.schedule is None or match.schedule.when == "open"
        self.unconditional = (
            self.trunks is None and self.caller is None and not self.headers and self.schedule is None
        )
        self.matched_why = "conditions held: " + ", ".join(self.condition_kinds() or ["no conditions"])

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

    def why_not(self, context: CallContext) -> str | None:
        """None when every condition holds for the call, else why the route does not match."""
        if not self.numbers.matches_any:
            if context.to_e164 is None:
                return f"dialled number invalid ({context.to_invalid})"
            if not self.numbers.contains(context.to_e164):
                return "dialled number not in route's numbers or ranges"
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
