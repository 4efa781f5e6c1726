"""Warnings about a route that only the gateway can see: numbers it does not own, agents without LiveKit.

They never block saving (a route may be set up before its number is added or LiveKit configured); they come back
with the saved route so the admin knows calls will not arrive, or will take the fallback. Each number, prefix and
range is looked up through the numbers' unique index, so the cost does not grow with the project's numbers.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import PhoneNumber, Project
from gateway.livekit.clients import credentials_of
from gateway.settings import Settings
from routing.model import AgentTarget, Route
from routing.numbers import is_canonical_e164


def _next_prefix(prefix: str) -> str | None:
    """The smallest E.164-like string above every string starting with `prefix` (None: no upper bound).

    Only "+" and digits are compared, so the order is the same under any database collation."""
    digits = prefix.rstrip("9")
    return None if len(digits) <= 1 else digits[:-1] + chr(ord(digits[-1]) + 1)


async def _any_number(db: AsyncSession, project_id: str, *conditions: ColumnElement[bool]) -> bool:
    found = await db.scalar(
        select(PhoneNumber.id).where(PhoneNumber.project_id == project_id, *conditions).limit(1)
    )
    return found is not None


async def _owns_prefix(db: AsyncSession, project_id: str, prefix: str) -> bool:
    upper = _next_prefix(prefix)
    conditions = [PhoneNumber.e164 >= prefix]
    if upper is not None:
        conditions.append(PhoneNumber.e164 < upper)
    return await _any_number(db, project_id, *conditions)


async def _owns_in_range(db: AsyncSession, project_id: str, low: str, high: str) -> bool:
    return await _any_number(
        db, project_id, PhoneNumber.e164.between(low, high), func.length(PhoneNumber.e164) == len(low)
    )


__all__ = ["deployment_warnings"]


async def deployment_warnings(
    db: AsyncSession, project: Project, settings: Settings | None, route: Route
) -> list[str]:
    where = f"route {route.id!r}"
    warnings = []
    exact = [pattern for pattern in route.match.numbers if not pattern.endswith("*")]
    owned: set[str] = set()
    for start in range(0, len(exact), 500):
        batch = exact[start : start + 500]
        owned.update(
            await db.scalars(
                select(PhoneNumber.e164).where(
                    PhoneNumber.project_id == project.id, PhoneNumber.e164.in_(batch)
                )
            )
        )
    for i, pattern in enumerate(route.match.numbers):
        if is_canonical_e164(pattern):
            if pattern not in owned:
                warnings.append(
                    f"{where}: match.numbers[{i}]: {pattern} is not one of this project's numbers, so no call "
                    f"to it arrives here; add it with POST /v1/numbers (list them with GET /v1/numbers)"
                )
        elif pattern not in owned and (
            not pattern.endswith("*") or not await _owns_prefix(db, project.id, pattern.rstrip("*"))
        ):
            warnings.append(
                f"{where}: match.numbers[{i}]: none of this project's numbers starts with {pattern.rstrip('*')}; "
                "add them with POST /v1/numbers"
            )
    for i, (low, high) in enumerate(route.match.number_ranges):
        if not await _owns_in_range(db, project.id, low, high):
            warnings.append(
                f"{where}: match.number_ranges[{i}]: none of this project's numbers is in {low}..{high}; add "
                "them with POST /v1/numbers"
            )
    agents = [
        (field, target)
        for field, target in (("target", route.target), ("fallback", route.fallback))
        if isinstance(target, AgentTarget)
    ]
    if agents and credentials_of(project, settings) is None:
        field, target = agents[0]
        warnings.append(
            f"{where}: {field}.agent: LiveKit is not configured for this project, so calls cannot reach agent "
            f"{target.agent!r} and take the route's fallback; set LIVEKIT_URL, LIVEKIT_API_KEY and "
            "LIVEKIT_API_SECRET (default project) or PATCH /v1/projects/{id} with the LiveKit credentials"
        )
    return warnings
