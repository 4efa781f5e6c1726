"""What LiveKit webhook events do to calls, recordings and sessions. Order-independent; the caller commits.

- a SIP participant joining or leaving opens the call (inbound: keyed by `sip.callID`; outbound: found by the
  `trunkline.call_id` attribute the placer set) and folds its status: `sip.callStatus` ringing -> ringing,
  active -> answered; leaving ends it (completed once answered, else by the disconnect reason). Either event
  can come first: both carry everything needed to open the call.
- `room_finished` ends the calls (and the web session) still open in the room;
- egress events become `Recording` rows (unique by egress id), never moving back from a final status.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.calls.lifecycle import TERMINAL_STATES, CallState, StatusUpdate
from gateway.calls.records import NewCall, add_event, apply_status, open_call, snapshot_of
from gateway.db.models import Call, Recording
from gateway.db.types import utcnow
from gateway.ids import new_id
from gateway.sessions import records as sessions
from routing.numbers import InvalidNumber, normalize

from .placer import CALL_ATTR
from .webhooks import LiveKitEvent, Participant

SOURCE = "livekit"
Effect = Literal["call", "session", "room", "recording", "ignored"]

_ANSWERED_STATUSES = ("active", "automation")
_UNANSWERED_END = {
    "user_rejected": CallState.BUSY,
    "user_unavailable": CallState.NO_ANSWER,
    "sip_trunk_failure": CallState.FAILED,
}
_END_REASONS = {
    "client_initiated": "far end hung up",
    "participant_removed": "removed from the room",
    "room_deleted": "room closed",
    "room_closed": "room closed",
    "user_rejected": "callee rejected the call",
    "user_unavailable": "callee unavailable",
    "sip_trunk_failure": "SIP trunk failure",
}
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


def event_time(event: LiveKitEvent) -> datetime:
    return datetime.fromtimestamp(event.created_at, UTC) if event.created_at > 0 else utcnow()


def _e164(raw: str) -> str:
    if not raw:
        return ""
    try:
        return normalize(raw, None).e164
    except InvalidNumber:
        return raw


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
    sip = participant.sip
    assert sip is not None
    room = event.room.name if event.room is not None else ""
    call = await _call_for(db, project_id, participant, room, trunk_of)
    if call is None:
        return Applied("ignored")
    if sip.call_id and not call.carrier_call_id:
        call.carrier_call_id = sip.call_id
    at = event_time(event)
    data = {"event_id": event.id, "identity": participant.identity, "call_status": sip.call_status}
    if event.event == "participant_left":
        await _ended(db, call, participant, at, {**data, "reason": participant.disconnect_reason}, event.id)
        return Applied("call", stop_watch=(room, participant.identity))
    if sip.call_status in _ANSWERED_STATUSES:
        joined = datetime.fromtimestamp(participant.joined_at, UTC) if participant.joined_at else at
        answered = StatusUpdate(state=CallState.ANSWERED, at=joined)
        await apply_status(db, call, answered, source=SOURCE, dedupe_key=event.id, data=data)
        return Applied("call")
    if sip.call_status == "ringing":
        ringing = StatusUpdate(state=CallState.RINGING, at=at)
        await apply_status(db, call, ringing, source=SOURCE, dedupe_key=event.id, data=data)
    else:
        await add_event(db, call, "livekit.participant_joined", SOURCE, data, dedupe_key=event.id, at=at)
    if call.direction == "inbound" and sip.call_status in ("ringing", "dialing", ""):
        return Applied("call", watch=Watch(room, participant.identity, call.id))
    return Applied("call")


async def _call_for(
    db: AsyncSession, project_id: str, participant: Participant, room: str, trunk_of: dict[str, str]
) -> Call | None:
    """The outbound call the placer started, or the inbound call this SIP leg is (opened on first sight)."""
    placed_id = participant.attributes.get(CALL_ATTR)
    if placed_id:
        found: Call | None = await db.scalar(
            select(Call).where(Call.id == placed_id, Call.project_id == project_id).with_for_update()
        )
        return found
    sip = participant.sip
    if sip is None or not sip.call_id:
        return None
    call, _ = await open_call(
        db,
        NewCall(
            project_id=project_id,
            direction="inbound",
            carrier=SOURCE,
            carrier_call_id=sip.call_id,
            from_e164=_e164(sip.phone_number),
            to_e164=_e164(sip.trunk_phone_number),
            trunk_id=trunk_of.get(sip.trunk_id),
            livekit_room=room or None,
            meta={
                "livekit_identity": participant.identity,
                "livekit_trunk_id": sip.trunk_id,
                "livekit_rule_id": sip.rule_id,
            },
        ),
    )
    return call


async def _ended(
    db: AsyncSession,
    call: Call,
    participant: Participant,
    at: datetime,
    data: dict[str, str],
    dedupe_key: str,
) -> None:
    sip = participant.sip
    snapshot = snapshot_of(call)
    answered = snapshot.answered_at is not None or (sip is not None and sip.call_status in _ANSWERED_STATUSES)
    reason = participant.disconnect_reason
    if answered:
        state = CallState.COMPLETED
    elif call.direction == "outbound":
        state = _UNANSWERED_END.get(reason, CallState.CANCELED)
    else:
        state = CallState.CANCELED
    duration = None
    if snapshot.answered_at is not None:
        # LiveKit stamps events in whole seconds: an end can look up to a second older than a precise answer.
        at = max(at, snapshot.answered_at)
        duration = round((at - snapshot.answered_at).total_seconds())
    update = StatusUpdate(state=state, at=at, duration=duration)
    await apply_status(db, call, update, source=SOURCE, dedupe_key=dedupe_key, data=data)
    # An unanswered outbound call is explained by its dial's SIP status, which the placer records.
    explained_by_dial = call.direction == "outbound" and not answered
    if call.end_reason is None and not explained_by_dial:
        call.end_reason = _END_REASONS.get(reason, reason.replace("_", " ") or "left the room")


async def _room_finished(db: AsyncSession, project_id: str, room: str, event: LiveKitEvent) -> None:
    at = event_time(event)
    if sessions.is_session_room(room):
        await sessions.ended(db, project_id, room, at, "room closed")
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
        answered = snapshot_of(call).answered_at is not None
        update = StatusUpdate(state=CallState.COMPLETED if answered else CallState.CANCELED, at=at)
        await apply_status(db, call, update, source=SOURCE, dedupe_key=event.id, data={"event_id": event.id})
        if call.end_reason is None:
            call.end_reason = "room closed"


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
