"""Importing and exporting a project's routes in bulk (see `gateway.bulk`).

Each route is checked like a single save (`routing.validate.check_route`), against the stored routes and the rows
before it in the file. In CSV the nested fields (`target`, `match`, `fallback`, `dispatch`) are JSON text.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Collection, Iterator
from typing import Annotated, Any

import msgspec
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import audit
from gateway.bulk.importing import run_import
from gateway.bulk.reading import Format, Row
from gateway.bulk.report import ImportResult, Refusals
from gateway.db.database import Database
from gateway.db.models import Project
from gateway.db.models import Route as RouteRow
from gateway.db.types import utcnow
from gateway.errors import AppError
from gateway.ids import new_id
from gateway.route_checks import refuse_forbidden_forwards
from gateway.routing_table import agent_names, input_of
from gateway.stored_routes import stored_routes
from routing.model import DispatchOptions, Match, Route, RouteId, Target
from routing.neighbours import RouteNeighbours
from routing.validate import check_route

__all__ = ["ROUTE_COLUMNS", "RouteImportRow", "export_routes", "import_routes"]

SPEC_FIELDS = ("target", "match", "fallback", "dispatch")
ROUTE_COLUMNS = frozenset({"id", "name", "priority", "enabled", *SPEC_FIELDS})
BATCH = 500
EXPORT_PAGE = 1000
WARNINGS_SHOWN = 100


class RouteImportRow(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """One route of an import: the fields of `POST /v1/routes`, and an optional `id` (kept, e.g. from an export)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    target: Target
    priority: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 100
    enabled: bool = True
    match: Match = msgspec.field(default_factory=Match)
    fallback: Target | None = None
    dispatch: DispatchOptions = msgspec.field(default_factory=DispatchOptions)
    id: RouteId | None = None


def _from_csv(fields: dict[str, Any]) -> dict[str, Any]:
    """CSV cells are text: nested fields are JSON, `enabled` true/false, `priority` a whole number."""
    values: dict[str, Any] = dict(fields)
    for name in SPEC_FIELDS:
        if name in values:
            try:
                values[name] = json.loads(values[name])
            except json.JSONDecodeError:
                raise ValueError(
                    f"column {name} is not JSON (write it like the API's {name} object)"
                ) from None
    if "enabled" in values:
        flag = values["enabled"].strip().lower()
        if flag not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError("column enabled must be true or false")
        values["enabled"] = flag in ("true", "1", "yes")
    if "priority" in values:
        if not values["priority"].strip().isdigit():
            raise ValueError("column priority must be a whole number")
        values["priority"] = int(values["priority"])
    return values


class _Importer:
    def __init__(
        self,
        db: AsyncSession,
        project: Project,
        table: RouteNeighbours,
        flows: Collection[str],
        agents: set[str],
        kind: Format,
    ) -> None:
        self.db, self.project, self.table, self.kind = db, project, table, kind
        self.flows, self.agents = frozenset(flows), agents
        self.refusals = Refusals()
        self.warnings: list[str] = []
        self.warning_count = 0
        self.ids: dict[str, int] = {}
        self.pending: list[tuple[int, dict[str, Any]]] = []
        self.imported = 0
        self.now = utcnow()

    def check(self, number: int, fields: dict[str, Any] | str) -> None:
        if isinstance(fields, str):
            self.refusals.add(number, fields)
            return
        try:
            data = msgspec.convert(_from_csv(fields) if self.kind == "csv" else fields, RouteImportRow)
        except (msgspec.ValidationError, ValueError) as exc:
            self.refusals.add(number, str(exc))
            return
        route_id = data.id or new_id("rte")
        first = self.ids.setdefault(route_id, number)
        if first != number:
            self.refusals.add(number, f"id {route_id!r} is also on row {first}: ids must be unique", "id")
            return
        body = msgspec.to_builtins(data)
        spec = {name: body[name] for name in SPEC_FIELDS if body.get(name) is not None}
        try:
            refuse_forbidden_forwards(self.project, spec)
        except AppError as exc:
            self.refusals.add(number, exc.detail, exc.field)
            return
        route = Route(
            id=route_id,
            name=data.name,
            priority=data.priority,
            enabled=data.enabled,
            target=data.target,
            match=data.match,
            fallback=data.fallback,
            dispatch=data.dispatch,
        )
        problems = check_route(route, self.table, self.flows, self.agents)
        errors = [p for p in problems if p.severity == "error"]
        for problem in errors:
            self.refusals.add(number, problem.message, problem.field)
        if errors:
            return
        for problem in problems:
            self.warning_count += 1
            if len(self.warnings) < WARNINGS_SHOWN:
                self.warnings.append(f"row {number}: {problem.message}")
        self.table.put(route)
        row = {
            "id": route_id,
            "project_id": self.project.id,
            "name": data.name,
            "priority": data.priority,
            "enabled": data.enabled,
            "spec": spec,
            "created_at": self.now,
            "updated_at": self.now,
        }
        self.pending.append((number, row))

    async def flush(self) -> None:
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        taken = set(
            await self.db.scalars(select(RouteRow.id).where(RouteRow.id.in_([r["id"] for _, r in pending])))
        )
        for number, row in pending:
            if row["id"] in taken:
                self.refusals.add(number, f"a route with id {row['id']!r} already exists", "id")
        if not self.refusals:
            await self.db.execute(insert(RouteRow), [row for _, row in pending])
            self.imported += len(pending)


async def import_routes(
    db: AsyncSession,
    project: Project,
    actor: audit.Actor,
    rows: Iterator[Row],
    kind: Format,
    flows: Collection[str],
) -> ImportResult:
    """Add every route of `rows` to `project` and commit, or refuse them all (`InvalidInput` listing the refused
    rows) and write nothing. Audited as one `route.import` record with the count."""
    stored = await stored_routes(db).for_save(db, project.id)
    table = RouteNeighbours()
    for route in stored:
        table.add(route)
    importer = _Importer(db, project, table, flows, await agent_names(db, project.id), kind)
    await run_import(db, project, actor, rows, importer, noun="route", kind=kind, batch=BATCH)
    return ImportResult(
        imported=importer.imported, warnings=importer.warnings, warning_count=importer.warning_count
    )


def _exported(row: RouteRow) -> dict[str, Any]:
    return {"id": row.id, **input_of(row)}


async def export_routes(database: Database, project_id: str, kind: Format) -> AsyncIterator[bytes]:
    """The project's routes in id order, in the import's format, a page at a time (no transaction is held while
    the reader takes the bytes)."""
    columns = ["id", "name", "priority", "enabled", *SPEC_FIELDS]
    yield b"[" if kind == "json" else ",".join(columns).encode() + b"\r\n"
    after = ""
    first = True
    while True:
        async with database.session() as db:
            page = (
                await db.scalars(
                    select(RouteRow)
                    .where(RouteRow.project_id == project_id, RouteRow.id > after)
                    .order_by(RouteRow.id)
                    .limit(EXPORT_PAGE)
                )
            ).all()
        if not page:
            break
        after = page[-1].id
        if kind == "json":
            yield (b"" if first else b",") + b",".join(msgspec.json.encode(_exported(row)) for row in page)
        else:
            out = io.StringIO()
            writer = csv.writer(out)
            for row in page:
                body = _exported(row)
                writer.writerow(
                    [
                        *(
                            str(body[name]).lower() if name == "enabled" else body[name]
                            for name in columns[:4]
                        ),
                        *(
                            msgspec.json.encode(body[name]).decode() if name in body else ""
                            for name in SPEC_FIELDS
                        ),
                    ]
                )
            yield out.getvalue().encode()
        first = False
    if kind == "json":
        yield b"]"
