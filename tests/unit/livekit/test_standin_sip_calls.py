"""Outbound calls and transfers of the stand-in: SIP outcomes as LiveKit reports them to livekit-api."""

from __future__ import annotations

import asyncio
import base64
import time

import pytest
from google.protobuf import any_pb2, empty_pb2
from google.protobuf.unknown_fields import UnknownFieldSet
from livekit import api
from livekit.protocol import models as proto_models
from livekit.protocol import room as proto_room
from livekit.protocol import sip as proto_sip

from tests.support.livekit_standin import DialOutcome, LiveKitStandIn, TransferOutcome

pytestmark = pytest.mark.anyio

CALLEE = "+15550142"


def rpc_status_detail(encoded: str) -> proto_sip.SIPStatus:
    """The `livekit.SIPStatus` packed in a base64 `google.rpc.Status` (its field 3, `details`)."""
    holder = empty_pb2.Empty()
    holder.ParseFromString(base64.b64decode(encoded))
    fields = UnknownFieldSet(holder)
    (detail,) = [fields[i].data for i in range(len(fields)) if fields[i].field_number == 3]
    packed = any_pb2.Any()
    packed.ParseFromString(detail)
    status = proto_sip.SIPStatus()
    assert packed.Unpack(status)
    return status


@pytest.fixture
async def trunk_id(client: api.LiveKitAPI) -> str:
    trunk = await client.sip.create_outbound_trunk(
        proto_sip.CreateSIPOutboundTrunkRequest(
            trunk=proto_sip.SIPOutboundTrunkInfo(
                name="out", address="sip.carrier.example", numbers=["+15550199"]
            )
        )
    )
    return trunk.sip_trunk_id


def dial(
    trunk_id: str, *, wait: bool, to: str = CALLEE, room: str = "call-room"
) -> proto_sip.CreateSIPParticipantRequest:
    return proto_sip.CreateSIPParticipantRequest(
        sip_trunk_id=trunk_id,
        sip_call_to=to,
        room_name=room,
        participant_identity="callee",
        participant_name="Callee",
        wait_until_answered=wait,
        dtmf="1234#",
    )


async def test_answered_call_joins_a_sip_participant(
    client: api.LiveKitAPI, livekit: LiveKitStandIn, trunk_id: str
) -> None:
    info = await client.sip.create_sip_participant(dial(trunk_id, wait=True))
    assert info.sip_call_id.startswith("SCL_")
    assert info.participant_id.startswith("PA_")
    assert (info.participant_identity, info.room_name) == ("callee", "call-room")
    participant = await client.room.get_participant(
        proto_room.RoomParticipantIdentity(room="call-room", identity="callee")
    )
    assert participant.kind == proto_models.ParticipantInfo.Kind.SIP
    assert dict(participant.attributes) == {
        "sip.callID": info.sip_call_id,
        "sip.trunkID": trunk_id,
        "sip.callStatus": "active",
        "sip.phoneNumber": CALLEE,
        "sip.hostname": "sip.carrier.example",
        "sip.trunkPhoneNumber": "+15550199",
    }
    (call,) = livekit.calls
    assert (call.status, call.dtmf_sent, call.direction) == ("active", "1234#", "outbound")


@pytest.mark.parametrize(
    ("sip_status", "reason", "code", "http_status"),
    [
        (486, "Busy Here", "resource_exhausted", 429),
        (603, "Decline", "permission_denied", 403),
        (480, "Temporarily Unavailable", "resource_exhausted", 429),
        (408, "Request Timeout", "deadline_exceeded", 408),
        (404, "Not Found", "not_found", 404),
    ],
)
async def test_refused_call_fails_with_the_sip_status(
    client: api.LiveKitAPI,
    livekit: LiveKitStandIn,
    trunk_id: str,
    sip_status: int,
    reason: str,
    code: str,
    http_status: int,
) -> None:
    livekit.fail_next_call(CALLEE, sip_status)
    with pytest.raises(api.SipCallError) as caught:
        await client.sip.create_sip_participant(dial(trunk_id, wait=True))
    error = caught.value
    assert (error.code, error.status) == (code, http_status)
    assert (error.sip_status_code, error.sip_status) == (sip_status, reason)
    assert error.message == f"twirp error unknown: INVITE failed: sip status: {sip_status}: {reason}"
    status = rpc_status_detail(error.metadata["error_details"])
    assert (status.code, status.status) == (sip_status, reason)
    await asyncio.sleep(0.01)
    assert livekit.calls[0].status == "failed"
    participants = await client.room.list_participants(proto_room.ListParticipantsRequest(room="call-room"))
    assert list(participants.participants) == []


async def test_refusal_is_recorded_as_a_disconnect_reason(
    client: api.LiveKitAPI, livekit: LiveKitStandIn, trunk_id: str
) -> None:
    livekit.script_call(CALLEE, DialOutcome.busy())
    livekit.script_call(CALLEE, DialOutcome.no_answer())
    for _ in range(2):
        with pytest.raises(api.SipCallError):
            await client.sip.create_sip_participant(dial(trunk_id, wait=True))
    assert [d.reason for d in livekit.departures] == [
        proto_models.DisconnectReason.USER_REJECTED,
        proto_models.DisconnectReason.USER_UNAVAILABLE,
    ]


async def test_without_waiting_the_request_returns_while_ringing(
    client: api.LiveKitAPI, livekit: LiveKitStandIn, trunk_id: str
) -> None:
    livekit.script_call(CALLEE, DialOutcome.declined(ring_seconds=10))
    info = await client.sip.create_sip_participant(dial(trunk_id, wait=False))
    ringing = await client.room.get_participant(
        proto_room.RoomParticipantIdentity(room="call-room", identity="callee")
    )
    assert ringing.attributes["sip.callStatus"] == "ringing"
    assert ringing.sid == info.participant_id
    await asyncio.sleep(0.3)
    assert [(d.participant.identity, d.reason) for d in livekit.departures] == [
        ("callee", proto_models.DisconnectReason.USER_REJECTED)
    ]
    assert livekit.calls[0].sip_status == 603


async def test_waiting_lasts_until_the_answer(
    client: api.LiveKitAPI, livekit: LiveKitStandIn, trunk_id: str
) -> None:
    livekit.script_call(CALLEE, DialOutcome.answer(ring_seconds=20))
    started = time.monotonic()
    await client.sip.create_sip_participant(dial(trunk_id, wait=True))
    assert time.monotonic() - started >= 0.19


async def test_removing_a_ringing_participant_cancels_the_call(
    client: api.LiveKitAPI, livekit: LiveKitStandIn, trunk_id: str
) -> None:
    livekit.script_call(CALLEE, DialOutcome.answer(ring_seconds=10))
    await client.sip.create_sip_participant(dial(trunk_id, wait=False))
    await client.room.remove_participant(
        proto_room.RoomParticipantIdentity(room="call-room", identity="callee")
    )
    await asyncio.sleep(0.2)
    assert livekit.calls[0].status == "cancelled"


async def test_dialing_checks_trunk_and_request(client: api.LiveKitAPI) -> None:
    with pytest.raises(api.TwirpError) as missing_trunk:
        await client.sip.create_sip_participant(dial("ST_nonexistent", wait=False))
    assert (missing_trunk.value.code, missing_trunk.value.message) == (
        "not_found",
        "requested sip trunk does not exist",
    )
    with pytest.raises(api.TwirpError) as no_room:
        await client.sip.create_sip_participant(dial("ST_any", wait=False, room=""))
    assert (no_room.value.code, no_room.value.message) == ("invalid_argument", "missing room name")


async def answered(client: api.LiveKitAPI, trunk_id: str) -> proto_sip.SIPParticipantInfo:
    return await client.sip.create_sip_participant(dial(trunk_id, wait=True))


async def test_transfer_completes_and_the_caller_leaves(
    client: api.LiveKitAPI, livekit: LiveKitStandIn, trunk_id: str
) -> None:
    await answered(client, trunk_id)
    result = await client.sip.transfer_sip_participant(
        proto_sip.TransferSIPParticipantRequest(
            room_name="call-room", participant_identity="callee", transfer_to="tel:+15550111"
        )
    )
    assert result.transfer_id.startswith("STR_")
    assert (result.status, result.reason) == (
        proto_sip.SIPTransferStatus.STS_TRANSFER_SUCCESSFUL,
        proto_sip.SIPTransferReason.STR_COMPLETED,
    )
    assert result.sip_status.code == proto_sip.SIPStatusCode.SIP_STATUS_OK
    assert (livekit.calls[0].status, livekit.calls[0].transferred_to) == ("transferred", "tel:+15550111")
    assert livekit.departures[-1].participant.identity == "callee"


async def test_refused_transfer_reports_sip_status_and_reason(
    client: api.LiveKitAPI, livekit: LiveKitStandIn, trunk_id: str
) -> None:
    await answered(client, trunk_id)
    livekit.script_transfer("sip:+15550111@pbx.example", TransferOutcome.rejected(603))
    with pytest.raises(api.SipCallError) as caught:
        await client.sip.transfer_sip_participant(
            proto_sip.TransferSIPParticipantRequest(
                room_name="call-room", participant_identity="callee", transfer_to="sip:+15550111@pbx.example"
            )
        )
    error = caught.value
    assert (error.code, error.sip_status_code, error.sip_status) == ("permission_denied", 603, "Decline")
    assert error.sip_transfer_reason == "STR_REJECTED"
    assert (error.sip_transfer_id or "").startswith("STR_")
    assert livekit.calls[0].status == "active"


async def test_transfer_checks_its_target_and_participant(
    client: api.LiveKitAPI, livekit: LiveKitStandIn
) -> None:
    livekit.join_participant("call-room", "web-user")
    request = proto_sip.TransferSIPParticipantRequest(room_name="call-room", participant_identity="web-user")
    for target, code, message in [
        (
            "+15550111",
            "invalid_argument",
            "transfer_to must be a valid SIP(s) or TEL URI (sip:, sips: or tel:)",
        ),
        (
            "tel:+15550111",
            "invalid_argument",
            "twirp error unknown: no SIP session associated with participant",
        ),
    ]:
        request.transfer_to = target
        with pytest.raises(api.TwirpError) as caught:
            await client.sip.transfer_sip_participant(request)
        assert (caught.value.code, caught.value.message) == (code, message)
    request.participant_identity = "nobody"
    with pytest.raises(api.TwirpError) as missing:
        await client.sip.transfer_sip_participant(request)
    assert missing.value.code == "not_found"
