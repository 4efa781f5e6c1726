"""Routes: where calls go. The stored shape is `routing.model.Route`; the engine lives in `routing/`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy import select

from gateway.admin.crud import Page, commit_audited, merge_patch, page, scoped, to_builtins
from gateway.db.models import Route as RouteRow
from gateway.ids import new_id
from gateway.web.deps import Caller, Db
from routing.model import DispatchOptions, Match, Route, Target


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


SPEC_FIELDS = ("target", "match", "fallback", "dispatch")


def spec_of(data: RouteIn) -> dict[str, Any]:
    body: dict[str, Any] = to_builtins(data)
    return {k: body[k] for k in SPEC_FIELDS if body.get(k) is not None}


def input_of(row: RouteRow) -> dict[str, Any]:
    return {"name": row.name, "priority": row.priority, "enabled": row.enabled, **row.spec}


def render(row: RouteRow) -> RouteOut:
    return msgspec.convert(
        {**input_of(row), "id": row.id, "created_at": row.created_at, "updated_at": row.updated_at}, RouteOut
    )


def to_route(row: RouteRow) -> Route:
    """The engine's view of a stored route."""
    return msgspec.convert({**input_of(row), "id": row.id}, Route)


def apply(row: RouteRow, data: RouteIn) -> None:
    row.name, row.priority, row.enabled, row.spec = data.name, data.priority, data.enabled, spec_of(data)


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

    @post(operation_id="createRoute", summary="Create a route")
    async def create_route(self, db: Db, principal: Caller, data: JSONBody[RouteIn]) -> RouteOut:
        row = RouteRow(id=new_id("rte"), project_id=principal.project_id)
        apply(row, data)
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
        return render(row)

    @get("/{route_id:str}", operation_id="getRoute", summary="Get a route")
    async def get_route(self, db: Db, principal: Caller, route_id: FromPath[str]) -> RouteOut:
        return render(await scoped(db, RouteRow, route_id, principal))

    @patch("/{route_id:str}", operation_id="updateRoute", summary="Change a route (JSON merge-patch)")
    async def update_route(
        self, db: Db, principal: Caller, route_id: FromPath[str], data: JSONBody[dict[str, Any]]
    ) -> RouteOut:
        row = await scoped(db, RouteRow, route_id, principal)
        before = input_of(row)
        apply(row, merge_patch(before, data, RouteIn))
        await commit_audited(
            db,
            principal,
            action="route.update",
            object_type="route",
            object_id=row.id,
            before=before,
            after=input_of(row),
        )
        return render(row)

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
