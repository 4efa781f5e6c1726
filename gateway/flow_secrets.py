"""Flow secrets in the database: a project's named values, encrypted at rest, read only to send a request.

Names are public (lint checks them, the API lists them); values are read in one short session right before an
`http` step's request goes out, and never leave that request.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.database import Database
from gateway.db.models import FlowSecret

__all__ = ["all_secret_names", "secret_names", "secret_values"]


async def secret_names(session: AsyncSession, project_id: str) -> frozenset[str]:
    rows = await session.scalars(select(FlowSecret.name).where(FlowSecret.project_id == project_id))
    return frozenset(rows.all())


async def all_secret_names(session: AsyncSession) -> dict[str, frozenset[str]]:
    """Every project's secret names, by project id."""
    found: dict[str, set[str]] = {}
    for project_id, name in (await session.execute(select(FlowSecret.project_id, FlowSecret.name))).all():
        found.setdefault(project_id, set()).add(name)
    return {project_id: frozenset(names) for project_id, names in found.items()}


async def secret_values(database: Database, project_id: str, names: Iterable[str]) -> dict[str, str]:
    """The values of the named secrets the project has (absent names are left out)."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    async with database.session() as session:
        rows = await session.execute(
            select(FlowSecret.name, FlowSecret.value).where(
                FlowSecret.project_id == project_id, FlowSecret.name.in_(wanted)
            )
        )
        values = {name: value for name, value in rows.all()}
        await session.commit()
    return values
