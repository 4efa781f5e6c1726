"""Routes: where calls go. The stored shape is `routing.model.Route`; the engine lives in `routing/`.

Saving a route validates it (unknown flows or agents, schedules that never open, rules that can never win) against
the routes it can interact with, found through the project's stored routes indexed by number
(`gateway.stored_routes`): errors refuse the change, warnings come back with the saved route. The cost of a save
does not grow with the table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.crud import Page, commit_audited, merge_patch, page, scoped, to_builtins
from gateway.admin.route_warnings import deployment_warnings
from gateway.auth.principal import Principal
from gateway.db.models import Project
from gateway.db.models import Route as RouteRow
from gateway.db.types import utcnow
from gateway.errors import InvalidInput
from gateway.ids import new_id
from gateway.route_checks import refuse_forbidden_forwards
from gateway.routing_table import agent_names, compiled_rules, input_of, load_table, to_route
from gateway.services import services
from gateway.stored_routes import stored_routes
from gateway.web.deps import Caller, Db
from gateway.web.examples import json_example
from routing.compile import CompiledRules
from routing.model import Decision, DispatchOptions, Match, RejectTarget, RouteQuery, Target
from routing.resolve import explain
from routing.validate import check_route, shadowed_by

SHADOWED_SHOWN = 10
"""Ids listed in the warning about the routes a saved route shadows."""


class RouteIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    target: Target
    priority: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 100
    """Lower runs first; ties are broken by route id."""
    enabled: bool = True
    match: Match = msgspec.field(default_factory=Match)
    fallback: Target | None = None
    dispatch: DispatchOptions = msgspec.field(default_factory=DispatchOptions)


class RouteOut(RouteIn, kw_only=True):
    id: str
    created_at: datetime
    updated_at: datetime
    warnings: list[str] = msgspec.field(default_factory=list)
    """Problems that do not block saving (e.g. a route that can never win)."""


class ResolveIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    to: Annotated[str, msgspec.Meta(min_length=1, examples=["+14155550100"])]
    """The dialled number (E.164, national, or a SIP user part)."""
    from_: str = msgspec.field(name="from", default="")
    """The caller's number; empty or "anonymous" for a withheld caller."""
    trunk_id: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    at: datetime | None = None
    """When the call happens (with a time zone); now when omitted."""
    unavailable: list[str] = msgspec.field(default_factory=list)
    """Pretend these are down, e.g. ["livekit", "agent:sales"], to see the fallbacks."""


SPEC_FIELDS = ("target", "match", "fallback", "dispatch")


def spec_of(data: RouteIn) -> dict[str, Any]:
    body: dict[str, Any] = to_builtins(data)
    return {k: body[k] for k in SPEC_FIELDS if body.get(k) is not None}


def render(row: RouteRow, warnings: list[str] | None = None) -> RouteOut:
    body = {
        **input_of(row),
        "id": row.id,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
        "warnings": warnings or [],
    }
    return msgspec.convert(body, RouteOut)


def apply(row: RouteRow, data: RouteIn) -> None:
    row.name, row.priority, row.enabled, row.spec = data.name, data.priority, data.enabled, spec_of(data)


def known_flows(state: State, project_id: str) -> set[str]:
    """The project's own flows: a route may only send calls to those."""
    library = services(state).flows
    return {flow.id for flow in library.registry(project_id).all()} if library is not None else set()


def shadow_warning(route_id: str, shadowed: list[str], rejects: bool) -> list[str]:
    if not shadowed:
        return []
    shown = ", ".join(repr(other) for other in shadowed[:SHADOWED_SHOWN])
    more = f" and {len(shadowed) - SHADOWED_SHOWN} more" if len(shadowed) > SHADOWED_SHOWN else ""
    effect = (
        "they can never win"
        if rejects
        else "they only run when this route's target and fallback are unavailable"
    )
    return [
        f"route {route_id!r}: match: shadows {len(shadowed)} route(s) evaluated after it ({shown}{more}), "
        f"which match no call this route does not: {effect}; narrow this route's match or raise its priority "
        "number"
    ]


async def _checked(db: AsyncSession, state: State, principal: Principal, row: RouteRow) -> list[str]:
    """Check `row` against the stored routes it can interact with: refuse errors about it, return its warnings.

    The project's route saves take turns from here until the commit (`StoredRoutes.for_save`)."""
    project = await db.get(Project, principal.project_id)
    assert project is not None
    refuse_forbidden_forwards(project, row.spec)
    table = await stored_routes(db).for_save(db, project.id)
    route = to_route(row)
    mine = check_route(route, table, known_flows(state, project.id), await agent_names(db, project.id))
    errors = [p for p in mine if p.severity == "error"]
    if errors:
        raise InvalidInput(
            "; ".join(f"{p.field}: {p.message}" for p in errors),
            field=errors[0].field,
            extra={"problems": [msgspec.to_builtins(p) for p in errors]},
        )
    settings = services(state).settings
    rejects = isinstance(route.target, RejectTarget) or isinstance(route.fallback, RejectTarget)
    return (
        [p.message for p in mine]
        + shadow_warning(route.id, shadowed_by(route, table), rejects)
        + await deployment_warnings(db, project, settings, route)
    )


class RouteController(Controller):
    path = "/routes"
    tags = ["routes"]

    @get(operation_id="listRoutes", summary="List routes")
    async def list_routes(
        self,
        db: Db,
        principal: Caller,
        limit: FromQuery[int] = 50,
        after: FromQuery[str | None] = None,
        enabled: FromQuery[bool | None] = None,
    ) -> Page[RouteOut]:
        stmt = select(RouteRow).where(RouteRow.project_id == principal.project_id)
        if enabled is not None:
            stmt = stmt.where(RouteRow.enabled == enabled)
        return await page(db, stmt, RouteRow, limit, after, render)

    @post(
        operation_id="createRoute", summary="Create a route (checked against the routes it can interact with)"
    )
    async def create_route(
        self,
        db: Db,
        principal: Caller,
        state: State,
        data: Annotated[
            RouteIn,
            json_example(
                "Business hours to an agent",
                {
                    "name": "sales hours",
                    "priority": 10,
                    "target": {"type": "agent", "agent": "sales"},
                    "fallback": {"type": "voicemail"},
                    "match": {
                        "numbers": ["+14155550100"],
                        "schedule": {
                            "schedule": {
                                "timezone": "America/New_York",
                                "weekly": [
                                    {
                                        "days": ["mon", "tue", "wed", "thu", "fri"],
                                        "open": "09:00",
                                        "close": "17:00",
                                    }
                                ],
                            }
                        },
                    },
                },
            ),
        ],
    ) -> RouteOut:
        now = utcnow()
        row = RouteRow(id=new_id("rte"), project_id=principal.project_id, created_at=now, updated_at=now)
        apply(row, data)
        warnings = await _checked(db, state, principal, row)
        db.add(row)
        await commit_audited(
            db,
            principal,
            action="route.create",
            object_type="route",
            object_id=row.id,
            before=None,
            after=input_of(row),
        )
        return render(row, warnings)

    @post(
        "/resolve",
        operation_id="resolveRoute",
        status_code=200,
        summary="Dry run: where would this call go, and why",
    )
    async def resolve_route(
        self,
        db: Db,
        principal: Caller,
        data: Annotated[
            ResolveIn,
            json_example(
                "A Monday morning call",
                {"to": "+14155550100", "from": "+442079460018", "at": "2026-11-23T14:00:00Z"},
            ),
        ],
    ) -> Decision:
        project = await db.get(Project, principal.project_id)
        assert project is not None
        at = data.at or utcnow()
        if at.tzinfo is None:
            raise InvalidInput("`at` needs a time zone, e.g. 2026-03-29T00:30:00Z.", field="at")
        call = RouteQuery(to=data.to, from_=data.from_, trunk=data.trunk_id, headers=data.headers, at=at)
        return explain(await load_table(db, project), call, unavailable=frozenset(data.unavailable))

    @get(
        "/compiled",
        operation_id="compiledDispatchRules",
        summary="The LiveKit dispatch rules these routes compile to, and which routes need call-time routing",
    )
    async def compiled(self, db: Db, principal: Caller) -> CompiledRules:
        project = await db.get(Project, principal.project_id)
        assert project is not None
        return await compiled_rules(db, project)

    @get("/{route_id:str}", operation_id="getRoute", summary="Get a route")
    async def get_route(self, db: Db, principal: Caller, route_id: FromPath[str]) -> RouteOut:
        return render(await scoped(db, RouteRow, route_id, principal))

    @patch("/{route_id:str}", operation_id="updateRoute", summary="Change a route (JSON merge-patch)")
    async def update_route(
        self,
        db: Db,
        principal: Caller,
        state: State,
        route_id: FromPath[str],
        data: Annotated[dict[str, Any], json_example("Disable", {"enabled": False})],
    ) -> RouteOut:
        row = await scoped(db, RouteRow, route_id, principal)
        before = input_of(row)
        apply(row, merge_patch(before, data, RouteIn))
        warnings = await _checked(db, state, principal, row)
        await commit_audited(
            db,
            principal,
            action="route.update",
            object_type="route",
            object_id=row.id,
            before=before,
            after=input_of(row),
        )
        return render(row, warnings)

    @delete("/{route_id:str}", operation_id="deleteRoute", summary="Delete a route")
    async def delete_route(self, db: Db, principal: Caller, route_id: FromPath[str]) -> None:
        row = await scoped(db, RouteRow, route_id, principal)
        before = input_of(row)
        await db.delete(row)
        await commit_audited(
            db,
            principal,
            action="route.delete",
            object_type="route",
            object_id=route_id,
            before=before,
            after=None,
        )
