"""SIP trunks and dispatch rules of the stand-in, through the real livekit-api client."""

from __future__ import annotations

import re

import pytest
from livekit import api
from livekit.protocol import models as proto_models
from livekit.protocol import sip as proto_sip

pytestmark = pytest.mark.anyio


def inbound(
    numbers: list[str], allowed_numbers: list[str] | None = None
) -> proto_sip.CreateSIPInboundTrunkRequest:
    return proto_sip.CreateSIPInboundTrunkRequest(
        trunk=proto_sip.SIPInboundTrunkInfo(
            name="carrier", numbers=numbers, allowed_numbers=allowed_numbers or []
        )
    )


def direct_rule(
    room: str, trunk_ids: list[str], numbers: list[str] | None = None
) -> proto_sip.SIPDispatchRuleInfo:
    return proto_sip.SIPDispatchRuleInfo(
        name=f"to {room}",
        trunk_ids=trunk_ids,
        numbers=numbers or [],
        rule=proto_sip.SIPDispatchRule(dispatch_rule_direct=proto_sip.SIPDispatchRuleDirect(room_name=room)),
    )


async def test_inbound_trunk_lifecycle(client: api.LiveKitAPI) -> None:
    created = await client.sip.create_inbound_trunk(inbound(["+15550100"]))
    assert re.fullmatch(r"ST_\w{12}", created.sip_trunk_id)
    fetched = await client.sip._client.request(  # GetSIPInboundTrunk has no wrapper in livekit-api
        "SIP",
        "GetSIPInboundTrunk",
        proto_sip.GetSIPInboundTrunkRequest(sip_trunk_id=created.sip_trunk_id),
        client.sip._admin_headers(),
        proto_sip.GetSIPInboundTrunkResponse,
    )
    assert fetched.trunk == created
    updated = await client.sip.update_inbound_trunk_fields(
        created.sip_trunk_id, numbers=proto_models.ListUpdate(add=["+15550101"]), name="renamed"
    )
    assert (list(updated.numbers), updated.name) == (["+15550100", "+15550101"], "renamed")
    listed = await client.sip.list_inbound_trunk(proto_sip.ListSIPInboundTrunkRequest(numbers=["+15550101"]))
    assert [t.sip_trunk_id for t in listed.items] == [created.sip_trunk_id]
    deleted = await client.sip.delete_trunk(
        proto_sip.DeleteSIPTrunkRequest(sip_trunk_id=created.sip_trunk_id)
    )
    assert deleted.sip_trunk_id == created.sip_trunk_id
    assert (await client.sip.list_inbound_trunk(proto_sip.ListSIPInboundTrunkRequest())).items == []


async def test_inbound_trunk_needs_a_security_field(client: api.LiveKitAPI) -> None:
    with pytest.raises(api.TwirpError) as caught:
        await client.sip.create_inbound_trunk(inbound([]))
    assert caught.value.code == "invalid_argument"
    assert caught.value.message.startswith("for security, one of the fields must be set")


async def test_inbound_trunks_may_not_claim_the_same_number(client: api.LiveKitAPI) -> None:
    first = await client.sip.create_inbound_trunk(inbound(["+15550100"]))
    with pytest.raises(api.TwirpError) as caught:
        await client.sip.create_inbound_trunk(inbound(["+1 (555) 0100"]))
    assert caught.value.code == "invalid_argument"
    assert caught.value.message == (
        f'Conflicting inbound SIP Trunks: "<new>" and "{first.sip_trunk_id}", '
        'using the same number(s) ["+1 (555) 0100"] without AllowedNumbers set'
    )


async def test_inbound_trunks_may_share_a_number_for_different_callers(client: api.LiveKitAPI) -> None:
    await client.sip.create_inbound_trunk(inbound(["+15550100"], allowed_numbers=["+14155550001"]))
    await client.sip.create_inbound_trunk(inbound(["+15550100"], allowed_numbers=["+14155550002"]))
    with pytest.raises(api.TwirpError) as caught:
        await client.sip.create_inbound_trunk(inbound(["+15550100"], allowed_numbers=["+14155550002"]))
    assert "AllowedNumber" in caught.value.message


async def test_outbound_trunk_lifecycle(client: api.LiveKitAPI) -> None:
    created = await client.sip.create_outbound_trunk(
        proto_sip.CreateSIPOutboundTrunkRequest(
            trunk=proto_sip.SIPOutboundTrunkInfo(
                name="out", address="sip.carrier.example", numbers=["+15550199"]
            )
        )
    )
    updated = await client.sip.update_outbound_trunk_fields(
        created.sip_trunk_id, address="sip2.carrier.example"
    )
    assert updated.address == "sip2.carrier.example"
    listed = await client.sip.list_outbound_trunk(proto_sip.ListSIPOutboundTrunkRequest())
    assert [t.address for t in listed.items] == ["sip2.carrier.example"]


@pytest.mark.parametrize(
    ("trunk", "message"),
    [
        (proto_sip.SIPOutboundTrunkInfo(address="sip.example"), "no trunk numbers specified"),
        (proto_sip.SIPOutboundTrunkInfo(numbers=["+1555"]), "no outbound address specified"),
        (
            proto_sip.SIPOutboundTrunkInfo(numbers=["+1555"], address="sip:user@host"),
            "trunk address should be a hostname or IP, not SIP URI",
        ),
    ],
)
async def test_outbound_trunk_is_validated(
    client: api.LiveKitAPI, trunk: proto_sip.SIPOutboundTrunkInfo, message: str
) -> None:
    with pytest.raises(api.TwirpError) as caught:
        await client.sip.create_outbound_trunk(proto_sip.CreateSIPOutboundTrunkRequest(trunk=trunk))
    assert (caught.value.code, caught.value.message) == ("invalid_argument", message)


async def test_updating_a_missing_trunk_is_not_found(client: api.LiveKitAPI) -> None:
    with pytest.raises(api.TwirpError) as caught:
        await client.sip.update_inbound_trunk_fields("ST_missing", name="x")
    assert (caught.value.code, caught.value.message) == ("not_found", "requested sip trunk does not exist")


async def test_dispatch_rule_lifecycle(client: api.LiveKitAPI) -> None:
    trunk = await client.sip.create_inbound_trunk(inbound(["+15550100"]))
    rule = await client.sip.create_dispatch_rule(
        proto_sip.CreateSIPDispatchRuleRequest(dispatch_rule=direct_rule("lobby", [trunk.sip_trunk_id]))
    )
    assert re.fullmatch(r"SDR_\w{12}", rule.sip_dispatch_rule_id)
    renamed = await client.sip.update_dispatch_rule_fields(rule.sip_dispatch_rule_id, name="front desk")
    assert renamed.name == "front desk"
    listed = await client.sip.list_dispatch_rule(
        proto_sip.ListSIPDispatchRuleRequest(trunk_ids=[trunk.sip_trunk_id])
    )
    assert [r.name for r in listed.items] == ["front desk"]
    await client.sip.delete_dispatch_rule(
        proto_sip.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=rule.sip_dispatch_rule_id)
    )
    with pytest.raises(api.TwirpError) as caught:
        await client.sip.delete_dispatch_rule(
            proto_sip.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=rule.sip_dispatch_rule_id)
        )
    assert (caught.value.code, caught.value.message) == (
        "not_found",
        "requested sip dispatch rule does not exist",
    )


async def test_dispatch_rules_conflict_on_same_trunk_and_number(client: api.LiveKitAPI) -> None:
    trunk = await client.sip.create_inbound_trunk(inbound(["+15550100", "+15550101"]))
    first = await client.sip.create_dispatch_rule(
        proto_sip.CreateSIPDispatchRuleRequest(
            dispatch_rule=direct_rule("a", [trunk.sip_trunk_id], ["+15550100"])
        )
    )
    await client.sip.create_dispatch_rule(
        proto_sip.CreateSIPDispatchRuleRequest(
            dispatch_rule=direct_rule("b", [trunk.sip_trunk_id], ["+15550101"])
        )
    )
    with pytest.raises(api.TwirpError) as caught:
        await client.sip.create_dispatch_rule(
            proto_sip.CreateSIPDispatchRuleRequest(
                dispatch_rule=direct_rule("c", [trunk.sip_trunk_id], ["+15550100"])
            )
        )
    assert caught.value.code == "invalid_argument"
    assert caught.value.message == (
        "Dispatch rule for the same trunk, inbound number, number, and PIN combination already exists in "
        f'dispatch rule "{first.sip_dispatch_rule_id}" "to a"'
    )


async def test_dispatch_rule_needs_a_rule(client: api.LiveKitAPI) -> None:
    with pytest.raises(api.TwirpError) as caught:
        await client.sip.create_dispatch_rule(
            proto_sip.CreateSIPDispatchRuleRequest(dispatch_rule=proto_sip.SIPDispatchRuleInfo(name="empty"))
        )
    assert (caught.value.code, caught.value.message) == ("invalid_argument", "missing rule")
