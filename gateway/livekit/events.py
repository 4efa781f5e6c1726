"""LiveKit webhook events applied one at a time through `gateway.calls.records` (the caller commits).

The batch writer (`writer`) handles calls and rooms in bulk and falls back to this path when a batch fails;
sessions and recordings always come here. What an event means for a call is decided in `call_effects`.
- SIP participant joined/left: the call is opened on first sight (inbound, by `sip.callID`) or found by its
  `trunkline.call_id` (outbound: the placer's; bridged carrier calls: the bridge trunk's); either event can come
  first;
- `room_finished` ends the calls (and the web session) still open in the room;
- egress events become `Recording` rows (unique by egress id), never moving back from a final status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.calls.lifecycle import TERMINAL_STATES
from gateway.calls.records import add_event, apply_status, open_call, snapshot_of
from gateway.db.models import Call, Recording
from gateway.ids import new_id
from gateway.sessions import records as sessions

from .call_effects import (
    SOURCE,
    CallEffect,
    event_time,
    inbound_call,
    keys_of,
    participant_effect,
    room_effect,
)
from .webhooks import LiveKitEvent, Participant

Effect = Literal["call", "session", "room", "recording", "ignored"]

_EGRESS_RANK = {"starting": 0, "active": 1, "ending": 2}
_FINAL_RANK = 3


@dataclass(frozen=True)
class Watch:
    """An inbound SIP participant still ringing: someone should poll until it answers."""

    room: str
    identity: str
    call_id: str


@dataclass
class Applied:
    effect: Effect
    watch: Watch | None = None
    stop_watch: tuple[str, str] | None = None


def effect_of(event: LiveKitEvent) -> Effect:
    """Which kind of work an event needs, decided without the database (most events need none)."""
    participant = event.participant
    if event.event in ("participant_joined", "participant_left") and participant is not None:
        if participant.kind == "sip":
            return "call"
        if sessions.SESSION_ATTR in participant.attributes:
            return "session"
        return "ignored"
    if event.event == "room_finished" and event.room is not None:
        return "room"
    if event.event.startswith("egress_") and event.egress is not None:
        return "recording"
    return "ignored"


async def carry_out(db: AsyncSession, call: Call, effect: CallEffect, dedupe_key: str) -> None:
    """An effect through `records`: fold the status (or note the event), then fill in what the call lacks."""
    if effect.carrier_call_id and not call.carrier_call_id:
        call.carrier_call_id = effect.carrier_call_id
    if effect.update is not None:
        await apply_status(db, call, effect.update, source=SOURCE, dedupe_key=dedupe_key, data=effect.data)
    else:
        await add_event(db, call, effect.note, SOURCE, effect.data, dedupe_key=dedupe_key, at=effect.note_at)
    if effect.end_reason and call.end_reason is None:
        call.end_reason = effect.end_reason
    if effect.room and not call.livekit_room:
        call.livekit_room = effect.room


async def apply(db: AsyncSession, project_id: str, event: LiveKitEvent, trunk_of: dict[str, str]) -> Applied:
    """Apply one verified event of `project_id`; `trunk_of` maps LiveKit trunk ids to gateway trunk ids."""
    match effect_of(event):
        case "call":
            assert event.participant is not None
            return await _sip_participant(db, project_id, event, event.participant, trunk_of)
        case "session":
            assert event.participant is not None
            session_id = event.participant.attributes[sessions.SESSION_ATTR]
            if event.event == "participant_joined":
                await sessions.participant_joined(db, project_id, session_id, event_time(event))
            else:
                await sessions.ended(db, project_id, session_id, event_time(event), "participant left")
            return Applied("session")
        case "room":
            assert event.room is not None
            await _room_finished(db, project_id, event.room.name, event)
            return Applied("room")
        case "recording":
            await _egress(db, project_id, event)
            return Applied("recording")
    return Applied("ignored")


async def _sip_participant(
    db: AsyncSession, project_id: str, event: LiveKitEvent, participant: Participant, trunk_of: dict[str, str]
) -> Applied:
    keys = keys_of(participant)
    call: Call | None
    if keys.call_id:
        call = await db.scalar(
            select(Call).where(Call.id == keys.call_id, Call.project_id == project_id).with_for_update()
        )
    else:
        new = inbound_call(project_id, event, participant, trunk_of)
        call = (await open_call(db, new))[0] if new is not None else None
    if call is None:
        return Applied("ignored")
    effect = participant_effect(
        event, participant, carrier=call.carrier, direction=call.direction, snapshot=snapshot_of(call)
    )
    await carry_out(db, call, effect, event.id)
    watch = Watch(effect.watch[0], effect.watch[1], call.id) if effect.watch else None
    return Applied("call", watch=watch, stop_watch=effect.stop_watch)


async def _room_finished(db: AsyncSession, project_id: str, room: str, event: LiveKitEvent) -> None:
    if sessions.is_session_room(room):
        await sessions.ended(db, project_id, room, event_time(event), "room closed")
        return
    open_calls = await db.scalars(
        select(Call)
        .where(
            Call.project_id == project_id,
            Call.livekit_room == room,
            Call.status.not_in([s.value for s in TERMINAL_STATES]),
        )
        .with_for_update()
    )
    for call in open_calls.all():
        effect = room_effect(event, snapshot=snapshot_of(call), carrier=call.carrier)
        await carry_out(db, call, effect, event.id)


async def _egress(db: AsyncSession, project_id: str, event: LiveKitEvent) -> None:
    egress = event.egress
    assert egress is not None
    row: Recording | None = await db.scalar(
        select(Recording).where(Recording.external_id == egress.egress_id).with_for_update()
    )
    if row is not None and row.project_id != project_id:
        return
    if row is None:
        call_id = await db.scalar(
            select(Call.id)
            .where(Call.project_id == project_id, Call.livekit_room == egress.room_name)
            .order_by(Call.created_at.desc())
            .limit(1)
        )
        row = Recording(
            id=new_id("rec"),
            project_id=project_id,
            call_id=call_id,
            source=SOURCE,
            external_id=egress.egress_id,
            status=egress.status,
            meta={"room": egress.room_name},
        )
        db.add(row)
    elif _EGRESS_RANK.get(egress.status, _FINAL_RANK) < _EGRESS_RANK.get(row.status, _FINAL_RANK):
        return
    row.status = egress.status
    if egress.files:
        row.url = egress.files[0]
    if egress.error:
        row.meta = {**row.meta, "error": egress.error}
