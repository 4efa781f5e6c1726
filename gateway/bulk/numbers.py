"""Importing and exporting a project's phone numbers in bulk (see `gateway.bulk`)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

import msgspec
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import audit
from gateway.bulk.importing import run_import
from gateway.bulk.reading import Format, Row
from gateway.bulk.report import ImportResult, Refusals
from gateway.calls.phone import to_e164
from gateway.db.database import Database
from gateway.db.models import PhoneNumber, Project, Trunk
from gateway.db.types import utcnow
from gateway.errors import InvalidInput
from gateway.ids import new_id

__all__ = ["NUMBER_COLUMNS", "NumberRow", "export_numbers", "import_numbers"]

NUMBER_COLUMNS = frozenset({"number", "trunk_id", "label", "region"})
BATCH = 1000
"""Rows checked against the database and inserted per statement."""
EXPORT_PAGE = 2000


class NumberRow(msgspec.Struct, forbid_unknown_fields=True):
    """One number of an import: the fields of `POST /v1/numbers`."""

    number: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    trunk_id: str | None = None
    label: Annotated[str, msgspec.Meta(max_length=200)] = ""
    region: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] | None = None


class _Importer:
    def __init__(self, db: AsyncSession, project: Project, trunks: set[str]) -> None:
        self.db = db
        self.project = project
        self.trunks = trunks
        self.refusals = Refusals()
        self.first_row: dict[int, int] = {}
        """Each number seen so far (as the int of its digits, to stay small) -> its row."""
        self.pending: list[tuple[int, dict[str, Any]]] = []
        self.imported = 0
        self.now = utcnow()

    def check(self, number: int, fields: dict[str, Any] | str) -> None:
        if isinstance(fields, str):
            self.refusals.add(number, fields)
            return
        try:
            data = msgspec.convert(fields, NumberRow)
        except msgspec.ValidationError as exc:
            self.refusals.add(number, str(exc))
            return
        region = data.region or self.project.default_region
        try:
            parsed = to_e164(data.number, region, "number")
        except InvalidInput as exc:
            self.refusals.add(number, exc.detail, "number")
            return
        if data.trunk_id is not None and data.trunk_id not in self.trunks:
            reason = f"trunk_id {data.trunk_id!r} is not a trunk of this project (list them: GET /v1/trunks)"
            self.refusals.add(number, reason, "trunk_id")
            return
        key = int(parsed.e164[1:])
        first = self.first_row.setdefault(key, number)
        if first != number:
            self.refusals.add(
                number, f"{parsed.e164} is also on row {first}: list each number once", "number"
            )
            return
        row = {
            "id": new_id("num"),
            "project_id": self.project.id,
            "e164": parsed.e164,
            "trunk_id": data.trunk_id,
            "label": data.label,
            "region": parsed.region or data.region or self.project.default_region,
            "created_at": self.now,
            "updated_at": self.now,
        }
        self.pending.append((number, row))

    async def flush(self) -> None:
        """Refuse the pending numbers already registered; insert the others unless a row was refused."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        found = await self.db.execute(
            select(PhoneNumber.e164, PhoneNumber.project_id).where(
                PhoneNumber.e164.in_([row["e164"] for _, row in pending])
            )
        )
        taken = {e164: owner for e164, owner in found}
        for number, row in pending:
            owner = taken.get(row["e164"])
            if owner == self.project.id:
                self.refusals.add(number, f"{row['e164']} is already one of this project's numbers", "number")
            elif owner is not None:
                reason = f"{row['e164']} is registered to another project (numbers are unique system-wide)"
                self.refusals.add(number, reason, "number")
        if not self.refusals:
            await self.db.execute(insert(PhoneNumber), [row for _, row in pending])
            self.imported += len(pending)


async def import_numbers(
    db: AsyncSession, project: Project, actor: audit.Actor, rows: Iterator[Row], kind: Format
) -> ImportResult:
    """Add every number of `rows` to `project` and commit, or refuse them all (`InvalidInput` listing the refused
    rows) and write nothing. Audited as one `number.import` record with the count."""
    trunks = set(await db.scalars(select(Trunk.id).where(Trunk.project_id == project.id)))
    importer = _Importer(db, project, trunks)
    await run_import(db, project, actor, rows, importer, noun="number", kind=kind, batch=BATCH)
    return ImportResult(imported=importer.imported)


def _csv_line(values: list[str]) -> bytes:
    out = io.StringIO()
    csv.writer(out).writerow(values)
    return out.getvalue().encode()


async def export_numbers(database: Database, project_id: str, kind: Format) -> AsyncIterator[bytes]:
    """The project's numbers in id order, in the import's format, read a page at a time (no transaction is held
    while the reader takes the bytes)."""
    yield _csv_line(["number", "trunk_id", "label", "region"]) if kind == "csv" else b"["
    after = ""
    first = True
    while True:
        async with database.session() as db:
            page = (
                await db.execute(
                    select(
                        PhoneNumber.id,
                        PhoneNumber.e164,
                        PhoneNumber.trunk_id,
                        PhoneNumber.label,
                        PhoneNumber.region,
                    )
                    .where(PhoneNumber.project_id == project_id, PhoneNumber.id > after)
                    .order_by(PhoneNumber.id)
                    .limit(EXPORT_PAGE)
                )
            ).all()
        if not page:
            break
        after = page[-1].id
        if kind == "csv":
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerows([n.e164, n.trunk_id or "", n.label, n.region] for n in page)
            yield out.getvalue().encode()
        else:
            items = [
                msgspec.json.encode(
                    {"number": n.e164, "trunk_id": n.trunk_id, "label": n.label, "region": n.region}
                )
                for n in page
            ]
            yield (b"" if first else b",") + b",".join(items)
        first = False
    if kind == "json":
        yield b"]"
