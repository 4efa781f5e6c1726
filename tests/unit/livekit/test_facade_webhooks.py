"""The gateway's LiveKit webhook verification and parsing, on webhooks the stand-in signs like LiveKit."""

from __future__ import annotations

import time

import jwt
import pytest
from livekit import api

from gateway.livekit import LiveKitEvent, LiveKitWebhookRejected, parse_event, verify_webhook
from tests.support.livekit_standin import LiveKitStandIn, ReceivedWebhook, WebhookSink
from tests.support.livekit_standin.webhooks import sign_body

pytestmark = pytest.mark.anyio


async def sip_call_webhooks(livekit: LiveKitStandIn, sink: WebhookSink) -> list[ReceivedWebhook]:
    async with api.LiveKitAPI(livekit.url, livekit.api_key, livekit.api_secret) as client:
        trunk = await client.sip.create_inbound_trunk(
            api.CreateSIPInboundTrunkRequest(trunk=api.SIPInboundTrunkInfo(numbers=["+15550100"]))
        )
        await client.sip.create_dispatch_rule(
            api.CreateSIPDispatchRuleRequest(
                dispatch_rule=api.SIPDispatchRuleInfo(
                    trunk_ids=[trunk.sip_trunk_id],
                    rule=api.SIPDispatchRule(
                        dispatch_rule_direct=api.SIPDispatchRuleDirect(room_name="desk")
                    ),
                )
            )
        )
    result = livekit.simulate_inbound_call("+14155550123", "+15550100")
    livekit.hang_up("desk", result.participant_identity)
    await livekit.webhooks_delivered(3)
    return sink.received


def verify(livekit: LiveKitStandIn, posted: ReceivedWebhook, *, secret: str | None = None) -> LiveKitEvent:
    return verify_webhook(
        posted.body.encode(),
        posted.authorization,
        api_key=livekit.api_key,
        api_secret=secret or livekit.api_secret,
    )


async def test_sip_call_webhooks_become_typed_events(livekit: LiveKitStandIn, sink: WebhookSink) -> None:
    started, joined, left = [verify(livekit, posted) for posted in await sip_call_webhooks(livekit, sink)]
    assert (started.event, started.room is not None and started.room.name) == ("room_started", "desk")
    assert joined.event == "participant_joined"
    assert joined.participant is not None
    assert (joined.participant.kind, joined.participant.state) == ("sip", "active")
    sip = joined.participant.sip
    assert sip is not None
    assert (sip.call_status, sip.phone_number, sip.trunk_phone_number) == (
        "ringing",
        "+14155550123",
        "+15550100",
    )
    assert sip.call_id.startswith("SCL_")
    assert sip.trunk_id.startswith("ST_")
    assert sip.rule_id.startswith("SDR_")
    assert left.participant is not None
    assert (left.event, left.participant.disconnect_reason) == ("participant_left", "client_initiated")
    assert len({started.id, joined.id, left.id}) == 3


async def test_forged_unsigned_and_tampered_webhooks_are_rejected(
    livekit: LiveKitStandIn, sink: WebhookSink
) -> None:
    posted = (await sip_call_webhooks(livekit, sink))[0]
    with pytest.raises(LiveKitWebhookRejected):
        verify(livekit, posted, secret="someone-elses-secret-long-enough-for-hs256")
    with pytest.raises(LiveKitWebhookRejected) as unsigned:
        verify_webhook(posted.body, None, api_key=livekit.api_key, api_secret=livekit.api_secret)
    assert unsigned.value.status_code == 401
    tampered = ReceivedWebhook(
        body=posted.body.replace("desk", "dusk"),
        authorization=posted.authorization,
        content_type=posted.content_type,
    )
    with pytest.raises(LiveKitWebhookRejected):
        verify(livekit, tampered)


def test_parse_event_of_an_egress() -> None:
    event = api.WebhookEvent(
        event="egress_ended",
        id="EV_x",
        created_at=1_700_000_000,
        room=api.Room(sid="RM_x", name="r"),
        egress_info=api.EgressInfo(
            egress_id="EG_x",
            room_name="r",
            status=api.EgressStatus.EGRESS_FAILED,
            error="upload failed",
            file_results=[api.FileInfo(filename="r.ogg")],
        ),
    )
    parsed = parse_event(event)
    assert parsed.egress is not None
    assert (parsed.event, parsed.created_at, parsed.participant) == ("egress_ended", 1_700_000_000, None)
    assert (parsed.egress.status, parsed.egress.files, parsed.egress.error) == (
        "failed",
        ("r.ogg",),
        "upload failed",
    )


def test_parse_event_of_a_non_sip_participant() -> None:
    event = api.WebhookEvent(
        event="participant_joined",
        id="EV_y",
        participant=api.ParticipantInfo(identity="agent", kind=api.ParticipantInfo.Kind.AGENT),
    )
    parsed = parse_event(event)
    assert parsed.participant is not None
    assert (parsed.participant.kind, parsed.participant.sip, parsed.room) == ("agent", None, None)


KEY, SECRET = "APIwebhooks", "a-secret-long-enough-for-hs256-signatures"


def test_a_token_without_the_body_digest_is_refused() -> None:
    now = int(time.time())
    token = jwt.encode({"iss": KEY, "nbf": now, "exp": now + 60}, SECRET, algorithm="HS256")
    with pytest.raises(LiveKitWebhookRejected, match="carries no sha256"):
        verify_webhook(b'{"event":"room_started"}', f"Bearer {token}", api_key=KEY, api_secret=SECRET)


def test_a_signed_body_that_is_not_an_event_is_refused_saying_why() -> None:
    body = '{"event":"room_started","createdAt":true}'
    with pytest.raises(LiveKitWebhookRejected, match="createdAt must be an integer") as refused:
        verify_webhook(body, f"Bearer {sign_body(body, KEY, SECRET)}", api_key=KEY, api_secret=SECRET)
    assert refused.value.status_code == 401


def test_an_expired_token_is_refused() -> None:
    body = '{"event":"room_started"}'
    stale = sign_body(body, KEY, SECRET, now=time.time() - 3600)
    with pytest.raises(LiveKitWebhookRejected, match="ExpiredSignatureError"):
        verify_webhook(body, f"Bearer {stale}", api_key=KEY, api_secret=SECRET)
