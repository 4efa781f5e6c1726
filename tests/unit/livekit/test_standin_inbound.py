"""Inbound calls: trunk and dispatch-rule matching as LiveKit documents it, room naming, agents, attributes."""

from __future__ import annotations

import asyncio
import re

import pytest
from livekit import api
from livekit.protocol import agent_dispatch as proto_agent
from livekit.protocol import models as proto_models
from livekit.protocol import room as proto_room
from livekit.protocol import sip as proto_sip

from tests.support.livekit_standin import LiveKitStandIn

pytestmark = pytest.mark.anyio

CALLER = "+14155550123"
DID = "+15550100"


async def make_trunk(client: api.LiveKitAPI, **fields: object) -> str:
    info = proto_sip.SIPInboundTrunkInfo(name="carrier", numbers=[DID])
    for name, value in fields.items():
        target = getattr(info, name)
        if isinstance(value, dict):
            target.update(value)
        elif isinstance(value, list):
            target.extend(value)
        else:
            setattr(info, name, value)
    trunk = await client.sip.create_inbound_trunk(proto_sip.CreateSIPInboundTrunkRequest(trunk=info))
    return trunk.sip_trunk_id


async def make_rule(client: api.LiveKitAPI, rule: proto_sip.SIPDispatchRule, **fields: object) -> str:
    info = proto_sip.SIPDispatchRuleInfo(rule=rule)
    for name, value in fields.items():
        target = getattr(info, name)
        if isinstance(value, list):
            target.extend(value)
        elif isinstance(value, proto_room.RoomConfiguration):
            target.CopyFrom(value)
        else:
            setattr(info, name, value)
    created = await client.sip.create_dispatch_rule(
        proto_sip.CreateSIPDispatchRuleRequest(dispatch_rule=info)
    )
    return created.sip_dispatch_rule_id


def direct(room: str, pin: str = "") -> proto_sip.SIPDispatchRule:
    return proto_sip.SIPDispatchRule(
        dispatch_rule_direct=proto_sip.SIPDispatchRuleDirect(room_name=room, pin=pin)
    )


def individual(prefix: str, *, no_randomness: bool = False) -> proto_sip.SIPDispatchRule:
    return proto_sip.SIPDispatchRule(
        dispatch_rule_individual=proto_sip.SIPDispatchRuleIndividual(
            room_prefix=prefix, no_randomness=no_randomness
        )
    )


def callee(prefix: str) -> proto_sip.SIPDispatchRule:
    return proto_sip.SIPDispatchRule(dispatch_rule_callee=proto_sip.SIPDispatchRuleCallee(room_prefix=prefix))


async def test_direct_rule_puts_the_caller_in_its_room(
    client: api.LiveKitAPI, livekit: LiveKitStandIn
) -> None:
    trunk_id = await make_trunk(client)
    rule_id = await make_rule(client, direct("front-desk"), trunk_ids=[trunk_id])
    result = livekit.simulate_inbound_call(
        CALLER, DID, "203.0.113.5", {}, from_host="carrier.example", answer_after=10
    )
    assert (result.outcome, result.sip_status) == ("accepted", 200)
    assert (result.room_name, result.trunk_id, result.rule_id) == ("front-desk", trunk_id, rule_id)
    participant = await client.room.get_participant(
        proto_room.RoomParticipantIdentity(room="front-desk", identity=result.participant_identity)
    )
    assert participant.identity == "sip_" + CALLER
    assert participant.name == "Phone " + CALLER
    assert participant.kind == proto_models.ParticipantInfo.Kind.SIP
    assert dict(participant.attributes) == {
        "sip.callID": result.call_id,
        "sip.trunkID": trunk_id,
        "sip.ruleID": rule_id,
        "sip.phoneNumber": CALLER,
        "sip.hostname": "carrier.example",
        "sip.trunkPhoneNumber": DID,
        "sip.callStatus": "ringing",
    }
    await asyncio.sleep(0.2)
    answered = await client.room.get_participant(
        proto_room.RoomParticipantIdentity(room="front-desk", identity=result.participant_identity)
    )
    assert answered.attributes["sip.callStatus"] == "active"


async def test_individual_rule_gives_each_caller_a_room(
    client: api.LiveKitAPI, livekit: LiveKitStandIn
) -> None:
    trunk_id = await make_trunk(client)
    await make_rule(client, individual("call"), trunk_ids=[trunk_id])
    first = livekit.simulate_inbound_call(CALLER, DID)
    second = livekit.simulate_inbound_call(CALLER, DID)
    assert re.fullmatch(rf"call_\{CALLER}_\w{{12}}", first.room_name)
    assert first.room_name != second.room_name


async def test_individual_rule_without_randomness(client: api.LiveKitAPI, livekit: LiveKitStandIn) -> None:
    await make_rule(client, individual("call", no_randomness=True), trunk_ids=[await make_trunk(client)])
    assert livekit.simulate_inbound_call(CALLER, DID).room_name == f"call_{CALLER}"


async def test_callee_rule_names_the_room_after_the_called_number(
    client: api.LiveKitAPI, livekit: LiveKitStandIn
) -> None:
    await make_rule(client, callee("did"), trunk_ids=[await make_trunk(client)])
    assert livekit.simulate_inbound_call(CALLER, DID).room_name == f"did_{DID}"


async def test_call_without_a_matching_rule_is_dropped(
    client: api.LiveKitAPI, livekit: LiveKitStandIn
) -> None:
    await make_trunk(client)
    result = livekit.simulate_inbound_call(CALLER, DID)
    assert (result.outcome, result.sip_status) == ("dropped", 0)
    assert (await client.room.list_rooms(proto_room.ListRoomsRequest())).rooms == []
    assert livekit.webhook_events == []


async def test_trunk_refusing_the_source_address_leaves_only_wildcard_rules(
    client: api.LiveKitAPI, livekit: LiveKitStandIn
) -> None:
    trunk_id = await make_trunk(client, allowed_addresses=["198.51.100.0/24"])
    await make_rule(client, direct("trusted"), trunk_ids=[trunk_id])
    assert livekit.simulate_inbound_call(CALLER, DID, "198.51.100.7").room_name == "trusted"
    assert livekit.simulate_inbound_call(CALLER, DID, "203.0.113.9").outcome == "dropped"
    await make_rule(client, direct("anyone"))
    assert livekit.simulate_inbound_call(CALLER, DID, "203.0.113.9").room_name == "anyone"


async def test_most_specific_rule_wins(client: api.LiveKitAPI, livekit: LiveKitStandIn) -> None:
    trunk_id = await make_trunk(client)
    await make_rule(client, direct("wildcard"))
    assert livekit.simulate_inbound_call(CALLER, DID).room_name == "wildcard"
    await make_rule(client, direct("trunk-wide"), trunk_ids=[trunk_id])
    assert livekit.simulate_inbound_call(CALLER, DID).room_name == "trunk-wide"
    await make_rule(client, direct("for-this-number"), trunk_ids=[trunk_id], numbers=[DID])
    assert livekit.simulate_inbound_call(CALLER, DID).room_name == "for-this-number"
    await make_rule(client, direct("vip"), trunk_ids=[trunk_id], numbers=[DID], inbound_numbers=[CALLER])
    assert livekit.simulate_inbound_call(CALLER, DID).room_name == "vip"
    assert livekit.simulate_inbound_call("+14155550999", DID).room_name == "for-this-number"


async def test_room_config_dispatches_its_agents(client: api.LiveKitAPI, livekit: LiveKitStandIn) -> None:
    config = proto_room.RoomConfiguration(
        agents=[proto_agent.RoomAgentDispatch(agent_name="ivr", metadata="m")]
    )
    await make_rule(client, individual("in"), trunk_ids=[await make_trunk(client)], room_config=config)
    result = livekit.simulate_inbound_call(CALLER, DID)
    assert result.agents_dispatched == ("ivr",)
    (dispatch,) = await client.agent_dispatch.list_dispatch(result.room_name)
    assert (dispatch.agent_name, dispatch.metadata) == ("ivr", "m")


async def test_headers_become_attributes(client: api.LiveKitAPI, livekit: LiveKitStandIn) -> None:
    trunk_id = await make_trunk(
        client,
        headers_to_attributes={"X-Customer": "customer.id"},
        include_headers=proto_sip.SIPHeaderOptions.SIP_X_HEADERS,
    )
    await make_rule(client, direct("h"), trunk_ids=[trunk_id])
    result = livekit.simulate_inbound_call(
        CALLER, DID, headers={"X-Customer": "c-42", "X-Twilio-CallSid": "CA123", "User-Agent": "carrier"}
    )
    attributes = (
        await client.room.get_participant(
            proto_room.RoomParticipantIdentity(room="h", identity=result.participant_identity)
        )
    ).attributes
    assert attributes["customer.id"] == "c-42"
    assert attributes["sip.twilio.callSid"] == "CA123"
    assert attributes["sip.h.x-customer"] == "c-42"
    assert "sip.h.user-agent" not in attributes


async def test_trunk_with_credentials_challenges_the_caller(
    client: api.LiveKitAPI, livekit: LiveKitStandIn
) -> None:
    trunk_id = await make_trunk(client, auth_username="carrier", auth_password="s3cret")
    await make_rule(client, direct("auth"), trunk_ids=[trunk_id])
    assert livekit.simulate_inbound_call(CALLER, DID).sip_status == 401
    accepted = livekit.simulate_inbound_call(CALLER, DID, username="carrier", password="s3cret")
    assert accepted.outcome == "accepted"


async def test_pin_protected_rule(client: api.LiveKitAPI, livekit: LiveKitStandIn) -> None:
    await make_rule(client, direct("secret-room", pin="4321"), trunk_ids=[await make_trunk(client)])
    assert livekit.simulate_inbound_call(CALLER, DID).outcome == "pin_required"
    assert livekit.simulate_inbound_call(CALLER, DID, pin="0000").outcome == "dropped"
    assert livekit.simulate_inbound_call(CALLER, DID, pin="4321").room_name == "secret-room"


async def test_hidden_phone_number(client: api.LiveKitAPI, livekit: LiveKitStandIn) -> None:
    await make_rule(client, direct("private"), trunk_ids=[await make_trunk(client)], hide_phone_number=True)
    result = livekit.simulate_inbound_call(CALLER, DID)
    assert re.fullmatch(r"sip_[0-9a-f]{16}", result.participant_identity)
    participant = await client.room.get_participant(
        proto_room.RoomParticipantIdentity(room="private", identity=result.participant_identity)
    )
    assert participant.name == "Phone 0123"
    assert "sip.phoneNumber" not in participant.attributes
