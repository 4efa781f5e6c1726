"""`LiveKitPlacer`: outbound calls over a LiveKit SIP outbound trunk, with the agent in the room first.

Two LiveKit calls per call: `CreateRoom` carrying the agent dispatch (the agent's name, its deep-merged config as
the job metadata), then `CreateSIPParticipant` over the outbound trunk. The dial always waits for the far end
(`wait_until_answered`), which is the only way LiveKit reports the final SIP status of a refused call: inline when
the API caller asked to wait, else in a background task that records the outcome on the call. Failed calls close
their room so the agent leaves too.

The call is saved (stored as `initiated`, with its trunk and room) through the call store before LiveKit is
contacted, so no transaction is open across network round trips.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.calls.lifecycle import CallState, StatusUpdate, state_from_sip
from gateway.calls.outbound import OutboundCallIn, PlaceContext, PlacedCall
from gateway.calls.store import CallEdit, CallRef, CallStore
from gateway.db.database import Database
from gateway.db.models import Project, Trunk
from gateway.db.types import utcnow
from gateway.errors import Conflict, InvalidInput

from .call_effects import CALL_ATTR
from .clients import LiveKitClients
from .errors import LiveKitError, LiveKitUnavailable
from .facade import LiveKit
from .tasks import Tasks
from .types import AgentSpec

logger = logging.getLogger("gateway.livekit.outbound")

CALLEE_IDENTITY = "sip-callee"
"""The SIP participant of an outbound call (no phone number in identities: they show up in logs)."""
PROJECT_ATTR = "trunkline.project_id"


def room_for(call_id: str) -> str:
    return call_id


@dataclass(frozen=True)
class Dial:
    """One outbound dial, ready to send to LiveKit."""

    project_id: str
    call_id: str
    room: str
    trunk_id: str
    to: str
    from_number: str
    request: OutboundCallIn


class LiveKitPlacer:
    def __init__(
        self,
        clients: LiveKitClients,
        database: Database,
        store: CallStore,
        tasks: Tasks,
        on_drift: Callable[[str], None],
    ) -> None:
        self._clients = clients
        self._database = database
        self._store = store
        self._tasks = tasks
        self._on_drift = on_drift

    async def check(self, db: AsyncSession, project: Project, request: OutboundCallIn) -> None:
        if request.flow is not None:
            raise InvalidInput(
                "flow: IVR flows on LiveKit calls need the gateway's in-room agent worker, which is not "
                "available yet. Give `agent` instead, or place the call with carrier `twilio`.",
                field="flow",
            )
        await _outbound_trunk(db, project, request.trunk_id)

    async def place(self, ctx: PlaceContext) -> PlacedCall:
        assert ctx.agent is not None, "place_outbound passes exactly one of agent and flow"
        async with self._database.session() as db:
            trunk = await _outbound_trunk(db, ctx.project, ctx.request.trunk_id)
        livekit = await self._clients.get(ctx.project)
        call = ctx.edit.call
        call.trunk_id, call.livekit_room = trunk.id, room_for(call.id)
        call.meta = {
            **call.meta,
            "livekit_identity": CALLEE_IDENTITY,
            "livekit_trunk_id": trunk.livekit_trunk_id,
        }
        await self._store.save(ctx.edit)
        dial = Dial(
            project_id=ctx.project.id,
            call_id=call.id,
            room=room_for(call.id),
            trunk_id=trunk.livekit_trunk_id or "",
            to=ctx.to_e164,
            from_number=ctx.from_e164,
            request=ctx.request,
        )
        room_metadata = json.dumps({"trunkline": {"project_id": dial.project_id, "call_id": dial.call_id}})
        agent = AgentSpec(ctx.agent.name, json.dumps(ctx.agent_config, separators=(",", ":")))
        try:
            await livekit.ensure_room(dial.room, metadata=room_metadata, agents=[agent])
        except LiveKitError as error:
            failed = StatusUpdate(state=CallState.FAILED, at=utcnow())
            return PlacedCall(livekit_room=dial.room, update=failed, end_reason=_short(error.detail))
        if not ctx.request.wait_until_answered:
            # Dial only once the placement is saved: the dial's outcome is written into that call.
            def dial_later() -> None:
                self._tasks.spawn(self._dial_in_background(livekit, dial), name=f"dial {dial.call_id}")

            return PlacedCall(livekit_room=dial.room, after_commit=dial_later)
        return await self._dial(livekit, dial)

    async def _dial(self, livekit: LiveKit, dial: Dial) -> PlacedCall:
        request = dial.request
        try:
            participant = await livekit.create_sip_participant(
                room=dial.room,
                to=dial.to,
                trunk_id=dial.trunk_id,
                identity=CALLEE_IDENTITY,
                name="Phone",
                attributes={CALL_ATTR: dial.call_id, PROJECT_ATTR: dial.project_id},
                from_number=dial.from_number,
                wait_until_answered=True,
                ringing_timeout=request.ringing_timeout,
                max_call_duration=request.max_duration,
                play_dialtone=request.play_dialtone,
                dtmf=request.dtmf,
            )
        except LiveKitError as error:
            await _close(livekit, dial.room)
            code = error.sip_status_code
            if code is None:
                self._on_drift(dial.project_id)
                failed = StatusUpdate(state=CallState.FAILED, at=utcnow())
                return PlacedCall(livekit_room=dial.room, update=failed, end_reason=_short(error.detail))
            update = StatusUpdate(state=state_from_sip(code), at=utcnow(), sip_code=code)
            reason = f"SIP {code} {error.sip_status or ''}".strip()
            return PlacedCall(livekit_room=dial.room, update=update, end_reason=reason)
        answered = StatusUpdate(state=CallState.ANSWERED, at=utcnow(), sip_code=200)
        return PlacedCall(carrier_call_id=participant.sip_call_id, livekit_room=dial.room, update=answered)

    async def _dial_in_background(self, livekit: LiveKit, dial: Dial) -> None:
        try:
            placed = await self._dial(livekit, dial)
        except LiveKitUnavailable as error:
            failed = StatusUpdate(state=CallState.FAILED, at=utcnow())
            placed = PlacedCall(livekit_room=dial.room, update=failed, end_reason=_short(error.detail))
        await record_placement(self._store, dial.call_id, placed)


async def record_placement(store: CallStore, call_id: str, placed: PlacedCall) -> None:
    """Fold a background dial's outcome into the stored call."""

    def work(edit: CallEdit) -> None:
        call = edit.call
        if placed.carrier_call_id and not call.carrier_call_id:
            call.carrier_call_id = placed.carrier_call_id
        if placed.end_reason and not call.end_reason:
            call.end_reason = placed.end_reason
        if placed.update is not None:
            edit.fold(placed.update, source="livekit", dedupe_key="livekit.placement")

    if await store.change(CallRef(call_id=call_id), work) is None:
        logger.warning("outbound call vanished before its outcome was recorded", extra={"call_id": call_id})


async def _outbound_trunk(db: AsyncSession, project: Project, trunk_id: str | None) -> Trunk:
    """The request's outbound trunk, or the project's first; it must already exist in LiveKit."""
    stmt = select(Trunk).where(Trunk.project_id == project.id, Trunk.direction == "outbound")
    if trunk_id is not None:
        stmt = stmt.where(Trunk.id == trunk_id)
    trunk = await db.scalar(stmt.order_by(Trunk.id).limit(1))
    if trunk is None:
        if trunk_id is not None:
            raise InvalidInput(
                f"trunk_id: {trunk_id!r} is not an outbound trunk of this project; list them with "
                "GET /v1/trunks?direction=outbound.",
                field="trunk_id",
            )
        raise InvalidInput(
            "This project has no outbound trunk: create one (POST /v1/trunks with direction outbound) first.",
            field="trunk_id",
        )
    if not trunk.livekit_trunk_id:
        problem = trunk.sync_state.get("error") if isinstance(trunk.sync_state, dict) else None
        why = f" (last sync error: {problem})" if problem else ""
        raise Conflict(
            f"Outbound trunk {trunk.id} is not in LiveKit yet{why}. Run POST /v1/sync (or wait for the "
            "background sync), check GET /v1/sync, then retry.",
            field="trunk_id",
        )
    return trunk


async def _close(livekit: LiveKit, room: str) -> None:
    """Close a failed call's room so its agent leaves; best effort (the room also times out by itself)."""
    try:
        await livekit.delete_room(room)
    except (LiveKitError, LiveKitUnavailable):
        logger.info("could not close the room of a failed call", extra={"room": room})


def _short(detail: str) -> str:
    return detail if len(detail) <= 200 else detail[:197] + "..."
