"""Calls, read-only here: the records the carrier and LiveKit paths write, with their ordered events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec
from litestar import Controller, get
from litestar.params import FromPath, FromQuery
from sqlalchemy import or_, select

from gateway.admin.crud import Page, page, scoped
from gateway.db.models import Call, CallEvent
from gateway.web.deps import Caller, Db

Status = Literal[
    "initiated", "ringing", "answered", "completed", "busy", "no-answer", "failed", "canceled", "declined"
]


class CallOut(msgspec.Struct):
    id: str
    direction: str
    carrier: str
    carrier_call_id: str | None
    from_number: str
    to_number: str
    status: str
    trunk_id: str | None
    route_id: str | None
    flow_id: str | None
    flow_version: str | None
    agent_id: str | None
    livekit_room: str | None
    created_at: datetime
    ringing_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    sip_status: int | None
    carrier_status: str | None
    duration_s: int | None
    routing: dict[str, Any] | None


class CallEventOut(msgspec.Struct):
    seq: int
    at: datetime
    kind: str
    source: str
    data: dict[str, Any]


class CallDetail(CallOut, kw_only=True):
    events: list[CallEventOut]


def render(c: Call) -> CallOut:
    return CallOut(
        id=c.id,
        direction=c.direction,
        carrier=c.carrier,
        carrier_call_id=c.carrier_call_id,
        from_number=c.from_e164,
        to_number=c.to_e164,
        status=c.status,
        trunk_id=c.trunk_id,
        route_id=c.route_id,
        flow_id=c.flow_id,
        flow_version=c.flow_version,
        agent_id=c.agent_id,
        livekit_room=c.livekit_room,
        created_at=c.created_at,
        ringing_at=c.ringing_at,
        answered_at=c.answered_at,
        ended_at=c.ended_at,
        end_reason=c.end_reason,
        sip_status=c.sip_status,
        carrier_status=c.carrier_status,
        duration_s=c.duration_s,
        routing=c.routing,
    )


class CallController(Controller):
    path = "/calls"
    tags = ["calls"]

    @get(
        operation_id="listCalls",
        summary="List calls, newest id last; filter by status, direction, number, time",
    )
    async def list_calls(
        self,
        db: Db,
        principal: Caller,
        limit: FromQuery[int] = 50,
        after: FromQuery[str | None] = None,
        status: FromQuery[Status | None] = None,
        direction: FromQuery[Literal["inbound", "outbound"] | None] = None,
        number: FromQuery[str | None] = None,
        since: FromQuery[datetime | None] = None,
        until: FromQuery[datetime | None] = None,
    ) -> Page[CallOut]:
        stmt = select(Call).where(Call.project_id == principal.project_id)
        if status:
            stmt = stmt.where(Call.status == status)
        if direction:
            stmt = stmt.where(Call.direction == direction)
        if number:
            stmt = stmt.where(or_(Call.from_e164 == number, Call.to_e164 == number))
        if since:
            stmt = stmt.where(Call.created_at >= since)
        if until:
            stmt = stmt.where(Call.created_at < until)
        return await page(db, stmt, Call, limit, after, render)

    @get("/{call_id:str}", operation_id="getCall", summary="Get a call with its events")
    async def get_call(self, db: Db, principal: Caller, call_id: FromPath[str]) -> CallDetail:
        call = await scoped(db, Call, call_id, principal)
        events = (
            await db.scalars(select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.seq))
        ).all()
        return CallDetail(
            **msgspec.structs.asdict(render(call)),
            events=[
                CallEventOut(seq=e.seq, at=e.at, kind=e.kind, source=e.source, data=e.data) for e in events
            ],
        )
