"""The bridge from stored routes to the pure routing engine: build a project's `ProjectRouting` from the DB."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Agent, Project, Trunk
from gateway.db.models import Route as RouteRow
from routing.model import ProjectRouting, Route, Target
from routing.validate import Problem, validate


def input_of(row: RouteRow) -> dict[str, Any]:
    """A stored route in its API input shape."""
    return {"name": row.name, "priority": row.priority, "enabled": row.enabled, **row.spec}


def to_route(row: RouteRow) -> Route:
    """The engine's view of a stored route."""
    return msgspec.convert({**input_of(row), "id": row.id}, Route)


async def load_table(
    db: AsyncSession, project: Project, *, replace: RouteRow | None = None, drop: str | None = None
) -> ProjectRouting:
    """The project's routing table as stored; `replace` stands in for (or adds) one route not yet saved."""
    rows = list((await db.scalars(select(RouteRow).where(RouteRow.project_id == project.id))).all())
    if replace is not None:
        rows = [r for r in rows if r.id != replace.id] + [replace]
    if drop is not None:
        rows = [r for r in rows if r.id != drop]
    trunks = (await db.execute(select(Trunk.id, Trunk.config).where(Trunk.project_id == project.id))).all()
    default = project.settings.get("routing_default")
    return ProjectRouting(
        project_id=project.id,
        default_region=project.default_region,
        trunk_regions={t.id: t.config["default_region"] for t in trunks if t.config.get("default_region")},
        default_target=msgspec.convert(default, Target) if default else None,
        routes=[to_route(r) for r in rows],
    )


async def agent_names(db: AsyncSession, project_id: str) -> set[str]:
    names = await db.scalars(
        select(Agent.name).where(Agent.project_id == project_id, Agent.deleted_at.is_(None))
    )
    return set(names.all())


async def check_table(db: AsyncSession, table: ProjectRouting, known_flows: Collection[str]) -> list[Problem]:
    return validate(table, known_flows, await agent_names(db, table.project_id))
