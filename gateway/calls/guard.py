"""Outbound toll-fraud guard (`DestinationPolicy`, for every way a call leaves) and the per-project call rate
limit. Pure, apart from the limiter's clock."""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

import msgspec
import phonenumbers

from gateway.errors import Forbidden, RateLimited

HIGH_COST_TYPES = {
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "premium-rate",
    phonenumbers.PhoneNumberType.SHARED_COST: "shared-cost",
}
SATELLITE_AND_NETWORK_CODES = {870, 881, 882, 883}
"""Inmarsat, global satellite and international network codes: expensive and a classic fraud target."""


def check_destination(
    e164: str, *, allowed_countries: list[str], default_region: str, allow_high_cost: bool
) -> str:
    """The destination's region when the project may call it; raises Forbidden saying why not."""
    parsed = phonenumbers.parse(e164, None)
    region = phonenumbers.region_code_for_number(parsed) or "001"
    allowed = set(allowed_countries) or {default_region}
    if not allow_high_cost:
        if parsed.country_code in SATELLITE_AND_NETWORK_CODES:
            raise Forbidden(
                f"Calls to +{parsed.country_code} (satellite / international networks) are refused as "
                "high-cost. Set outbound.allow_high_cost on the project to allow them.",
                field="to",
            )
        kind = HIGH_COST_TYPES.get(phonenumbers.number_type(parsed))
        if kind is not None:
            raise Forbidden(
                f"The destination is a {kind} number, refused as high-cost. Set "
                "outbound.allow_high_cost on the project to allow it.",
                field="to",
            )
    if region not in allowed:
        raise Forbidden(
            f"Calls to {region} are not allowed for this project (allowed: {', '.join(sorted(allowed))})."
            " Add it to outbound.allowed_destination_countries.",
            field="to",
        )
    return region


class OutboundLimits(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """What a platform admin lets a tenant project allow itself (`settings["limits"]`); the default project, the
    platform's own, has none. A tenant's own `outbound` policy never reaches past them."""

    allow_high_cost: bool = False
    max_calls_per_second: Annotated[float, msgspec.Meta(gt=0, le=100)] = 5.0
    allowed_destination_countries: list[Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]] | None = None
    """Regions the tenant may allow at most; None: any."""


def limits_of(settings: Mapping[str, Any], *, capped: bool) -> OutboundLimits | None:
    """A project's caps: those stored, else the defaults for a tenant (`capped`); None for the platform's own."""
    stored = settings.get("limits")
    if stored is not None:
        return msgspec.convert(stored, OutboundLimits)
    return OutboundLimits() if capped else None


def limit_violations(outbound: Mapping[str, Any], limits: OutboundLimits) -> list[str]:
    """What in a tenant's `outbound` policy reaches past its platform limits (empty: nothing)."""
    problems = []
    if outbound.get("allow_high_cost") and not limits.allow_high_cost:
        problems.append("outbound.allow_high_cost: high-cost destinations are not allowed for this project")
    rate = float(outbound.get("calls_per_second", 1.0))
    if rate > limits.max_calls_per_second:
        problems.append(
            f"outbound.calls_per_second: at most {limits.max_calls_per_second:g} for this project"
        )
    if limits.allowed_destination_countries is not None:
        extra = sorted(
            set(outbound.get("allowed_destination_countries", [])) - set(limits.allowed_destination_countries)
        )
        if extra:
            problems.append(
                f"outbound.allowed_destination_countries: {', '.join(extra)} not allowed for this project"
            )
    return problems


NOWHERE = "ZZ"
"""A region no number is in: a list of allowed regions holding only it allows none."""


def effective_outbound(settings: Mapping[str, Any], default_region: str, *, capped: bool) -> dict[str, Any]:
    """The `outbound` policy in force: the project's own, within its platform limits (limits lowered after the
    project set its policy still apply)."""
    outbound = dict(settings.get("outbound", {}))
    limits = limits_of(settings, capped=capped)
    if limits is None:
        return outbound
    if not limits.allow_high_cost:
        outbound["allow_high_cost"] = False
    outbound["calls_per_second"] = min(
        float(outbound.get("calls_per_second", 1.0)), limits.max_calls_per_second
    )
    if limits.allowed_destination_countries is not None:
        allowed = set(limits.allowed_destination_countries)
        own = outbound.get("allowed_destination_countries") or [default_region]
        outbound["allowed_destination_countries"] = [c for c in own if c in allowed] or [NOWHERE]
    return outbound


class DestinationRefused(Forbidden):
    title = "Destination refused"


class DestinationPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """Where a project's calls may go: the one toll-fraud guard every way out of the platform passes through
    (outbound calls, route and fallback forwards, flow transfers, live transfers, agents' transfer tools)."""

    default_region: str
    allowed_countries: tuple[str, ...] = ()
    """Regions numbers may be in; empty: only `default_region`."""
    allow_high_cost: bool = False
    allowed_sip_hosts: tuple[str, ...] = ()
    """Hosts SIP URIs may point at: exact names or addresses, or `*.example.com` for its subdomains. Empty: no
    SIP URI leaves the platform."""

    @classmethod
    def for_project(
        cls, settings: Mapping[str, Any], default_region: str, *, capped: bool
    ) -> DestinationPolicy:
        """The policy in force for a project (its own within its platform limits)."""
        return cls.of(effective_outbound(settings, default_region, capped=capped), default_region)

    @classmethod
    def of(cls, outbound: Mapping[str, Any], default_region: str) -> DestinationPolicy:
        """The policy from a project's `settings["outbound"]`."""
        return cls(
            default_region=default_region,
            allowed_countries=tuple(outbound.get("allowed_destination_countries", ())),
            allow_high_cost=bool(outbound.get("allow_high_cost")),
            allowed_sip_hosts=tuple(h.lower() for h in outbound.get("allowed_sip_hosts", ())),
        )

    def check(self, destination: str, *, field: str = "to") -> str:
        """`destination` (E.164, `tel:` or a SIP URI) when calls may go there; `DestinationRefused` saying why."""
        if destination.startswith(("sip:", "sips:")):
            return self._check_sip(destination, field)
        number = destination.removeprefix("tel:")
        refusal = _refusal(number, self.allowed_countries, self.default_region, self.allow_high_cost)
        if refusal is not None:
            raise DestinationRefused(refusal.format(field=field), field=field)
        return number

    def _check_sip(self, uri: str, field: str) -> str:
        _, _, rest = uri.partition(":")
        user, at, host_part = rest.rpartition("@")
        host = host_part.split(";", 1)[0].split("?", 1)[0]
        host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        host = host.strip("[]").lower()
        if not at or not host:
            raise DestinationRefused(f"{field}: a SIP URI looks like sip:user@host.", field=field)
        if not any(_host_matches(host, allowed) for allowed in self.allowed_sip_hosts):
            raise DestinationRefused(
                f"{field}: SIP host {host!r} is not allowed for this project. Add it to "
                "outbound.allowed_sip_hosts (PATCH /v1/projects/{id}) if calls may go there.",
                field=field,
            )
        digits = user.split(";", 1)[0]
        if _NUMBER_USER.match(digits):
            self.check(digits if digits.startswith("+") else f"+{digits}", field=field)
        return uri


@functools.lru_cache(maxsize=4096)
def _refusal(
    number: str, allowed_countries: tuple[str, ...], default_region: str, allow_high_cost: bool
) -> str | None:
    """Why calls may not go to `number` (`{field}` left to fill in); None when they may. Pure, so remembered: the
    same route forwards are checked on every call, and parsing a number costs more than the rest of the check."""
    try:
        check_destination(
            number,
            allowed_countries=list(allowed_countries),
            default_region=default_region,
            allow_high_cost=allow_high_cost,
        )
    except Forbidden as refused:
        return refused.detail.replace("{", "{{").replace("}", "}}")
    except phonenumbers.NumberParseException:
        return "{field}: not a phone number in E.164 form."
    return None


_NUMBER_USER = re.compile(r"^\+?[1-9][0-9]{6,14}$")


def _host_matches(host: str, allowed: str) -> bool:
    if allowed.startswith("*."):
        return host.endswith(allowed[1:]) and host != allowed[2:]
    return host == allowed


Hit = Callable[[str, int], Awaitable[int]]
"""Count one for a key in a counting window (the window's start, unix seconds); the count so far. In memory on
SQLite, in the database on PostgreSQL so that every replica counts the same calls (`gateway.web.rate_limit`)."""


class CallRateLimit:
    """Calls a project may place per second, over every replica: fixed windows of one second (of 1/rate seconds
    when the rate is below one), each allowing max(1, rate) calls."""

    def __init__(self, hit: Hit, *, clock: Callable[[], float] = time.time) -> None:
        self._hit = hit
        self._clock = clock

    async def take(self, project_id: str, rate: float) -> None:
        now = self._clock()
        span = max(1.0, 1.0 / rate)
        allowed = max(1, int(rate * span + 1e-9))
        index = int(now // span)
        minute = int(now // 60) * 60  # the counter forgets keys by the minute
        hits = await self._hit(f"calls:{project_id}:{span:g}:{index}", minute)
        if hits > allowed:
            wait = (index + 1) * span - now
            raise RateLimited(
                f"This project may place {rate:g} calls per second; retry in {wait:.2f} s.",
                extra={"retry_after": round(wait, 3)},
            )
