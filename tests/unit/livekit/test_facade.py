"""The gateway's LiveKit facade against the stand-in, through the real livekit-api client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from livekit import api

from gateway.errors import AppError, UpstreamUnavailable
from gateway.livekit import (
    DTMF_TOPIC,
    AgentSpec,
    LiveKit,
    LiveKitError,
    LiveKitUnavailable,
    SipOutcome,
    sip_outcome,
)
from tests.support.livekit_standin import DialOutcome, LiveKitStandIn, TransferOutcome

pytestmark = pytest.mark.anyio

CALLEE = "+15550142"


@pytest.fixture
async def livekit_facade(livekit: LiveKitStandIn) -> AsyncIterator[LiveKit]:
    async with LiveKit(livekit.url, livekit.api_key, livekit.api_secret) as facade:
        yield facade


@pytest.fixture
async def outbound_trunk(livekit_facade: LiveKit) -> str:
    trunk = await livekit_facade.create_outbound_trunk(
        api.SIPOutboundTrunkInfo(name="carrier", address="sip.carrier.example", numbers=["+15550199"])
    )
    return trunk.sip_trunk_id


async def test_ensure_room_creates_once_and_dispatches_agents(livekit_facade: LiveKit) -> None:
    room = await livekit_facade.ensure_room(
        "call-1", metadata='{"call": "c1"}', empty_timeout=60, agents=[AgentSpec("ivr", '{"flow": "main"}')]
    )
    again = await livekit_facade.ensure_room("call-1")
    assert (room.sid, room.name, room.metadata) == (again.sid, "call-1", '{"call": "c1"}')
    (dispatch,) = await livekit_facade.list_dispatches("call-1")
    assert (dispatch.agent_name, dispatch.metadata) == ("ivr", '{"flow": "main"}')


async def test_dispatch_agent(livekit_facade: LiveKit) -> None:
    dispatch = await livekit_facade.dispatch_agent("call-2", "sales", '{"lang": "en"}')
    assert dispatch.dispatch_id.startswith("AD_")
    assert [d.dispatch_id for d in await livekit_facade.list_dispatches("call-2")] == [dispatch.dispatch_id]


async def test_outbound_call_returns_the_sip_participant(
    livekit_facade: LiveKit, livekit: LiveKitStandIn, outbound_trunk: str
) -> None:
    participant = await livekit_facade.create_sip_participant(
        room="out-1",
        to=CALLEE,
        trunk_id=outbound_trunk,
        identity="callee",
        wait_until_answered=True,
        dtmf="9",
    )
    assert (participant.identity, participant.room) == ("callee", "out-1")
    assert participant.sip_call_id.startswith("SCL_")
    assert livekit.calls[0].dtmf_sent == "9"


@pytest.mark.parametrize(
    ("outcome", "expected"),
    [
        (DialOutcome.busy(), "busy"),
        (DialOutcome.declined(), "declined"),
        (DialOutcome.no_answer(480), "no-answer"),
        (DialOutcome.no_answer(408), "no-answer"),
        (DialOutcome.not_found(), "failed"),
    ],
)
async def test_refused_call_is_a_livekit_error_with_its_outcome(
    livekit_facade: LiveKit,
    livekit: LiveKitStandIn,
    outbound_trunk: str,
    outcome: DialOutcome,
    expected: SipOutcome,
) -> None:
    livekit.script_call(CALLEE, outcome)
    with pytest.raises(LiveKitError) as caught:
        await livekit_facade.create_sip_participant(
            room="out-2", to=CALLEE, trunk_id=outbound_trunk, wait_until_answered=True
        )
    error = caught.value
    assert (error.sip_status_code, error.sip_status, error.outcome) == (
        outcome.sip_status,
        outcome.reason,
        expected,
    )
    assert isinstance(error, AppError)
    assert error.status_code == 502


async def test_transfer_result_and_refusal(
    livekit_facade: LiveKit, livekit: LiveKitStandIn, outbound_trunk: str
) -> None:
    await livekit_facade.create_sip_participant(
        room="xfer", to=CALLEE, trunk_id=outbound_trunk, identity="callee", wait_until_answered=True
    )
    livekit.script_transfer("tel:+15550111", TransferOutcome.rejected(486))
    with pytest.raises(LiveKitError) as caught:
        await livekit_facade.transfer("xfer", "callee", "tel:+15550111")
    assert (caught.value.sip_status_code, caught.value.outcome) == (486, "busy")
    result = await livekit_facade.transfer("xfer", "callee", "tel:+15550111", play_dialtone=True)
    assert (result.status, result.reason, result.sip_status_code) == ("successful", "completed", 200)
    assert result.transfer_id.startswith("STR_")


async def test_hang_up_is_idempotent(livekit_facade: LiveKit, livekit: LiveKitStandIn) -> None:
    livekit.join_participant("hangup-room", "caller", kind="sip")
    assert await livekit_facade.remove_participant("hangup-room", "caller") is True
    assert await livekit_facade.remove_participant("hangup-room", "caller") is False
    assert await livekit_facade.delete_room("hangup-room") is True
    assert await livekit_facade.delete_room("hangup-room") is False


async def test_send_dtmf_reaches_the_worker_in_the_room(
    livekit_facade: LiveKit, livekit: LiveKitStandIn
) -> None:
    await livekit_facade.ensure_room("dtmf-room")
    await livekit_facade.send_dtmf("dtmf-room", "12#", destination_identities=["agent-worker"])
    (packet,) = livekit.data_packets("dtmf-room")
    assert (packet.user.topic, json.loads(packet.user.payload)) == (DTMF_TOPIC, {"digits": "12#"})
    assert list(packet.destination_identities) == ["agent-worker"]


async def test_trunks_and_dispatch_rules(livekit_facade: LiveKit) -> None:
    trunk = await livekit_facade.create_inbound_trunk(
        api.SIPInboundTrunkInfo(name="in", numbers=["+15550100"])
    )
    trunk.name = "renamed"
    assert (await livekit_facade.update_inbound_trunk(trunk.sip_trunk_id, trunk)).name == "renamed"
    assert [t.sip_trunk_id for t in await livekit_facade.list_inbound_trunks(numbers=["+15550100"])] == [
        trunk.sip_trunk_id
    ]
    rule = await livekit_facade.create_dispatch_rule(
        api.SIPDispatchRuleInfo(
            trunk_ids=[trunk.sip_trunk_id],
            numbers=["+15550100"],
            rule=api.SIPDispatchRule(
                dispatch_rule_individual=api.SIPDispatchRuleIndividual(room_prefix="call")
            ),
        )
    )
    with pytest.raises(LiveKitError) as conflict:
        await livekit_facade.create_dispatch_rule(
            rule.__class__(trunk_ids=rule.trunk_ids, numbers=rule.numbers, rule=rule.rule)
        )
    assert (conflict.value.code, conflict.value.status_code) == ("invalid_argument", 422)
    assert [
        r.sip_dispatch_rule_id
        for r in await livekit_facade.list_dispatch_rules(trunk_ids=[trunk.sip_trunk_id])
    ] == [rule.sip_dispatch_rule_id]
    assert await livekit_facade.delete_dispatch_rule(rule.sip_dispatch_rule_id) is True
    assert await livekit_facade.delete_dispatch_rule(rule.sip_dispatch_rule_id) is False
    await livekit_facade.delete_trunk(trunk.sip_trunk_id)
    assert await livekit_facade.list_inbound_trunks() == []


async def test_outbound_trunks(livekit_facade: LiveKit, outbound_trunk: str) -> None:
    (trunk,) = await livekit_facade.list_outbound_trunks()
    trunk.address = "sip2.carrier.example"
    updated = await livekit_facade.update_outbound_trunk(outbound_trunk, trunk)
    assert updated.address == "sip2.carrier.example"


async def test_recording_lifecycle(livekit_facade: LiveKit) -> None:
    await livekit_facade.ensure_room("rec-room")
    started = await livekit_facade.start_room_composite_egress("rec-room", "recordings/rec-room.ogg")
    assert (started.status, started.room) == ("starting", "rec-room")
    await asyncio.sleep(0.01)
    assert [e.status for e in await livekit_facade.list_egress(room="rec-room", active=True)] == ["active"]
    assert (await livekit_facade.stop_egress(started.egress_id)).status == "ending"
    await asyncio.sleep(0.01)
    (done,) = await livekit_facade.list_egress(room="rec-room")
    assert (done.status, done.files) == ("complete", ("recordings/rec-room.ogg",))


async def test_access_token_carries_identity_and_room(
    livekit_facade: LiveKit, livekit: LiveKitStandIn
) -> None:
    token = livekit_facade.access_token(
        "operator-1", "call-9", ttl=timedelta(minutes=5), metadata="m", attributes={"role": "supervisor"}
    )
    claims = api.TokenVerifier(livekit.api_key, livekit.api_secret).verify(token)
    assert (claims.identity, claims.metadata, claims.attributes) == (
        "operator-1",
        "m",
        {"role": "supervisor"},
    )
    assert claims.video is not None
    assert (claims.video.room_join, claims.video.room) == (True, "call-9")


async def test_ping(livekit_facade: LiveKit, livekit: LiveKitStandIn) -> None:
    assert await livekit_facade.ping() is True
    await livekit.set_down("503")
    assert await livekit_facade.ping() is False
    await livekit.set_down("refused")
    assert await livekit_facade.ping() is False
    await livekit.set_down(None)
    assert await livekit_facade.ping() is True


async def test_ping_with_wrong_secret_is_not_ready(livekit: LiveKitStandIn) -> None:
    async with LiveKit(livekit.url, livekit.api_key, "wrong-secret-long-enough-for-hs256") as facade:
        assert await facade.ping() is False
        with pytest.raises(LiveKitError) as caught:
            await facade.ensure_room("x")
    assert caught.value.code == "unauthenticated"
    assert "LIVEKIT_API_SECRET" in caught.value.detail


@pytest.mark.parametrize("mode", ["503", "refused"])
async def test_outage_is_livekit_unavailable(
    livekit_facade: LiveKit, livekit: LiveKitStandIn, mode: str
) -> None:
    await livekit.set_down("503" if mode == "503" else "refused")
    with pytest.raises(LiveKitUnavailable) as caught:
        await livekit_facade.ensure_room("during-outage")
    assert isinstance(caught.value, UpstreamUnavailable)
    assert caught.value.status_code == 503


async def test_unused_facade_explains_how_to_open_it() -> None:
    with pytest.raises(RuntimeError, match="async with"):
        await LiveKit("http://127.0.0.1:9", "k", "s").ensure_room("x")


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (486, "busy"),
        (600, "busy"),
        (603, "declined"),
        (607, "declined"),
        (480, "no-answer"),
        (408, "no-answer"),
        (487, "no-answer"),
        (404, "failed"),
        (503, "failed"),
        (None, "failed"),
    ],
)
def test_sip_outcome(code: int | None, outcome: SipOutcome) -> None:
    assert sip_outcome(code) == outcome
