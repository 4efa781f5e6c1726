"""What one LiveKit webhook means for one call, decided from the event alone (never from what arrived before it:
LiveKit promises no order). Pure.

- a SIP participant joining: `sip.callStatus` active/automation -> answered (at its join), ringing -> ringing,
  anything else is only noted; an inbound call still ringing needs watching (no webhook says when it answers);
- a SIP participant leaving ends the call: completed if it was answered, else canceled (inbound) or, for outbound
  calls, what the disconnect reason suggests - the dial's SIP status, recorded by the placer, explains it better.
  Whether it was answered may only arrive later, so the end carries both readings (`StatusUpdate.if_answered`);
- `room_finished` ends the calls in the room the same way, with less authority than a leg's own end.

A SIP participant whose `trunkline.call_id` names a call of another carrier (a Twilio call bridged to an agent
through the bridge trunk, `bridging`) is that call's leg into LiveKit: it only notes `bridge.joined` /
`bridge.left` (and fills in the call's room); the carrier's own callbacks own that call's lifecycle, so neither
the leg nor the room closing ends it.

Both writers (`events` one event at a time, `writer` in batches) carry out these effects the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from gateway.calls.lifecycle import CallState, StatusUpdate
from gateway.calls.store import NewCall
from gateway.db.types import utcnow
from gateway.logs import mask_text
from routing.compile import AGENT_ATTR, ROUTE_ATTR
from routing.numbers import InvalidNumber, is_plausible_e164, normalize

from . import bridging
from .webhooks import LiveKitEvent, Participant

SOURCE = "livekit"
CALL_ATTR = bridging.CALL_ATTR
"""The gateway's call id on a SIP participant: set by the placer (outbound calls) or mapped by the bridge trunk
from a carrier's `X-Trunkline-Call-Id` header (bridged calls)."""

ANSWERED_STATUSES = ("active", "automation")
LEG_REASON_RANK = 2
ROOM_REASON_RANK = 1
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


@dataclass(frozen=True)
class CallEffect:
    """Fold `update` (or, without one, record a `note` event), then fill in what the call lacks."""

    update: StatusUpdate | None
    data: dict[str, Any]
    note: str = "livekit.participant_joined"
    note_at: datetime | None = None
    carrier_call_id: str | None = None
    watch: tuple[str, str] | None = None
    """(room, identity) of an inbound SIP participant to poll until it answers."""
    stop_watch: tuple[str, str] | None = None
    room: str | None = None
    """The LiveKit room of the call, set when the call has none yet."""


@dataclass(frozen=True)
class Keys:
    """How a SIP event finds its call: the placer's call id, or LiveKit's SIP call id."""

    call_id: str | None
    sip_call_id: str | None


def event_time(event: LiveKitEvent) -> datetime:
    return datetime.fromtimestamp(event.created_at, UTC) if event.created_at > 0 else utcnow()


def room_of(event: LiveKitEvent) -> str:
    return event.room.name if event.room is not None else ""


def keys_of(participant: Participant) -> Keys:
    placed = participant.attributes.get(CALL_ATTR)
    sip = participant.sip
    return Keys(call_id=placed or None, sip_call_id=(sip.call_id if sip is not None else "") or None)


@lru_cache(maxsize=4096)
def _e164(raw: str) -> str:
    """Plausible E.164 as LiveKit reports it, else E.164 when phonenumbers can make it so, else as given."""
    if not raw or is_plausible_e164(raw):
        return raw
    try:
        return normalize(raw, None).e164
    except InvalidNumber:
        return raw


def inbound_call(
    project_id: str,
    event: LiveKitEvent,
    participant: Participant,
    trunk_of: dict[str, str],
    agent_of: dict[str, str] | None = None,
    route_of: dict[str, str] | None = None,
) -> NewCall | None:
    """The call record an inbound SIP leg opens (None without a SIP call id). The dispatch rule that admitted it
    named the agent serving it (compiled rules' attributes, copied onto the participant by LiveKit); `agent_of`
    maps agent names to ids. Its route: the rule's own (attribute), else the one compiled for the dialled number
    in that rule (`route_of`, number -> route id: rules are shared by the routes with the same target)."""
    sip = participant.sip
    if sip is None or not sip.call_id:
        return None
    agent = participant.attributes.get(AGENT_ATTR, "")
    called = _e164(sip.trunk_phone_number)
    route_id = participant.attributes.get(ROUTE_ATTR) or (route_of or {}).get(called)
    return NewCall(
        project_id=project_id,
        direction="inbound",
        carrier=SOURCE,
        carrier_call_id=sip.call_id,
        from_e164=_e164(sip.phone_number),
        to_e164=called,
        trunk_id=trunk_of.get(sip.trunk_id),
        livekit_room=room_of(event) or None,
        route_id=route_id or None,
        agent_id=(agent_of or {}).get(agent) if agent else None,
        meta={
            "livekit_identity": participant.identity,
            "livekit_trunk_id": sip.trunk_id,
            "livekit_rule_id": sip.rule_id,
            **({"agent": agent} if agent else {}),
        },
    )


def sip_effect(event: LiveKitEvent, participant: Participant, *, direction: str) -> CallEffect:
    sip = participant.sip
    assert sip is not None
    at = event_time(event)
    data: dict[str, Any] = {
        "event_id": event.id,
        "identity": mask_text(participant.identity),  # inbound SIP participants are named after the caller
        "call_status": sip.call_status,
    }
    leg = (room_of(event), participant.identity)
    carrier_call_id = sip.call_id or None
    if event.event == "participant_left":
        reason = participant.disconnect_reason
        said = _END_REASONS.get(reason, reason.replace("_", " ") or "left")
        if sip.call_status in ANSWERED_STATUSES:
            unanswered = CallState.COMPLETED
        elif direction == "outbound":
            unanswered = _UNANSWERED_END.get(reason, CallState.CANCELED)
        else:
            unanswered = CallState.CANCELED
        # An unanswered outbound call is explained by its dial's SIP status, which the placer records.
        update = StatusUpdate(
            state=unanswered,
            at=at,
            if_answered=CallState.COMPLETED,
            reason=None if direction == "outbound" else said,
            reason_if_answered=said,
            reason_rank=LEG_REASON_RANK,
        )
        return CallEffect(update, {**data, "reason": reason}, carrier_call_id=carrier_call_id, stop_watch=leg)
    if sip.call_status in ANSWERED_STATUSES:
        joined = datetime.fromtimestamp(participant.joined_at, UTC) if participant.joined_at else at
        return CallEffect(
            StatusUpdate(state=CallState.ANSWERED, at=joined), data, carrier_call_id=carrier_call_id
        )
    watch = leg if direction == "inbound" and sip.call_status in ("ringing", "dialing", "") else None
    if sip.call_status == "ringing":
        update = StatusUpdate(state=CallState.RINGING, at=at)
        return CallEffect(update, data, carrier_call_id=carrier_call_id, watch=watch)
    return CallEffect(None, data, note_at=at, carrier_call_id=carrier_call_id, watch=watch)


def is_bridged(carrier: str) -> bool:
    """Whether a call found by its `trunkline.call_id` belongs to another carrier, bridged into LiveKit."""
    return carrier != SOURCE


def participant_effect(
    event: LiveKitEvent, participant: Participant, *, carrier: str, direction: str
) -> CallEffect:
    """What a SIP participant event means for the call it belongs to (a bridged leg, or a LiveKit call)."""
    if is_bridged(carrier):
        return bridge_effect(event, participant)
    return sip_effect(event, participant, direction=direction)


def bridge_effect(event: LiveKitEvent, participant: Participant) -> CallEffect:
    """A bridged leg joined or left the agent's room: noted, the call's status untouched."""
    sip = participant.sip
    data: dict[str, Any] = {
        "event_id": event.id,
        "identity": mask_text(participant.identity),
        "room": room_of(event),
        "agent": participant.attributes.get(bridging.AGENT_ATTR, ""),
        "call_status": sip.call_status if sip is not None else "",
        "sip_call_id": sip.call_id if sip is not None else "",
    }
    if event.event == "participant_left":
        data["reason"] = participant.disconnect_reason
        return CallEffect(None, data, note="bridge.left", note_at=event_time(event))
    return CallEffect(
        None, data, note="bridge.joined", note_at=event_time(event), room=room_of(event) or None
    )


def room_effect(event: LiveKitEvent, *, carrier: str = SOURCE) -> CallEffect:
    """`room_finished` for a call in the room (a bridged call only notes it)."""
    if is_bridged(carrier):
        return CallEffect(None, {"event_id": event.id, "room": room_of(event)}, note="bridge.room_finished")
    update = StatusUpdate(
        state=CallState.CANCELED,
        if_answered=CallState.COMPLETED,
        at=event_time(event),
        reason="room closed",
        reason_rank=ROOM_REASON_RANK,
        authority=0,
    )
    return CallEffect(update, {"event_id": event.id})
