"""`trunkline numbers import|export` and `trunkline routes import|export`: the bulk path on the configured database
(also while the server runs), audited as the `cli` actor."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import IO, Any

from gateway.bulk.reading import Format
from gateway.settings import Settings

__all__ = ["add_bulk_commands"]


def _format(args: argparse.Namespace, path: str | None) -> Format:
    if args.format:
        return "csv" if args.format == "csv" else "json"
    return "json" if path and path.lower().endswith(".json") else "csv"


async def _import(args: argparse.Namespace, settings: Settings, source: IO[bytes]) -> int:
    from sqlalchemy import select

    from gateway import audit
    from gateway.bootstrap import start_up
    from gateway.bulk import numbers, routes
    from gateway.bulk.reading import read_rows
    from gateway.db.database import Database
    from gateway.db.migrate import upgrade
    from gateway.db.models import Project
    from gateway.errors import AppError
    from gateway.ivr import FlowRegistry

    kind = _format(args, args.file)
    database = Database.for_settings(settings)
    try:
        await upgrade(database.engine)
        async with database.session() as db:
            await start_up(db, settings)
            project = await db.scalar(select(Project).where(Project.slug == args.project))
            if project is None:
                print(f"no project with slug {args.project!r}", file=sys.stderr)
                return 2
            actor = audit.Actor("cli")
            try:
                if args.what == "numbers":
                    result = await numbers.import_numbers(
                        db, project, actor, read_rows(source, kind, numbers.NUMBER_COLUMNS), kind
                    )
                else:
                    registry = FlowRegistry(Path(settings.flows_dir))
                    registry.load_all()
                    flows = [flow.id for flow in registry.all()]
                    rows = read_rows(source, kind, routes.ROUTE_COLUMNS)
                    result = await routes.import_routes(db, project, actor, rows, kind, flows)
            except AppError as exc:
                print(exc.detail, file=sys.stderr)
                for refused in exc.extra.get("refused", []):
                    field = f" {refused['field']}:" if refused.get("field") else ""
                    print(f"row {refused['row']}:{field} {refused['reason']}", file=sys.stderr)
                return 1
    finally:
        await database.dispose()
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"imported {result.imported} {args.what} into project {args.project}")
    return 0


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    if args.file == "-":
        return asyncio.run(_import(args, settings, sys.stdin.buffer))
    with open(args.file, "rb") as source:
        return asyncio.run(_import(args, settings, source))


async def _export(args: argparse.Namespace, settings: Settings, out: IO[bytes]) -> int:
    from sqlalchemy import select

    from gateway.bulk import numbers, routes
    from gateway.db.database import Database
    from gateway.db.models import Project

    kind = _format(args, args.output)
    database = Database.for_settings(settings)
    try:
        async with database.session() as db:
            project_id = await db.scalar(select(Project.id).where(Project.slug == args.project))
        if project_id is None:
            print(f"no project with slug {args.project!r}", file=sys.stderr)
            return 2
        export = numbers.export_numbers if args.what == "numbers" else routes.export_routes
        async for chunk in export(database, project_id, kind):
            out.write(chunk)
    finally:
        await database.dispose()
    return 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    if args.output in (None, "-"):
        return asyncio.run(_export(args, settings, sys.stdout.buffer))
    with open(args.output, "wb") as out:
        return asyncio.run(_export(args, settings, out))


def add_bulk_commands(commands: Any, what: str) -> None:
    """`import` and `export` under `commands` (the sub-parsers of `trunkline numbers` or `trunkline routes`)."""
    columns = (
        "number, trunk_id, label, region"
        if what == "numbers"
        else "id, name, priority, enabled, target, match, fallback, dispatch (the last four as JSON)"
    )
    importer = commands.add_parser(
        "import",
        help=f"import {what} from a CSV or JSON file, all or nothing",
        description=f"Add every {what[:-1]} of FILE to the project, or none: refused rows are listed with their "
        f"row number and reason. CSV has a header row; columns: {columns}. JSON is an array of objects.",
    )
    importer.add_argument("file", help="a .csv or .json file, or - for standard input")
    importer.add_argument("--project", default="default", help="project slug")
    importer.add_argument("--format", choices=["csv", "json"], help="default: from the file name, else csv")
    importer.set_defaults(func=cmd_import, what=what)
    exporter = commands.add_parser("export", help=f"write the project's {what} as CSV or JSON")
    exporter.add_argument("--project", default="default", help="project slug")
    exporter.add_argument("--format", choices=["csv", "json"], help="default: from --output's name, else csv")
    exporter.add_argument("-o", "--output", default=None, help="file to write (default: standard output)")
    exporter.set_defaults(func=cmd_export, what=what)
