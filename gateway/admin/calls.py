"""Calls, read-only here: the records the carrier and LiveKit paths write, with their ordered events."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.params import FromPath, FromQuery
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.call_list import calls_query
from gateway.admin.crud import Page, commit_audited, page, scoped
from gateway.auth.principal import Principal, is_tenant
from gateway.calls.guard import DestinationPolicy, effective_outbound
from gateway.calls.lifecycle import CallState, StatusUpdate
from gateway.calls.outbound import OutboundCallIn, PlaceContext, deep_merge
from gateway.calls.phone import to_e164
from gateway.calls.store import NewCall
from gateway.db.models import Agent, Call, CallEvent, PhoneNumber, Project, Recording
from gateway.db.types import utcnow
from gateway.errors import AppError, InvalidInput, UpstreamUnavailable
from gateway.services import services
from gateway.web.deps import Caller, Db
from gateway.web.examples import json_example

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


class CallRecordingOut(msgspec.Struct):
    id: str
    source: str
    """twilio | livekit"""
    external_id: str
    status: str
    url: str | None
    duration_s: int | None
    created_at: datetime


class CallDetail(CallOut, kw_only=True):
    events: list[CallEventOut]
    recordings: list[CallRecordingOut] = msgspec.field(default_factory=list)
    """Recordings of the call (a voicemail left in a flow or a route, call recordings), oldest first."""


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
        stmt = calls_query(
            principal.project_id,
            status=status,
            direction=direction,
            number=number,
            since=since,
            until=until,
            after=after,
            limit=limit,
        )
        return await page(db, stmt, Call, limit, None, render)  # `calls_query` placed `after` already

    @post(
        operation_id="createCall",
        summary="Place an outbound call (Twilio or LiveKit SIP) with an agent or flow",
    )
    async def create_call(
        self,
        db: Db,
        principal: Caller,
        state: State,
        data: Annotated[
            OutboundCallIn,
            json_example(
                "Call a customer with an agent",
                {
                    "carrier": "livekit",
                    "to": "+14155550123",
                    "from": "+14155550100",
                    "agent": "support-bot",
                    "overrides": {"instructions": "Confirm the appointment."},
                },
            ),
        ],
    ) -> CallDetail:
        return await place_outbound(db, principal, state, data)

    @get("/{call_id:str}", operation_id="getCall", summary="Get a call with its events")
    async def get_call(self, db: Db, principal: Caller, call_id: FromPath[str]) -> CallDetail:
        return await _detail(db, await scoped(db, Call, call_id, principal))


async def _caller_id(db: AsyncSession, project: Project, raw: str) -> str:
    number = to_e164(raw, project.default_region, "from").e164
    owned = await db.scalar(
        select(PhoneNumber.id).where(PhoneNumber.project_id == project.id, PhoneNumber.e164 == number)
    )
    if owned is None:
        raise InvalidInput(
            "from: the caller ID must be one of this project's numbers (POST /v1/numbers first).",
            field="from",
        )
    return number


async def _agent(db: AsyncSession, project: Project, name: str | None) -> Agent | None:
    if name is None:
        return None
    agent = await db.scalar(
        select(Agent).where(Agent.project_id == project.id, Agent.name == name, Agent.deleted_at.is_(None))
    )
    if agent is None:
        raise InvalidInput(f"agent: no agent named {name!r} in this project.", field="agent")
    return agent


async def place_outbound(
    db: AsyncSession, principal: Principal, state: State, data: OutboundCallIn
) -> CallDetail:
    """Validate and guard; record the call (the intent) and commit; then hand it to its carrier's placer, and save
    what the carrier answered. No transaction is open while the carrier is contacted."""
    project = await db.get(Project, principal.project_id)
    assert project is not None
    if (data.agent is None) == (data.flow is None):
        raise InvalidInput("Give exactly one of `agent` or `flow`: what the callee talks to.", field="agent")
    running = services(state)
    placer = running.placers.get(data.carrier)
    if placer is None:
        raise InvalidInput(f"carrier: {data.carrier!r} is not configured on this gateway.", field="carrier")
    to = to_e164(data.to, project.default_region, "to").e164
    from_number = await _caller_id(db, project, data.from_)
    agent = await _agent(db, project, data.agent)
    policy = effective_outbound(project.settings, project.default_region, capped=is_tenant(project))
    DestinationPolicy.of(policy, project.default_region).check(to)  # the policy in force (limits applied)
    await placer.check(db, project, data)
    if data.flow is not None and running.flow_registry(project.id).get(data.flow) is None:
        raise InvalidInput(
            f"flow: no flow {data.flow!r} is loaded in this project; GET /v1/flows lists them.", field="flow"
        )
    await running.call_rate.take(project.id, float(policy.get("calls_per_second", 1.0)))
    await (
        db.commit()
    )  # only read so far (commit keeps what was read); the call store runs its own transactions

    store = running.calls
    config = deep_merge(agent.config if agent else {}, data.overrides)
    edit = store.new(
        NewCall(
            project_id=project.id,
            direction="outbound",
            carrier=data.carrier,
            carrier_call_id=None,
            from_e164=from_number,
            to_e164=to,
            trunk_id=data.trunk_id,
            meta={"agent_config": config} if agent is not None else {},
        )
    )
    edit.call.agent_id = agent.id if agent else None
    edit.call.flow_id = data.flow
    edit.event(
        "call.requested",
        {"carrier": data.carrier, "agent": data.agent, "flow": data.flow, "by": principal.key_id},
        source="api",
    )
    await store.create(edit)
    context = PlaceContext(
        edit=edit,
        request=data,
        project=project,
        agent=agent,
        agent_config=config,
        to_e164=to,
        from_e164=from_number,
        state=state,
    )
    try:
        placed = await placer.place(context)
    except UpstreamUnavailable as exc:
        edit.fold(StatusUpdate(state=CallState.FAILED, at=utcnow()), source="api", data={"error": exc.detail})
        edit.call.end_reason = f"{data.carrier} unavailable"
        await store.save(edit)
        await _audit_call(db, principal, edit.call)
        raise UpstreamUnavailable(
            f"{exc.detail} The call {edit.call.id} was recorded as failed; retry later.",
            extra={"call_id": edit.call.id},
        ) from None
    except Exception as exc:  # refused by the carrier (or a bug): the recorded intent says how it ended
        detail = exc.detail if isinstance(exc, AppError) else "the call could not be placed"
        edit.fold(StatusUpdate(state=CallState.FAILED, at=utcnow()), source="api", data={"error": detail})
        edit.call.end_reason = edit.call.end_reason or f"{data.carrier} refused: {detail}"[:200]
        await store.save(edit)
        await _audit_call(db, principal, edit.call)
        raise
    call = edit.call
    call.carrier_call_id = placed.carrier_call_id or call.carrier_call_id
    call.livekit_room = placed.livekit_room or call.livekit_room
    if placed.end_reason and not call.end_reason:
        call.end_reason = placed.end_reason
    if placed.update is not None:
        edit.fold(placed.update, source=data.carrier)
    await store.save(edit)
    await _audit_call(db, principal, edit.call)
    if placed.after_commit is not None:
        placed.after_commit()
    return await _detail(db, edit.call)


async def _audit_call(db: AsyncSession, principal: Principal, call: Call) -> None:
    await commit_audited(
        db,
        principal,
        action="call.create",
        object_type="call",
        object_id=call.id,
        before=None,
        after={"to": call.to_e164, "carrier": call.carrier, "status": call.status},
    )


async def _detail(db: AsyncSession, call: Call) -> CallDetail:
    events = (
        await db.scalars(select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.seq))
    ).all()
    recordings = (
        await db.scalars(select(Recording).where(Recording.call_id == call.id).order_by(Recording.created_at))
    ).all()
    return CallDetail(
        **msgspec.structs.asdict(render(call)),
        events=[CallEventOut(seq=e.seq, at=e.at, kind=e.kind, source=e.source, data=e.data) for e in events],
        recordings=[
            CallRecordingOut(
                id=r.id,
                source=r.source,
                external_id=r.external_id,
                status=r.status,
                url=r.url,
                duration_s=r.duration_s,
                created_at=r.created_at,
            )
            for r in recordings
        ],
    )
