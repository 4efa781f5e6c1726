"""Liveness and readiness.

Ready means the gateway can serve calls: the database answers and the flows load. Other checks (LiveKit) are
reported in the body and make the gateway `degraded`, not unready: Twilio and IVR calls still work through the
routes' fallbacks while LiveKit is away, so a load balancer must not take the replica out of rotation.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State
from sqlalchemy import text

from gateway.services import Services, services

CRITICAL_CHECKS = frozenset({"database", "flows"})
"""Checks whose failure means calls cannot be served (503); any other failing check only degrades."""


class Check(msgspec.Struct):
    name: str
    ok: bool
    critical: bool
    """A failure of a critical check makes the gateway not ready; other failures degrade it."""
    detail: str


class Readiness(msgspec.Struct):
    ready: bool
    status: Literal["ready", "degraded", "not_ready"]
    degraded: list[str]
    """Names of the non-critical checks that fail (their calls take the routes' fallbacks)."""
    checks: list[Check]


def aggregate(results: list[Check]) -> Readiness:
    ready = all(c.ok for c in results if c.critical)
    degraded = [c.name for c in results if not c.ok and not c.critical]
    status: Literal["ready", "degraded", "not_ready"] = (
        "not_ready" if not ready else "degraded" if degraded else "ready"
    )
    return Readiness(ready=ready, status=status, degraded=degraded, checks=results)


async def database_check(running: Services) -> tuple[bool, str]:
    try:
        async with running.database.session() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; the reason is reported
        return False, f"database unreachable: {type(exc).__name__}"
    return True, "database answers"


class HealthController(Controller):
    path = "/health"
    tags = ["health"]

    @get("/live", operation_id="live", summary="The process is up")
    async def live(self) -> dict[str, str]:
        return {"status": "live"}

    @get("/ready", operation_id="ready", summary="The gateway can serve calls")
    async def ready(self, state: State) -> Response[Readiness]:
        running = services(state)
        checks = [database_check, *running.readiness_checks]
        results = []
        for check in checks:
            ok, detail = await check(running)
            name = check.__name__.removesuffix("_check")
            results.append(Check(name=name, ok=ok, critical=name in CRITICAL_CHECKS, detail=detail))
        readiness = aggregate(results)
        return Response(readiness, status_code=200 if readiness.ready else 503)
