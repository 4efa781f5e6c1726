"""Webhooks of the stand-in, verified and parsed by livekit-api's own `WebhookReceiver`."""

from __future__ import annotations

import json
import time

import pytest
from livekit import api
from livekit.protocol import models as proto_models
from livekit.protocol import room as proto_room
from livekit.protocol import sip as proto_sip

from tests.support.livekit_standin import LiveKitStandIn, WebhookSink

pytestmark = pytest.mark.anyio


async def inbound_call(client: api.LiveKitAPI, livekit: LiveKitStandIn) -> str:
    trunk = await client.sip.create_inbound_trunk(
        proto_sip.CreateSIPInboundTrunkRequest(trunk=proto_sip.SIPInboundTrunkInfo(numbers=["+15550100"]))
    )
    await client.sip.create_dispatch_rule(
        proto_sip.CreateSIPDispatchRuleRequest(
            dispatch_rule=proto_sip.SIPDispatchRuleInfo(
                trunk_ids=[trunk.sip_trunk_id],
                rule=proto_sip.SIPDispatchRule(
                    dispatch_rule_direct=proto_sip.SIPDispatchRuleDirect(room_name="inbound-room")
                ),
            )
        )
    )
    result = livekit.simulate_inbound_call("+14155550123", "+15550100")
    return result.participant_identity


async def test_every_webhook_verifies_with_livekit_api(
    client: api.LiveKitAPI, livekit: LiveKitStandIn, sink: WebhookSink, receiver: api.WebhookReceiver
) -> None:
    identity = await inbound_call(client, livekit)
    await client.room.remove_participant(
        proto_room.RoomParticipantIdentity(room="inbound-room", identity=identity)
    )
    await client.room.delete_room(proto_room.DeleteRoomRequest(room="inbound-room"))
    await livekit.webhooks_delivered(4)
    events = [receiver.receive(posted.body, posted.authorization) for posted in sink.received]
    assert [e.event for e in events] == [
        "room_started",
        "participant_joined",
        "participant_left",
        "room_finished",
    ]
    assert {posted.content_type for posted in sink.received} == {"application/webhook+json"}
    assert len({e.id for e in events}) == 4
    assert all(e.id.startswith("EV_") and abs(e.created_at - time.time()) < 60 for e in events)
    joined = events[1]
    assert joined.room.name == "inbound-room"
    assert joined.participant.kind == proto_models.ParticipantInfo.Kind.SIP
    assert joined.participant.attributes["sip.callStatus"] == "ringing"
    assert joined.participant.attributes["sip.phoneNumber"] == "+14155550123"
    left = events[2]
    assert left.participant.state == proto_models.ParticipantInfo.State.DISCONNECTED
    assert left.participant.disconnect_reason == proto_models.DisconnectReason.PARTICIPANT_REMOVED


async def test_webhook_body_uses_livekit_json_names(
    client: api.LiveKitAPI, livekit: LiveKitStandIn, sink: WebhookSink
) -> None:
    await client.room.create_room(proto_room.CreateRoomRequest(name="json-room"))
    await livekit.webhooks_delivered(1)
    body = json.loads(sink.received[0].body)
    assert body["event"] == "room_started"
    assert body["room"]["name"] == "json-room"
    assert {"createdAt", "id"} <= body.keys()
    assert "emptyTimeout" in body["room"]


async def test_tampered_or_foreign_webhooks_are_rejected(
    client: api.LiveKitAPI, livekit: LiveKitStandIn, sink: WebhookSink, receiver: api.WebhookReceiver
) -> None:
    await client.room.create_room(proto_room.CreateRoomRequest(name="signed"))
    await livekit.webhooks_delivered(1)
    posted = sink.received[0]
    with pytest.raises(Exception, match="hash mismatch"):
        receiver.receive(posted.body.replace("signed", "forged"), posted.authorization)
    stranger = api.WebhookReceiver(api.TokenVerifier(livekit.api_key, "another-secret-long-enough-for-hs256"))
    with pytest.raises(Exception, match="Signature"):
        stranger.receive(posted.body, posted.authorization)


async def test_failed_deliveries_are_retried() -> None:
    async with WebhookSink(status=500) as failing, LiveKitStandIn(webhook_url=failing.url) as livekit:
        livekit.join_participant("retry-room", "someone")
        deliveries = await livekit.webhooks_delivered(2)
    assert [(d.event, d.status, d.attempts) for d in deliveries] == [
        ("room_started", 500, 3),
        ("participant_joined", 500, 3),
    ]
    assert len(failing.received) == 6


async def test_unreachable_receiver_is_reported() -> None:
    async with WebhookSink() as closed:
        url = closed.url
    async with LiveKitStandIn(webhook_url=url, webhook_attempts=2) as livekit:
        livekit.join_participant("lonely", "someone")
        (first, _) = await livekit.webhooks_delivered(2)
    assert (first.status, first.attempts) == (None, 2)
    assert first.error
