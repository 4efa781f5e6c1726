"""Typed results of the LiveKit facade, and their pure conversion from LiveKit's protobuf messages."""

from __future__ import annotations

from typing import Literal

import msgspec
from livekit import api

TransferStatus = Literal["ongoing", "failed", "successful"]
EgressStatus = Literal["starting", "active", "ending", "complete", "failed", "aborted", "limit_reached"]


class AgentSpec(msgspec.Struct, frozen=True):
    """An agent to dispatch into a room: the worker's registered name and the job's metadata."""

    agent_name: str
    metadata: str = ""


class RoomInfo(msgspec.Struct, frozen=True):
    sid: str
    name: str
    metadata: str
    num_participants: int
    created_at: int


class AgentDispatchInfo(msgspec.Struct, frozen=True):
    dispatch_id: str
    agent_name: str
    room: str
    metadata: str


class SipParticipant(msgspec.Struct, frozen=True):
    """The SIP participant LiveKit created for an outbound call."""

    participant_id: str
    identity: str
    room: str
    sip_call_id: str


class TransferResult(msgspec.Struct, frozen=True):
    transfer_id: str
    status: TransferStatus
    reason: str
    sip_status_code: int | None


class EgressSummary(msgspec.Struct, frozen=True):
    egress_id: str
    room: str
    status: EgressStatus
    files: tuple[str, ...] = ()
    error: str = ""


def room_info(room: api.Room) -> RoomInfo:
    return RoomInfo(
        sid=room.sid,
        name=room.name,
        metadata=room.metadata,
        num_participants=room.num_participants,
        created_at=room.creation_time,
    )


def dispatch_info(dispatch: api.AgentDispatch) -> AgentDispatchInfo:
    return AgentDispatchInfo(
        dispatch_id=dispatch.id,
        agent_name=dispatch.agent_name,
        room=dispatch.room,
        metadata=dispatch.metadata,
    )


def sip_participant(info: api.SIPParticipantInfo) -> SipParticipant:
    return SipParticipant(
        participant_id=info.participant_id,
        identity=info.participant_identity,
        room=info.room_name,
        sip_call_id=info.sip_call_id,
    )


_TRANSFER_STATUS: dict[int, TransferStatus] = {
    api.SIPTransferStatus.STS_TRANSFER_ONGOING: "ongoing",
    api.SIPTransferStatus.STS_TRANSFER_FAILED: "failed",
    api.SIPTransferStatus.STS_TRANSFER_SUCCESSFUL: "successful",
}


def transfer_result(response: api.TransferSIPParticipantResponse) -> TransferResult:
    return TransferResult(
        transfer_id=response.transfer_id,
        status=_TRANSFER_STATUS.get(response.status, "ongoing"),
        reason=api.SIPTransferReason.Name(response.reason).removeprefix("STR_").lower(),
        sip_status_code=int(response.sip_status.code) if response.HasField("sip_status") else None,
    )


def egress_summary(info: api.EgressInfo) -> EgressSummary:
    status = api.EgressStatus.Name(info.status).removeprefix("EGRESS_").lower()
    return EgressSummary(
        egress_id=info.egress_id,
        room=info.room_name,
        status=msgspec.convert(status, EgressStatus),
        files=tuple(f.filename for f in info.file_results),
        error=info.error,
    )
