"""Each project's stored routes, kept in memory and indexed by number (`routing.neighbours.RouteNeighbours`), so a
route save compares the route with the routes it can interact with instead of loading and checking the table.

The copy follows the database through the audit log: every route change is audited in its own transaction, so
the records after the copy's sequence number name the routes to read again (a bulk import, audited as one record,
and a long gap read the whole table again). `for_save` first locks the project's audit head row, which every
audited write updates: route saves of one project take turns across replicas, and the copy it returns is the
table as committed, with no audited change in flight. (On SQLite the one connection already serialises writers.)
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import AuditHead, AuditLog
from gateway.db.models import Route as RouteRow
from gateway.routing_table import to_route
from routing.neighbours import RouteNeighbours

__all__ = ["ROUTE_OBJECT", "WHOLE_TABLE_ACTIONS", "StoredRoutes", "stored_routes"]

ROUTE_OBJECT = "route"
"""`object_type` of the audit records of route changes."""
WHOLE_TABLE_ACTIONS = frozenset({"route.import"})
"""Audited route changes that name no single route: the copy reads the whole table again."""
CATCH_UP_LIMIT = 1000
"""More audited route changes than this since the copy was made: read the whole table instead."""
PROJECTS_KEPT = 64


@dataclass
class _Copy:
    seq: int
    table: RouteNeighbours


class StoredRoutes:
    """Copies of projects' route tables for one database, the most recently used `projects_kept` of them."""

    def __init__(self, projects_kept: int = PROJECTS_KEPT) -> None:
        self._copies: OrderedDict[str, _Copy] = OrderedDict()
        self._kept = projects_kept
        self.full_loads = 0
        """How many times a whole table was read (the first save of a project, bulk imports)."""

    async def for_save(self, db: AsyncSession, project_id: str) -> RouteNeighbours:
        """The project's routes as committed, for checking a change about to be written in `db`'s transaction.

        Takes the project's audit head row lock until that transaction ends. Do not change the returned table:
        the change is seen through its audit record on the next call.
        """
        head = await db.scalar(
            select(AuditHead.seq).where(AuditHead.project_id == project_id).with_for_update()
        )
        seq = int(head or 0)
        copy = self._copies.get(project_id)
        if copy is not None and copy.seq < seq and not await self._catch_up(db, project_id, copy, seq):
            copy = None
        if copy is None or copy.seq != seq:
            copy = _Copy(seq, await self._read_all(db, project_id))
            self._copies[project_id] = copy
        self._copies.move_to_end(project_id)
        while len(self._copies) > self._kept:
            self._copies.popitem(last=False)
        return copy.table

    def forget(self, project_id: str) -> None:
        self._copies.pop(project_id, None)

    async def _read_all(self, db: AsyncSession, project_id: str) -> RouteNeighbours:
        self.full_loads += 1
        rows = await db.scalars(select(RouteRow).where(RouteRow.project_id == project_id))
        return RouteNeighbours(to_route(row) for row in rows)

    async def _catch_up(self, db: AsyncSession, project_id: str, copy: _Copy, seq: int) -> bool:
        """Apply the audited route changes after `copy.seq`; False when the whole table must be read instead."""
        changes = (
            await db.execute(
                select(AuditLog.action, AuditLog.object_id)
                .where(
                    AuditLog.project_id == project_id,
                    AuditLog.seq > copy.seq,
                    AuditLog.seq <= seq,
                    AuditLog.object_type == ROUTE_OBJECT,
                )
                .limit(CATCH_UP_LIMIT + 1)
            )
        ).all()
        if len(changes) > CATCH_UP_LIMIT or any(action in WHOLE_TABLE_ACTIONS for action, _ in changes):
            return False
        changed = {object_id for _, object_id in changes}
        if changed:
            rows = await db.scalars(
                select(RouteRow).where(RouteRow.project_id == project_id, RouteRow.id.in_(changed))
            )
            for row in rows:
                copy.table.put(to_route(row))
                changed.discard(row.id)
            for deleted in changed:
                copy.table.remove(deleted)
        copy.seq = seq
        return True


_by_engine: WeakKeyDictionary[Engine, StoredRoutes] = WeakKeyDictionary()


def stored_routes(db: AsyncSession) -> StoredRoutes:
    """The copies kept for `db`'s database (one set per engine, so tests' databases never mix)."""
    engine = db.get_bind()
    assert isinstance(engine, Engine)
    found = _by_engine.get(engine)
    if found is None:
        found = _by_engine[engine] = StoredRoutes()
    return found
