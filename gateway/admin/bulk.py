"""Bulk import and export of numbers and routes: CSV (a header row) or a JSON array, all-or-nothing per request.

The upload is spooled to a capped temporary file (TRUNKLINE_IMPORT_MAX_BODY, not the API's 1 MiB body limit) before
the import's transaction starts; exports stream page by page. The work is in `gateway.bulk`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.openapi.spec import OpenAPIMediaType, OpenAPIType, Operation, RequestBody, Schema
from litestar.params import FromQuery
from litestar.response import Stream

from gateway.admin.routes import known_flows
from gateway.bulk import numbers as bulk_numbers
from gateway.bulk import routes as bulk_routes
from gateway.bulk.reading import Format, format_of, read_rows, refuse_declared_size, spool
from gateway.bulk.report import ImportResult
from gateway.db.models import Project
from gateway.errors import InvalidInput
from gateway.services import services
from gateway.web.deps import Caller, Db

MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
IMPORT_HELP = (
    "Send the file as the body with Content-Type text/csv (a header row naming the columns, then one row per "
    "line) or application/json (an array of objects). All rows are written or none: a refused file answers 422 "
    "with `refused`, every refused row's number (1 = the first data row) and reason."
)


def _import_body(csv_example: str, json_example: list[dict[str, Any]]) -> RequestBody:
    return RequestBody(
        required=True,
        description="The file itself (not a multipart form).",
        content={
            "text/csv": OpenAPIMediaType(schema=Schema(type=OpenAPIType.STRING), example=csv_example),
            "application/json": OpenAPIMediaType(
                schema=Schema(type=OpenAPIType.ARRAY, items=Schema(type=OpenAPIType.OBJECT)),
                example=json_example,
            ),
        },
    )


@dataclass
class _NumbersImport(Operation):
    def __post_init__(self) -> None:
        self.request_body = _import_body(
            "number,trunk_id,label\n+14155550100,,sales\n+14155550101,,support\n",
            [{"number": "+14155550100", "label": "sales"}, {"number": "+14155550101"}],
        )


@dataclass
class _RoutesImport(Operation):
    def __post_init__(self) -> None:
        self.request_body = _import_body(
            'name,priority,target,match\nsales,10,"{""type"": ""voicemail""}","{""numbers"": [""+14155550100""]}"\n',
            [
                {
                    "name": "sales",
                    "priority": 10,
                    "target": {"type": "voicemail"},
                    "match": {"numbers": ["+14155550100"]},
                }
            ],
        )


def _export_format(format: str) -> Format:
    if format not in MEDIA_TYPES:
        raise InvalidInput(f"format must be csv or json, got {format!r}.", field="format")
    return "csv" if format == "csv" else "json"


async def _project(db: Db, principal: Caller) -> Project:
    project = await db.get(Project, principal.project_id)
    assert project is not None
    await db.commit()  # a read: no transaction stays open while the upload arrives
    return project


async def _upload(request: Request[Any, Any, Any], state: State) -> Any:
    limit = services(state).settings.import_max_body
    refuse_declared_size(request.headers.get("content-length"), limit)
    kind = format_of(request.headers.get("content-type"))
    return kind, await spool(request.stream(), limit)


class NumberBulkController(Controller):
    path = "/numbers"
    tags = ["numbers"]

    @post(
        "/import",
        operation_id="importNumbers",
        status_code=200,
        summary="Import numbers from CSV or JSON (all or nothing)",
        description=IMPORT_HELP + " CSV columns: number, trunk_id, label, region.",
        request_max_body_size=None,
        operation_class=_NumbersImport,
    )
    async def import_numbers(
        self, request: Request[Any, Any, Any], db: Db, principal: Caller, state: State
    ) -> ImportResult:
        kind, file = await _upload(request, state)
        with file:
            project = await _project(db, principal)
            rows = read_rows(file, kind, bulk_numbers.NUMBER_COLUMNS)
            return await bulk_numbers.import_numbers(db, project, principal.actor(), rows, kind)

    @get("/export", operation_id="exportNumbers", summary="Export the project's numbers as CSV or JSON")
    async def export_numbers(self, principal: Caller, state: State, format: FromQuery[str] = "csv") -> Stream:
        kind = _export_format(format)
        body = bulk_numbers.export_numbers(services(state).database, principal.project_id, kind)
        return Stream(body, media_type=MEDIA_TYPES[kind])


class RouteBulkController(Controller):
    path = "/routes"
    tags = ["routes"]

    @post(
        "/import",
        operation_id="importRoutes",
        status_code=200,
        summary="Import routes from CSV or JSON (all or nothing, each checked like a single save)",
        description=IMPORT_HELP
        + " CSV columns: id (optional), name, priority, enabled, and target, match, fallback, dispatch as JSON.",
        request_max_body_size=None,
        operation_class=_RoutesImport,
    )
    async def import_routes(
        self, request: Request[Any, Any, Any], db: Db, principal: Caller, state: State
    ) -> ImportResult:
        kind, file = await _upload(request, state)
        with file:
            project = await _project(db, principal)
            rows = read_rows(file, kind, bulk_routes.ROUTE_COLUMNS)
            return await bulk_routes.import_routes(
                db, project, principal.actor(), rows, kind, known_flows(state, project.id)
            )

    @get("/export", operation_id="exportRoutes", summary="Export the project's routes as CSV or JSON")
    async def export_routes(self, principal: Caller, state: State, format: FromQuery[str] = "csv") -> Stream:
        kind = _export_format(format)
        body = bulk_routes.export_routes(services(state).database, principal.project_id, kind)
        return Stream(body, media_type=MEDIA_TYPES[kind])
