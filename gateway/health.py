"""Liveness and readiness. Ready means the database answers (and LiveKit / flows once configured)."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get
from litestar.datastructures import State
from sqlalchemy import text

from gateway.services import Services, services


class Check(msgspec.Struct):
    name: str
    ok: bool
    detail: str


class Readiness(msgspec.Struct):
    ready: bool
    checks: list[Check]


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
            results.append(Check(name=check.__name__.removesuffix("_check"), ok=ok, detail=detail))
        ready = all(c.ok for c in results)
        return Response(Readiness(ready=ready, checks=results), status_code=200 if ready else 503)
