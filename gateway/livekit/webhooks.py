"""LiveKit webhooks: verified with livekit-api's `WebhookReceiver`, parsed into typed events.

`verify_webhook` checks the JWT in `Authorization` (signed with the project's API secret) and that its
`sha256` claim matches the body; `parse_event` is the pure conversion of a `livekit.WebhookEvent`.
"""

from __future__ import annotations

from typing import Literal

import msgspec
from livekit import api

from gateway.errors import Unauthorized

ParticipantKind = Literal["standard", "ingress", "egress", "sip", "agent", "connector", "bridge", "unknown"]
CallStatus = Literal["dialing", "ringing", "automation", "active", "hangup", ""]

_CALL_STATUSES = {"dialing", "ringing", "automation", "active", "hangup"}
_KIND_VALUES = set(api.ParticipantInfo.Kind.values())


class LiveKitWebhookRejected(Unauthorized):
    """A webhook that is unsigned, signed with another secret, tampered with, or not a LiveKit event."""

    title = "LiveKit webhook rejected"


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


def _sip_details(attributes: dict[str, str]) -> SipDetails:
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
    kind_name = api.ParticipantInfo.Kind.Name(info.kind).lower() if info.kind in _KIND_VALUES else "unknown"
    attributes = dict(info.attributes)
    return Participant(
        sid=info.sid,
        identity=info.identity,
        name=info.name,
        kind=msgspec.convert(kind_name, ParticipantKind),
        state=api.ParticipantInfo.State.Name(info.state).lower(),
        metadata=info.metadata,
        attributes=attributes,
        joined_at=info.joined_at,
        disconnect_reason=api.DisconnectReason.Name(info.disconnect_reason).lower(),
        sip=_sip_details(attributes) if info.kind == api.ParticipantInfo.Kind.SIP else None,
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
            status=api.EgressStatus.Name(info.status).removeprefix("EGRESS_").lower(),
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


def verify_webhook(
    body: str | bytes, authorization: str | None, *, api_key: str, api_secret: str
) -> LiveKitEvent:
    """Check a webhook's signature and body digest, then parse it; `LiveKitWebhookRejected` if anything is off."""
    if not authorization:
        raise LiveKitWebhookRejected(
            "LiveKit webhook without Authorization header; only LiveKit may post here"
        )
    text = body.decode() if isinstance(body, bytes) else body
    receiver = api.WebhookReceiver(api.TokenVerifier(api_key, api_secret))
    try:
        event = receiver.receive(text, authorization.removeprefix("Bearer ").strip())
    except Exception as exc:  # the receiver raises bare Exception, jwt and protobuf errors alike
        raise LiveKitWebhookRejected(
            f"LiveKit webhook failed verification ({type(exc).__name__}); check the project's LiveKit API secret"
        ) from exc
    return parse_event(event)
