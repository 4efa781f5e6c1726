"""The stored shape of a project's routes, and the call/decision types of the routing engine.

Everything here is a msgspec Struct that round-trips through JSON unchanged: the admin API stores `Route`
and `ProjectRouting` as JSON and calls `routing` with them. Unknown fields are refused, targets are a tagged
union on ``"type"``, and every constraint that can be checked without outside knowledge is checked on decode,
so a bad document fails with a JSON path (see `route_from_json`).

Conventions
- Numbers are E.164 strings (``+442079460000``). A number pattern is an exact E.164 number or an E.164 prefix
  ending in ``*`` (``+4420*``). A range is ``[from, to]``, inclusive, both E.164 of the same length.
- ``priority``: lower runs first (1 before 10); ties are broken by route id.
- An empty list in a match means "any": a `Match()` with nothing set matches every call.
- Times of day are ``"HH:MM"`` (``"24:00"`` allowed as a closing time); an opening whose close is earlier
  than its open runs overnight and belongs to the day it opens on.
"""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeAlias, TypeVar

import msgspec

__all__ = [
    "SIP_REJECT_STATUS",
    "AgentTarget",
    "CallerMatch",
    "Decision",
    "DispatchOptions",
    "FlowTarget",
    "ForwardTarget",
    "Match",
    "OpeningHours",
    "ProjectRouting",
    "RejectTarget",
    "Route",
    "RouteDecodeError",
    "RouteQuery",
    "Schedule",
    "ScheduleException",
    "ScheduleMatch",
    "Target",
    "TraceEntry",
    "VoicemailTarget",
    "Weekday",
    "decode_error_path",
    "route_from_json",
    "routing_from_json",
    "target_label",
    "to_json",
]

E164_PATTERN = r"^\+[1-9][0-9]{1,14}$"
NUMBER_PATTERN_PATTERN = r"^\+[1-9][0-9]{0,14}\*?$"
HHMM_PATTERN = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"

E164: TypeAlias = Annotated[
    str, msgspec.Meta(pattern=E164_PATTERN, description="E.164 number, e.g. +442079460000")
]
NumberPattern: TypeAlias = Annotated[
    str,
    msgspec.Meta(
        pattern=NUMBER_PATTERN_PATTERN,
        description="Exact E.164 number (+442079460000) or E.164 prefix ending in * (+4420*)",
    ),
]
HHMM: TypeAlias = Annotated[str, msgspec.Meta(pattern=HHMM_PATTERN, description="Time of day, HH:MM (24h)")]
RouteId: TypeAlias = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Region: TypeAlias = Annotated[
    str, msgspec.Meta(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2 region")
]
Weekday: TypeAlias = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
RejectReason: TypeAlias = Literal["busy", "unavailable", "declined"]

SIP_REJECT_STATUS: dict[str, int] = {"busy": 486, "unavailable": 480, "declined": 603}
"""SIP status code for each reject reason (486 Busy Here, 480 Temporarily Unavailable, 603 Decline)."""

_SIP_URI = re.compile(r"^sips?:[^\s@]+@[^\s@]+$|^sips?:[^\s@]+$")


# --- targets ------------------------------------------------------------------------------------------------


class FlowTarget(
    msgspec.Struct,
    forbid_unknown_fields=True,
    frozen=True,
    kw_only=True,
    omit_defaults=True,
    tag="flow",
    tag_field="type",
):
    """Run an IVR flow (a file in ivr_flows/, by id); `variables` start the flow's variables of the same name
    (over the flow's own starting values), e.g. ``{"campaign": "spring"}`` for ``{{ campaign }}``."""

    flow: Annotated[str, msgspec.Meta(min_length=1)]
    variables: dict[
        Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)],
        Annotated[str, msgspec.Meta(max_length=1000)],
    ] = msgspec.field(default_factory=dict)


class AgentTarget(
    msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True, tag="agent", tag_field="type"
):
    """Bridge to a voice agent; `overrides` is deep-merged over the agent's stored config at call start."""

    agent: Annotated[str, msgspec.Meta(min_length=1)]
    overrides: dict[str, Any] = msgspec.field(default_factory=dict)


class ForwardTarget(
    msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True, tag="forward", tag_field="type"
):
    """Forward to a phone number or a SIP URI (exactly one of the two)."""

    number: E164 | None = None
    sip_uri: str | None = None

    def __post_init__(self) -> None:
        if (self.number is None) == (self.sip_uri is None):
            raise ValueError("a forward target needs exactly one of `number` or `sip_uri`")
        if self.sip_uri is not None and not _SIP_URI.match(self.sip_uri):
            raise ValueError("`sip_uri` must look like sip:user@host")


class VoicemailTarget(
    msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True, tag="voicemail", tag_field="type"
):
    """Record a voicemail into `box` (the project's default box when None)."""

    box: str | None = None


class RejectTarget(
    msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True, tag="reject", tag_field="type"
):
    """Refuse the call with a SIP-style reason (see `SIP_REJECT_STATUS`)."""

    reason: RejectReason

    @property
    def sip_status(self) -> int:
        return SIP_REJECT_STATUS[self.reason]


Target: TypeAlias = FlowTarget | AgentTarget | ForwardTarget | VoicemailTarget | RejectTarget


def target_label(target: Target) -> str:
    """Short, log-safe label of a target: ``agent:sales``, ``flow:main``, ``forward:sip``, ``reject:busy``."""
    match target:
        case FlowTarget(flow=flow):
            return f"flow:{flow}"
        case AgentTarget(agent=agent):
            return f"agent:{agent}"
        case ForwardTarget(number=number):
            return "forward:number" if number is not None else "forward:sip"
        case VoicemailTarget(box=box):
            return f"voicemail:{box or 'default'}"
        case RejectTarget(reason=reason):
            return f"reject:{reason}"


# --- schedules ----------------------------------------------------------------------------------------------


class OpeningHours(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Open from `open` to `close` on each of `days` (close < open runs past midnight)."""

    days: Annotated[list[Weekday], msgspec.Meta(min_length=1)]
    open: HHMM
    close: HHMM

    def __post_init__(self) -> None:
        if self.open == self.close:
            raise ValueError(f"opening hours {self.open}-{self.close} are empty (open equals close)")


class ScheduleException(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """A dated override: either `closed: true`, or special hours `open`-`close` replacing that day's hours."""

    date: date
    open: HHMM | None = None
    close: HHMM | None = None
    closed: bool = False

    def __post_init__(self) -> None:
        has_hours = self.open is not None or self.close is not None
        if self.closed and has_hours:
            raise ValueError("an exception is either `closed` or has `open`/`close`, not both")
        if not self.closed and (self.open is None or self.close is None):
            raise ValueError("an exception needs `closed: true` or both `open` and `close`")
        if self.open is not None and self.open == self.close:
            raise ValueError(f"exception hours {self.open}-{self.close} are empty (open equals close)")


class Schedule(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Weekly opening hours in an IANA time zone, with holidays (closed all day) and dated exceptions.

    Precedence for a day: an exception for that date, else closed on a holiday, else the weekly hours.
    """

    timezone: str
    weekly: list[OpeningHours] = msgspec.field(default_factory=list)
    holidays: list[date] = msgspec.field(default_factory=list)
    exceptions: list[ScheduleException] = msgspec.field(default_factory=list)

    def __post_init__(self) -> None:
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            hint = "use an IANA name like Europe/London"
            raise ValueError(f"unknown time zone {self.timezone!r} ({hint})") from exc


class ScheduleMatch(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Match while the schedule is `open` (or while it is `closed`)."""

    schedule: Schedule
    when: Literal["open", "closed"] = "open"


# --- matching -----------------------------------------------------------------------------------------------


class CallerMatch(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Conditions on the caller.

    `deny` always excludes. If any of `prefixes`, `countries`, `allow` is set, the caller must satisfy at
    least one of them. `withheld`: "any" lets a withheld caller through only when no positive condition is
    set; "only" matches withheld callers alone; "exclude" never matches them.
    """

    prefixes: list[NumberPattern] = msgspec.field(default_factory=list)
    countries: list[Region] = msgspec.field(default_factory=list)
    allow: list[NumberPattern] = msgspec.field(default_factory=list)
    deny: list[NumberPattern] = msgspec.field(default_factory=list)
    withheld: Literal["any", "only", "exclude"] = "any"


class Match(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """All set conditions must hold (AND); within a list any entry may hold (OR)."""

    numbers: list[NumberPattern] = msgspec.field(default_factory=list)
    number_ranges: list[tuple[E164, E164]] = msgspec.field(default_factory=list)
    caller: CallerMatch | None = None
    trunks: list[str] = msgspec.field(default_factory=list)
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    """SIP header name (case-insensitive) -> exact value or glob (``*``, ``?``, ``[...]``)."""
    schedule: ScheduleMatch | None = None

    def __post_init__(self) -> None:
        for low, high in self.number_ranges:
            if len(low) != len(high):
                raise ValueError(f"number range {low}..{high}: both ends must have the same number of digits")
            if low > high:
                raise ValueError(f"number range {low}..{high}: start is after end")


class DispatchOptions(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """How LiveKit places the caller in a room when this route compiles to a dispatch rule."""

    kind: Literal["individual", "callee", "direct"] = "individual"
    room_prefix: str = "call-"
    room_name: str = ""
    """Room for kind "direct"."""
    pin: str = ""
    randomize: bool = True
    """For kind "callee": a new room per call (True) or one room per dialled number (False)."""
    hide_phone_number: bool = False

    def __post_init__(self) -> None:
        if self.kind == "direct" and not self.room_name:
            raise ValueError('dispatch kind "direct" needs `room_name`')


class Route(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    id: RouteId
    target: Target
    name: str = ""
    priority: int = 100
    enabled: bool = True
    match: Match = msgspec.field(default_factory=Match)
    fallback: Target | None = None
    """Used when `target` is unavailable (agent missing, LiveKit down, ...)."""
    dispatch: DispatchOptions = msgspec.field(default_factory=DispatchOptions)


class ProjectRouting(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """One project's routing table."""

    project_id: str
    default_region: Region = "US"
    """Region for dialled numbers not in international format, unless the trunk has its own."""
    trunk_regions: dict[str, Region] = msgspec.field(default_factory=dict)
    default_target: Target | None = None
    """Where calls go when no route matches (or the matched routes are unavailable)."""
    routes: list[Route] = msgspec.field(default_factory=list)


# --- calls and decisions ------------------------------------------------------------------------------------


class RouteQuery(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """An incoming call as routing sees it. `to`/`from_` are raw (E.164, national, SIP user part...)."""

    to: str
    at: datetime
    from_: str = msgspec.field(name="from", default="")
    trunk: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.at.tzinfo is None or self.at.utcoffset() is None:
            raise ValueError("`at` must be timezone-aware")


TraceOutcome: TypeAlias = Literal["matched", "skipped", "lost", "disabled", "unavailable"]


class TraceEntry(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """What happened to one considered route.

    matched: chosen. skipped: a condition did not hold. lost: not evaluated because a route ahead of it won.
    disabled: turned off. unavailable: matched, but neither its target nor its fallback was available.
    """

    route_id: str
    outcome: TraceOutcome
    why: str
    route_name: str = ""
    """The route's name, when it has one (traces are read by people)."""


class Decision(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """The routing answer: always a target, with the route that chose it (None for default / no match)."""

    target: Target
    route_id: str | None
    reason: str
    used_fallback: bool = False
    route_name: str | None = None
    """The chosen route's name (None without a route; empty when it has none)."""
    trace: tuple[TraceEntry, ...] = ()
    """Every route considered, in evaluation order. Decisions may be shared between calls: never mutate."""


# --- JSON helpers -------------------------------------------------------------------------------------------


class RouteDecodeError(ValueError):
    """A routing document is malformed; `path` is a JSON path such as ``$.match.numbers[0]``."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{message} (at {path})")
        self.path = path
        self.message = message


_T = TypeVar("_T")
_AT_PATH = re.compile(r"^(?P<message>.*?) - at `(?P<path>[^`]*)`$", re.DOTALL)


def decode_error_path(error: msgspec.DecodeError | msgspec.ValidationError) -> RouteDecodeError:
    found = _AT_PATH.match(str(error))
    if found is None:
        return RouteDecodeError("$", str(error))
    return RouteDecodeError(found["path"], found["message"])


def _decode(data: bytes | str | dict[str, Any], kind: type[_T]) -> _T:
    try:
        if isinstance(data, dict):
            return msgspec.convert(data, kind)
        return msgspec.json.decode(data, type=kind)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise decode_error_path(exc) from None


def route_from_json(data: bytes | str | dict[str, Any]) -> Route:
    """Decode one route from JSON text or a parsed dict; raises `RouteDecodeError` with a JSON path."""
    return _decode(data, Route)


def routing_from_json(data: bytes | str | dict[str, Any]) -> ProjectRouting:
    """Decode a whole project routing table; raises `RouteDecodeError` with a JSON path."""
    return _decode(data, ProjectRouting)


def to_json(value: msgspec.Struct) -> bytes:
    return msgspec.json.encode(value)
