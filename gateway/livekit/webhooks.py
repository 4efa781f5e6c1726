"""LiveKit webhook events as the gateway reads them, and `parse_event`, their form from a `livekit.WebhookEvent`.

Webhook bodies are verified and decoded by `receiver.verify_webhook`; `participant_info` reads the participants
LiveKit's API returns.
"""

from __future__ import annotations

from typing import Any, Literal, cast, get_args

import msgspec
from livekit import api

ParticipantKind = Literal["standard", "ingress", "egress", "sip", "agent", "connector", "bridge", "unknown"]
CallStatus = Literal["dialing", "ringing", "automation", "active", "hangup", ""]

_CALL_STATUSES = {"dialing", "ringing", "automation", "active", "hangup"}
_PARTICIPANT_KINDS: frozenset[str] = frozenset(get_args(ParticipantKind))


class EnumNames:
    """A LiveKit protobuf enum's value names in lower case, without `prefix`; numbers it lacks are "unknown"."""

    def __init__(self, enum: Any, prefix: str = "") -> None:
        self.number_of: dict[str, int] = dict(enum.items())
        self._names: dict[int, str] = {
            number: name.removeprefix(prefix).lower() for name, number in enum.items()
        }

    def name(self, number: int) -> str:
        return self._names.get(number, "unknown")


KINDS = EnumNames(api.ParticipantInfo.Kind)
STATES = EnumNames(api.ParticipantInfo.State)
DISCONNECT_REASONS = EnumNames(api.DisconnectReason)
EGRESS_STATUSES = EnumNames(api.EgressStatus, "EGRESS_")


def participant_kind(number: int) -> ParticipantKind:
    name = KINDS.name(number)
    return cast(ParticipantKind, name if name in _PARTICIPANT_KINDS else "unknown")


class SipDetails(msgspec.Struct, frozen=True):
    """The `sip.*` attributes LiveKit SIP sets on its participants."""

    call_id: str
    call_status: CallStatus
    phone_number: str
    trunk_phone_number: str
    trunk_id: str
    rule_id: str


class Participant(msgspec.Struct, frozen=True):
    sid: str
    identity: str
    name: str
    kind: ParticipantKind
    state: str
    metadata: str
    attributes: dict[str, str]
    joined_at: int
    disconnect_reason: str
    sip: SipDetails | None


class Room(msgspec.Struct, frozen=True):
    sid: str
    name: str
    metadata: str
    num_participants: int


class Egress(msgspec.Struct, frozen=True):
    egress_id: str
    room_name: str
    status: str
    files: tuple[str, ...]
    error: str


class LiveKitEvent(msgspec.Struct, frozen=True):
    """One webhook: `event` is LiveKit's name (`room_started`, `participant_joined`, `egress_ended`...)."""

    id: str
    event: str
    created_at: int
    room: Room | None = None
    participant: Participant | None = None
    egress: Egress | None = None


def sip_details(attributes: dict[str, str]) -> SipDetails:
    status = attributes.get("sip.callStatus", "")
    return SipDetails(
        call_id=attributes.get("sip.callID", ""),
        call_status=msgspec.convert(status if status in _CALL_STATUSES else "", CallStatus),
        phone_number=attributes.get("sip.phoneNumber", ""),
        trunk_phone_number=attributes.get("sip.trunkPhoneNumber", ""),
        trunk_id=attributes.get("sip.trunkID", ""),
        rule_id=attributes.get("sip.ruleID", ""),
    )


def _participant(info: api.ParticipantInfo) -> Participant:
    attributes = dict(info.attributes)
    return Participant(
        sid=info.sid,
        identity=info.identity,
        name=info.name,
        kind=participant_kind(info.kind),
        state=STATES.name(info.state),
        metadata=info.metadata,
        attributes=attributes,
        joined_at=info.joined_at,
        disconnect_reason=DISCONNECT_REASONS.name(info.disconnect_reason),
        sip=sip_details(attributes) if info.kind == api.ParticipantInfo.Kind.SIP else None,
    )


def participant_info(info: api.ParticipantInfo) -> Participant:
    """The typed form of a LiveKit participant (`sip` set for SIP participants)."""
    return _participant(info)


def parse_event(event: api.WebhookEvent) -> LiveKitEvent:
    """The typed form of a LiveKit webhook event."""
    room = None
    if event.HasField("room"):
        room = Room(
            sid=event.room.sid,
            name=event.room.name,
            metadata=event.room.metadata,
            num_participants=event.room.num_participants,
        )
    egress = None
    if event.HasField("egress_info"):
        info = event.egress_info
        egress = Egress(
            egress_id=info.egress_id,
            room_name=info.room_name,
            status=EGRESS_STATUSES.name(info.status),
            files=tuple(f.filename for f in info.file_results),
            error=info.error,
        )
    return LiveKitEvent(
        id=event.id,
        event=event.event,
        created_at=event.created_at,
        room=room,
        participant=_participant(event.participant) if event.HasField("participant") else None,
        egress=egress,
    )
