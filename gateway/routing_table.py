"""The bridge from stored routes to the pure routing engine: build a project's `ProjectRouting` from the DB,
and compile it into the LiveKit dispatch rules (`compiled_dispatch`: one function for the sync and the API)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Agent, PhoneNumber, Project, Trunk
from gateway.db.models import Route as RouteRow
from routing.compile import CompiledRules, compile_dispatch
from routing.dispatch import ROUTER_AGENT
from routing.model import ProjectRouting, Route, Target
from routing.validate import Problem, validate


def input_of(row: RouteRow) -> dict[str, Any]:
    """A stored route in its API input shape."""
    return {"name": row.name, "priority": row.priority, "enabled": row.enabled, **row.spec}


def to_route(row: RouteRow) -> Route:
    """The engine's view of a stored route."""
    return _route(row.id, row.name, row.priority, row.enabled, row.spec)


def _route(route_id: str, name: str, priority: int, enabled: bool, spec: dict[str, Any]) -> Route:
    return msgspec.convert(
        {"name": name, "priority": priority, "enabled": enabled, **spec, "id": route_id}, Route
    )


RouteColumns = tuple[str, str, int, bool, dict[str, Any]]
"""A stored route as read: id, name, priority, enabled, spec."""


@dataclass(frozen=True, slots=True)
class StoredTable:
    """A project's routing table as read by `read_table`; `build()` makes the engine's `ProjectRouting` from it
    (pure: a caller with a large table can do that off the event loop)."""

    project_id: str
    default_region: str
    trunk_regions: dict[str, str]
    default_target: dict[str, Any] | None
    routes: list[RouteColumns]
    replaced: Route | None = None

    @property
    def empty(self) -> bool:
        """No routes and no default target: nothing to route or compile."""
        return not self.routes and self.replaced is None and self.default_target is None

    def build(self) -> ProjectRouting:
        routes = [_route(*columns) for columns in self.routes]
        if self.replaced is not None:
            routes.append(self.replaced)
        return ProjectRouting(
            project_id=self.project_id,
            default_region=self.default_region,
            trunk_regions=self.trunk_regions,
            default_target=msgspec.convert(self.default_target, Target) if self.default_target else None,
            routes=routes,
        )


async def read_table(
    db: AsyncSession, project: Project, *, replace: RouteRow | None = None, drop: str | None = None
) -> StoredTable:
    """The project's routing table as stored; `replace` stands in for (or adds) one route not yet saved."""
    left_out = {replace.id if replace is not None else None, drop}
    rows = await db.execute(  # columns, not ORM objects: a large table loads several times faster
        select(RouteRow.id, RouteRow.name, RouteRow.priority, RouteRow.enabled, RouteRow.spec).where(
            RouteRow.project_id == project.id
        )
    )
    routes: list[RouteColumns] = [
        (row.id, row.name, row.priority, row.enabled, row.spec) for row in rows if row.id not in left_out
    ]
    trunks = (await db.execute(select(Trunk.id, Trunk.config).where(Trunk.project_id == project.id))).all()
    return StoredTable(
        project_id=project.id,
        default_region=project.default_region,
        trunk_regions={t.id: t.config["default_region"] for t in trunks if t.config.get("default_region")},
        default_target=project.settings.get("routing_default"),
        routes=routes,
        replaced=to_route(replace) if replace is not None else None,
    )


async def load_table(
    db: AsyncSession, project: Project, *, replace: RouteRow | None = None, drop: str | None = None
) -> ProjectRouting:
    """The project's routing table as stored, for the routing engine (see `read_table`)."""
    return (await read_table(db, project, replace=replace, drop=drop)).build()


async def agent_names(db: AsyncSession, project_id: str) -> set[str]:
    names = await db.scalars(
        select(Agent.name).where(Agent.project_id == project_id, Agent.deleted_at.is_(None))
    )
    return set(names.all())


async def check_table(db: AsyncSession, table: ProjectRouting, known_flows: Collection[str]) -> list[Problem]:
    return validate(table, known_flows, await agent_names(db, table.project_id))


def trunk_numbers(config: Mapping[str, Any], bound: Sequence[str]) -> list[str]:
    """A trunk's numbers: those in its config plus the phone numbers bound to it, once each, sorted."""
    return sorted({*config.get("numbers", []), *bound})


async def bound_numbers(db: AsyncSession, project_id: str) -> dict[str, list[str]]:
    """Trunk id -> the project's phone numbers bound to it through `/v1/numbers`."""
    bound: dict[str, list[str]] = {}
    rows = await db.execute(
        select(PhoneNumber.trunk_id, PhoneNumber.e164).where(
            PhoneNumber.project_id == project_id, PhoneNumber.trunk_id.is_not(None)
        )
    )
    for trunk_id, e164 in rows:
        if trunk_id is not None:
            bound.setdefault(trunk_id, []).append(e164)
    return bound


def compiled_dispatch(
    table: ProjectRouting,
    trunks: Iterable[Trunk],
    bound: Mapping[str, Sequence[str]],
    livekit_id: Callable[[Trunk], str | None],
) -> CompiledRules:
    """The dispatch rules the LiveKit sync creates for `table`: one per inbound trunk's numbers (its config's
    plus those bound to it), keyed by `livekit_id(trunk)`; trunks for which it gives None are left out."""
    numbers: dict[str, list[str]] = {}
    for trunk in trunks:
        key = livekit_id(trunk) if trunk.direction == "inbound" else None
        if key is not None:
            numbers[key] = trunk_numbers(trunk.config, bound.get(trunk.id, []))
    return compile_dispatch(table, numbers, router_agent=ROUTER_AGENT)


async def compiled_rules(db: AsyncSession, project: Project) -> CompiledRules:
    """What `compiled_dispatch` gives for the project as stored; trunks not yet in LiveKit show their own id."""
    trunks = (await db.scalars(select(Trunk).where(Trunk.project_id == project.id))).all()
    return compiled_dispatch(
        await load_table(db, project),
        trunks,
        await bound_numbers(db, project.id),
        lambda trunk: trunk.livekit_trunk_id or trunk.id,
    )
