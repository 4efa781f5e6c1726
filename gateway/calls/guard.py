"""Outbound toll-fraud guard and per-project call rate limit. Pure, apart from the limiter's clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

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


@dataclass
class RateLimiter:
    """A token bucket per project: `rate` calls per second with a burst of max(1, rate)."""

    clock: Callable[[], float] = time.monotonic
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)

    def take(self, project_id: str, rate: float) -> None:
        now = self.clock()
        burst = max(1.0, rate)
        tokens, last = self._buckets.get(project_id, (burst, now))
        tokens = min(burst, tokens + (now - last) * rate)
        if tokens < 1.0:
            wait = (1.0 - tokens) / rate
            self._buckets[project_id] = (tokens, now)
            raise RateLimited(
                f"This project may place {rate:g} calls per second; retry in {wait:.2f} s.",
                extra={"retry_after": round(wait, 3)},
            )
        self._buckets[project_id] = (tokens - 1.0, now)
