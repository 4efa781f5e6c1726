"""Warnings about a route that only the gateway can see: numbers it does not own, agents without LiveKit.

They never block saving (a route may be set up before its number is added or LiveKit configured); they come back
with the saved route so the admin knows calls will not arrive, or will take the fallback.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import PhoneNumber, Project
from gateway.livekit.clients import credentials_of
from gateway.settings import Settings
from routing.matching import NumberSet
from routing.model import AgentTarget, Route
from routing.numbers import is_canonical_e164

__all__ = ["deployment_warnings"]


async def deployment_warnings(
    db: AsyncSession, project: Project, settings: Settings | None, route: Route
) -> list[str]:
    where = f"route {route.id!r}"
    warnings = []
    owned = set(
        (await db.scalars(select(PhoneNumber.e164).where(PhoneNumber.project_id == project.id))).all()
    )
    for i, pattern in enumerate(route.match.numbers):
        if is_canonical_e164(pattern):
            if pattern not in owned:
                warnings.append(
                    f"{where}: match.numbers[{i}]: {pattern} is not one of this project's numbers, so no call "
                    f"to it arrives here; add it with POST /v1/numbers (list them with GET /v1/numbers)"
                )
        elif not any(NumberSet([pattern], []).contains(number) for number in owned):
            warnings.append(
                f"{where}: match.numbers[{i}]: none of this project's numbers starts with {pattern.rstrip('*')}; "
                "add them with POST /v1/numbers"
            )
    for i, (low, high) in enumerate(route.match.number_ranges):
        if not any(NumberSet([], [(low, high)]).contains(number) for number in owned):
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
