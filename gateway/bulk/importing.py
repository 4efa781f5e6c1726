"""The one import loop numbers and routes share: check every row, insert in batches, then audit and commit as one
change, or roll everything back."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from gateway import audit
from gateway.bulk.reading import Format, Row
from gateway.bulk.report import Refusals
from gateway.db.models import Project
from gateway.db.types import utcnow
from gateway.ids import new_id


class RowImporter(Protocol):
    refusals: Refusals
    pending: list[Any]
    imported: int

    def check(self, number: int, fields: dict[str, Any] | str) -> None: ...

    async def flush(self) -> None: ...


async def run_import(
    db: AsyncSession,
    project: Project,
    actor: audit.Actor,
    rows: Iterator[Row],
    importer: RowImporter,
    *,
    noun: str,
    kind: Format,
    batch: int,
) -> None:
    """Every row through `importer`, then one `<noun>.import` audit record and the commit; on any refusal or error
    nothing is written (`InvalidInput` lists the refused rows). Rows are inserted `batch` at a time."""
    total = 0
    try:
        for number, fields in rows:
            total = number
            importer.check(number, fields)
            if len(importer.pending) >= batch:
                await importer.flush()
                await asyncio.sleep(0)  # checking rows is CPU work: let other requests run between batches
        await importer.flush()
        importer.refusals.raise_if_any(total, noun)
    except BaseException:
        await db.rollback()
        raise
    project.updated_at = (
        utcnow()
    )  # watchers of committed changes (LiveKit sync, carrier caches) see the project
    await audit.append(
        db,
        project_id=project.id,
        actor=actor,
        action=f"{noun}.import",
        object_type=noun,
        object_id=new_id("imp"),
        after={"count": importer.imported, "format": kind},
    )
    await db.commit()
