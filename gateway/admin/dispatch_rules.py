"""LiveKit SIP dispatch rules kept by the gateway: which room an inbound SIP call joins, and which agent."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, delete, get, patch, post
from litestar.params import FromPath, FromQuery
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.crud import Page, commit_audited, merge_patch, page, scoped, to_builtins
from gateway.auth.principal import Principal
from gateway.calls.phone import all_e164
from gateway.db.models import DispatchRule, Project, Trunk
from gateway.errors import InvalidInput
from gateway.ids import new_id
from gateway.web.deps import Caller, Db
from gateway.web.examples import json_example


class AgentDispatch(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    agent_name: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    metadata: str = ""


class DispatchRuleIn(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    kind: Literal["direct", "individual", "callee"]
    """direct: every call joins `room_name`; individual: a new room per caller; callee: a room per number."""
    room_name: str = ""
    room_prefix: str = ""
    randomize: bool = False
    pin: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{0,12}$")] = ""
    trunk_ids: list[str] = []
    """Gateway trunk ids this rule applies to; empty means all inbound trunks."""
    inbound_numbers: list[str] = []
    """Only calls from these caller numbers (E.164) match; empty means any."""
    hide_phone_number: bool = False
    agents: list[AgentDispatch] = []
    metadata: str = ""
    attributes: dict[str, str] = {}


class DispatchRuleOut(DispatchRuleIn, kw_only=True):
    id: str
    source: str
    livekit_rule_id: str | None
    created_at: datetime
    updated_at: datetime


def input_of(row: DispatchRule) -> dict[str, Any]:
    return {"name": row.name, "kind": row.kind, **row.spec}


def render(row: DispatchRule) -> DispatchRuleOut:
    return msgspec.convert(
        {
            **input_of(row),
            "id": row.id,
            "source": row.source,
            "livekit_rule_id": row.livekit_rule_id,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        },
        DispatchRuleOut,
    )


async def _apply(db: AsyncSession, principal: Principal, row: DispatchRule, data: DispatchRuleIn) -> None:
    if data.kind == "direct" and not data.room_name:
        raise InvalidInput('A "direct" rule needs room_name (the room every call joins).', field="room_name")
    for i, trunk_id in enumerate(data.trunk_ids):
        trunk = await db.get(Trunk, trunk_id)
        if trunk is None or trunk.project_id != principal.project_id or trunk.direction != "inbound":
            raise InvalidInput(
                f"trunk_ids[{i}]: {trunk_id!r} is not an inbound trunk of this project.",
                field=f"trunk_ids[{i}]",
            )
    project = await db.get(Project, principal.project_id)
    spec: dict[str, Any] = to_builtins(data)
    spec.pop("name"), spec.pop("kind")
    spec["inbound_numbers"] = all_e164(
        data.inbound_numbers, project.default_region if project else None, "inbound_numbers"
    )
    row.name, row.kind, row.spec = data.name, data.kind, spec


class DispatchRuleController(Controller):
    path = "/dispatch-rules"
    tags = ["dispatch-rules"]

    @get(operation_id="listDispatchRules", summary="List dispatch rules")
    async def list_rules(
        self,
        db: Db,
        principal: Caller,
        limit: FromQuery[int] = 50,
        after: FromQuery[str | None] = None,
        source: FromQuery[Literal["manual", "compiled"] | None] = None,
    ) -> Page[DispatchRuleOut]:
        stmt = select(DispatchRule).where(DispatchRule.project_id == principal.project_id)
        if source:
            stmt = stmt.where(DispatchRule.source == source)
        return await page(db, stmt, DispatchRule, limit, after, render)

    @post(operation_id="createDispatchRule", summary="Create a dispatch rule")
    async def create_rule(
        self,
        db: Db,
        principal: Caller,
        data: Annotated[
            DispatchRuleIn,
            json_example(
                "A room per caller",
                {
                    "name": "per caller",
                    "kind": "individual",
                    "room_prefix": "call-",
                    "agents": [{"agent_name": "support-bot"}],
                },
            ),
        ],
    ) -> DispatchRuleOut:
        row = DispatchRule(id=new_id("sdr"), project_id=principal.project_id, source="manual")
        await _apply(db, principal, row, data)
        db.add(row)
        await commit_audited(
            db,
            principal,
            action="dispatch_rule.create",
            object_type="dispatch_rule",
            object_id=row.id,
            before=None,
            after=input_of(row),
        )
        return render(row)

    @get("/{rule_id:str}", operation_id="getDispatchRule", summary="Get a dispatch rule")
    async def get_rule(self, db: Db, principal: Caller, rule_id: FromPath[str]) -> DispatchRuleOut:
        return render(await scoped(db, DispatchRule, rule_id, principal))

    @patch(
        "/{rule_id:str}", operation_id="updateDispatchRule", summary="Change a dispatch rule (merge-patch)"
    )
    async def update_rule(
        self,
        db: Db,
        principal: Caller,
        rule_id: FromPath[str],
        data: Annotated[dict[str, Any], json_example("New prefix", {"room_prefix": "support-"})],
    ) -> DispatchRuleOut:
        row = await scoped(db, DispatchRule, rule_id, principal)
        before = input_of(row)
        await _apply(db, principal, row, merge_patch(before, data, DispatchRuleIn))
        await commit_audited(
            db,
            principal,
            action="dispatch_rule.update",
            object_type="dispatch_rule",
            object_id=row.id,
            before=before,
            after=input_of(row),
        )
        return render(row)

    @delete("/{rule_id:str}", operation_id="deleteDispatchRule", summary="Delete a dispatch rule")
    async def delete_rule(self, db: Db, principal: Caller, rule_id: FromPath[str]) -> None:
        row = await scoped(db, DispatchRule, rule_id, principal)
        before = input_of(row)
        await db.delete(row)
        await commit_audited(
            db,
            principal,
            action="dispatch_rule.delete",
            object_type="dispatch_rule",
            object_id=rule_id,
            before=before,
            after=None,
        )
