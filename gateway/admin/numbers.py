"""Phone numbers (DIDs): normalised to E.164, unique across the whole system, bound to a trunk."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, FromQuery
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.crud import Page, commit_audited, merge_patch, page, scoped
from gateway.auth.principal import Principal
from gateway.calls.phone import to_e164
from gateway.db.models import PhoneNumber, Project, Trunk
from gateway.errors import Conflict, InvalidInput
from gateway.ids import new_id
from gateway.web.deps import Caller, Db
from gateway.web.examples import json_example


class NumberIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    number: Annotated[str, msgspec.Meta(min_length=1, max_length=64, examples=["+14155550100"])]
    """E.164 (+14155550100) or national format for `region` (the project's default region when unset)."""
    trunk_id: str | None = None
    label: Annotated[str, msgspec.Meta(max_length=200)] = ""
    region: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")] | None = None


class NumberOut(msgspec.Struct):
    id: str
    number: str
    region: str
    trunk_id: str | None
    label: str
    created_at: datetime
    updated_at: datetime
    warnings: list[str] = msgspec.field(default_factory=list)
    """On a create or change: how the input was read when it was not in E.164 (e.g. a national number)."""


def render(n: PhoneNumber, warnings: list[str] | None = None) -> NumberOut:
    return NumberOut(
        id=n.id,
        number=n.e164,
        region=n.region,
        trunk_id=n.trunk_id,
        label=n.label,
        created_at=n.created_at,
        updated_at=n.updated_at,
        warnings=warnings or [],
    )


def snapshot(n: PhoneNumber) -> dict[str, Any]:
    return {"number": n.e164, "trunk_id": n.trunk_id, "label": n.label, "region": n.region}


async def _apply(db: AsyncSession, principal: Principal, n: PhoneNumber, data: NumberIn) -> list[str]:
    """Validate `data` into `n`; returns warnings about how the input was read."""
    project = await db.get(Project, principal.project_id)
    assumed = data.region or (project.default_region if project else None)
    parsed = to_e164(data.number, assumed, "number")
    if data.trunk_id is not None:
        trunk = await db.get(Trunk, data.trunk_id)
        if trunk is None or trunk.project_id != principal.project_id:
            raise InvalidInput(
                f"trunk_id {data.trunk_id!r} is not a trunk of this project; list trunks with "
                f"GET /v1/trunks.",
                field="trunk_id",
            )
    taken = await db.scalar(
        select(PhoneNumber.id).where(PhoneNumber.e164 == parsed.e164, PhoneNumber.id != n.id)
    )
    if taken is not None:
        raise Conflict(
            "That number is already registered (numbers are unique across the system). Remove it "
            "there first.",
            field="number",
        )
    n.e164, n.trunk_id, n.label = parsed.e164, data.trunk_id, data.label
    n.region = parsed.region or data.region or (project.default_region if project else "US")
    return _national_warning(data, parsed.e164, assumed)


def _national_warning(data: NumberIn, e164: str, assumed: str | None) -> list[str]:
    if data.number.strip().startswith("+") or data.number.strip() == e164:
        return []
    source = "the request's `region`" if data.region else "the project's default_region"
    return [
        f"number {data.number.strip()!r} was read as a national number of {assumed} ({source}) and stored "
        f"as {e164}; send E.164 (+ and the country code) to say which country you mean."
    ]


class NumberController(Controller):
    path = "/numbers"
    tags = ["numbers"]

    @get(operation_id="listNumbers", summary="List phone numbers")
    async def list_numbers(
        self,
        db: Db,
        principal: Caller,
        limit: FromQuery[int] = 50,
        after: FromQuery[str | None] = None,
        trunk_id: FromQuery[str | None] = None,
        prefix: FromQuery[str | None] = None,
    ) -> Page[NumberOut]:
        stmt = select(PhoneNumber).where(PhoneNumber.project_id == principal.project_id)
        if trunk_id:
            stmt = stmt.where(PhoneNumber.trunk_id == trunk_id)
        if prefix:
            stmt = stmt.where(PhoneNumber.e164.startswith(prefix, autoescape=True))
        return await page(db, stmt, PhoneNumber, limit, after, render)

    @post(operation_id="createNumber", summary="Add a phone number")
    async def create_number(
        self,
        db: Db,
        principal: Caller,
        data: Annotated[
            NumberIn, json_example("A US number", {"number": "+14155550100", "label": "sales line"})
        ],
    ) -> NumberOut:
        number = PhoneNumber(id=new_id("num"), project_id=principal.project_id)
        warnings = await _apply(db, principal, number, data)
        db.add(number)
        await commit_audited(
            db,
            principal,
            action="number.create",
            object_type="number",
            object_id=number.id,
            before=None,
            after=snapshot(number),
        )
        return render(number, warnings)

    @get("/{number_id:str}", operation_id="getNumber", summary="Get a phone number")
    async def get_number(self, db: Db, principal: Caller, number_id: FromPath[str]) -> NumberOut:
        return render(await scoped(db, PhoneNumber, number_id, principal))

    @patch(
        "/{number_id:str}", operation_id="updateNumber", summary="Change a phone number (JSON merge-patch)"
    )
    async def update_number(
        self,
        db: Db,
        principal: Caller,
        number_id: FromPath[str],
        data: Annotated[dict[str, Any], json_example("Relabel", {"label": "support line"})],
    ) -> NumberOut:
        number = await scoped(db, PhoneNumber, number_id, principal)
        before = snapshot(number)
        current = {k: v for k, v in before.items() if v is not None}
        warnings = await _apply(db, principal, number, merge_patch(current, data, NumberIn))
        await commit_audited(
            db,
            principal,
            action="number.update",
            object_type="number",
            object_id=number.id,
            before=before,
            after=snapshot(number),
        )
        return render(number, warnings if "number" in data else [])

    @delete("/{number_id:str}", operation_id="deleteNumber", summary="Remove a phone number")
    async def delete_number(self, db: Db, principal: Caller, number_id: FromPath[str]) -> None:
        number = await scoped(db, PhoneNumber, number_id, principal)
        before = snapshot(number)
        await db.delete(number)
        await commit_audited(
            db,
            principal,
            action="number.delete",
            object_type="number",
            object_id=number_id,
            before=before,
            after=None,
        )
