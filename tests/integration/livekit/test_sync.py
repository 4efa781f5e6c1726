"""The reconciler against the LiveKit stand-in: desired state in, LiveKit ids back, drift found and repaired."""

from __future__ import annotations

from typing import Any

from livekit import api
from sqlalchemy import update

from gateway.db.models import Trunk
from gateway.livekit.bridging import BRIDGE_KEY
from gateway.livekit.desired import mark_of
from gateway.services import services
from tests.conftest import run_db
from tests.integration.livekit.conftest import DID, Gateway, eventually, inbound_setup, outbound_setup

SECOND_DID = "+14155550101"


def _is_bridge(info: api.SIPInboundTrunkInfo | api.SIPDispatchRuleInfo) -> bool:
    mark = mark_of(info)
    return mark is not None and mark.object_id == BRIDGE_KEY


def _inbound(gw: Gateway) -> list[api.SIPInboundTrunkInfo]:
    """LiveKit's inbound trunks but the project's managed bridge trunk (`test_bridge_objects...`)."""
    with gw.livekit.world.lock:
        trunks = [t for t in gw.livekit.world.inbound_trunks.values() if not _is_bridge(t)]
    return sorted(trunks, key=lambda t: t.name)


def _rules(gw: Gateway) -> list[api.SIPDispatchRuleInfo]:
    """LiveKit's dispatch rules but the project's managed bridge rule."""
    with gw.livekit.world.lock:
        rules = [r for r in gw.livekit.world.dispatch_rules.values() if not _is_bridge(r)]
    return sorted(rules, key=lambda r: r.name)


def test_trunks_numbers_and_compiled_rules_reach_livekit_with_their_ids(gateway: Gateway) -> None:
    trunk = inbound_setup(gateway)
    gateway.create("/v1/numbers", {"number": SECOND_DID, "trunk_id": trunk["id"]})
    gateway.sync()

    (livekit_trunk,) = _inbound(gateway)
    assert sorted(livekit_trunk.numbers) == [DID, SECOND_DID]
    assert gateway.get(f"/v1/trunks/{trunk['id']}").json()["livekit_trunk_id"] == livekit_trunk.sip_trunk_id
    by_agent = {r.room_config.agents[0].agent_name: r for r in _rules(gateway)}
    assert list(by_agent["receptionist"].numbers) == [DID]
    assert list(by_agent["trunkline-router"].numbers) == [SECOND_DID], "unrouted numbers go to the router"
    assert all(list(r.trunk_ids) == [livekit_trunk.sip_trunk_id] for r in by_agent.values())

    compiled = gateway.get("/v1/dispatch-rules", params={"source": "compiled"}).json()["items"]
    assert {c["livekit_rule_id"] for c in compiled} == {r.sip_dispatch_rule_id for r in by_agent.values()}
    assert all(c["trunk_ids"] == [trunk["id"]] for c in compiled)

    view = gateway.get("/v1/sync").json()
    assert (view["status"], view["in_sync"], view["drift"]) == ("ok", True, [])
    assert {o["status"] for o in view["objects"]} == {"synced"}
    assert gateway.sync()["operations"] == [], "a second sync has nothing to do"


def test_outbound_trunk_gets_its_write_only_password_and_manual_rules_their_trunk_ids(
    gateway: Gateway,
) -> None:
    outbound = outbound_setup(gateway)
    inbound = gateway.create("/v1/trunks", {"direction": "inbound", "name": "pbx", "numbers": [SECOND_DID]})
    gateway.create(
        "/v1/dispatch-rules",
        {
            "name": "front desk",
            "kind": "direct",
            "room_name": "front-desk",
            "trunk_ids": [inbound["id"]],
            "agents": [{"agent_name": "caller", "metadata": '{"desk": 1}'}],
        },
    )
    gateway.sync()

    with gateway.livekit.world.lock:
        (out,) = gateway.livekit.world.outbound_trunks.values()
    (rule,) = _rules(gateway)
    (inn,) = _inbound(gateway)
    assert (out.address, out.auth_username, out.auth_password) == (
        "sip.carrier.example",
        "trunkline",
        "out-secret-1",
    )
    assert "out-secret-1" not in gateway.get(f"/v1/trunks/{outbound['id']}").text
    assert list(rule.trunk_ids) == [inn.sip_trunk_id]
    assert rule.rule.dispatch_rule_direct.room_name == "front-desk"
    assert rule.room_config.agents[0].metadata == '{"desk": 1}'
    assert rule.attributes["trunkline.project_id"] == out.metadata.split('"project_id":"')[1].split('"')[0]


def test_changes_are_synced_in_the_background_without_asking(gateway: Gateway) -> None:
    trunk = gateway.create("/v1/trunks", {"direction": "inbound", "name": "carrier-in", "numbers": [DID]})
    eventually(lambda: [t.numbers for t in _inbound(gateway)] == [[DID]])
    gateway.create("/v1/numbers", {"number": SECOND_DID, "trunk_id": trunk["id"]})
    eventually(lambda: [sorted(t.numbers) for t in _inbound(gateway)] == [[DID, SECOND_DID]])
    assert gateway.http.delete(f"/v1/trunks/{trunk['id']}").status_code == 204
    eventually(lambda: _inbound(gateway) == [] or None)


def test_drift_in_livekit_is_reported_and_repaired_and_unmanaged_objects_are_left_alone(
    gateway: Gateway,
) -> None:
    inbound_setup(gateway)
    gateway.settle()
    (rule,) = _rules(gateway)
    (trunk,) = _inbound(gateway)

    async def tamper(client: api.LiveKitAPI) -> None:
        await client.sip.delete_dispatch_rule(
            api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=rule.sip_dispatch_rule_id)
        )
        changed = api.SIPInboundTrunkInfo()
        changed.CopyFrom(trunk)
        del changed.numbers[:]
        changed.numbers.append("+14155550199")
        await client.sip.update_inbound_trunk(trunk.sip_trunk_id, changed)
        foreign = api.SIPInboundTrunkInfo(name="someone else's", numbers=["+14155550188"])
        await client.sip.create_inbound_trunk(api.CreateSIPInboundTrunkRequest(trunk=foreign))

    gateway.lk(tamper)
    view = gateway.get("/v1/sync").json()
    assert view["in_sync"] is False
    drift = {(d["action"], d["kind"]): d for d in view["drift"]}
    assert drift[("update", "inbound_trunk")]["drift"] is True
    assert drift[("update", "inbound_trunk")]["reason"] == "changed in LiveKit outside Trunkline"
    assert drift[("create", "dispatch_rule")]["reason"] == "deleted in LiveKit"
    assert len(_rules(gateway)) == 0, "GET /v1/sync only reports"

    report = gateway.sync()
    assert {(o["action"], o["kind"]) for o in report["operations"]} == set(drift)
    names = {t.name: list(t.numbers) for t in _inbound(gateway)}
    assert names == {"carrier-in": [DID], "someone else's": ["+14155550188"]}
    assert len(_rules(gateway)) == 1
    assert gateway.get("/v1/sync").json()["in_sync"] is True


def test_an_orphan_created_by_a_crashed_run_is_adopted_not_duplicated(gateway: Gateway) -> None:
    inbound_setup(gateway)
    gateway.settle()
    (trunk,) = _inbound(gateway)

    # The database lost the LiveKit id (a run that crashed after creating the trunk): the mark finds it again.
    trunk_row = gateway.get("/v1/trunks").json()["items"][0]

    async def clear(session: Any) -> None:
        await session.execute(update(Trunk).values(livekit_trunk_id=None, sync_state={}))
        await session.commit()

    run_db(services(gateway.app).settings, clear)
    report = gateway.sync()
    assert [(o["action"], o["kind"]) for o in report["operations"]] == [("adopt", "inbound_trunk")]
    assert [t.sip_trunk_id for t in _inbound(gateway)] == [trunk.sip_trunk_id]
    assert gateway.get(f"/v1/trunks/{trunk_row['id']}").json()["livekit_trunk_id"] == trunk.sip_trunk_id


def test_a_refused_object_is_reported_and_the_rest_still_syncs(gateway: Gateway) -> None:
    gateway.create("/v1/trunks", {"direction": "inbound", "name": "open", "numbers": [DID]})
    gateway.create("/v1/trunks", {"direction": "inbound", "name": "no-security"})
    report = gateway.sync()
    assert report["status"] == "partial"
    assert any("for security" in e for e in report["errors"])
    states = {o["name"]: o for o in report["objects"]}
    assert states["open"]["status"] == "synced"
    assert states["no-security"]["status"] == "error"
    assert "for security" in states["no-security"]["error"]
    assert [t.name for t in _inbound(gateway)] == ["open"]


def test_wrong_livekit_credentials_are_reported_not_crashed(gateway: Gateway) -> None:
    created = gateway.create(
        "/v1/projects",
        {
            "slug": "wrong-secret",
            "name": "Wrong secret",
            "livekit_url": gateway.livekit.url,
            "livekit_api_key": gateway.livekit.api_key,
            "livekit_api_secret": "not-the-secret-but-long-enough-for-hs256",
        },
    )
    with gateway.as_(created["admin_key"]) as tenant:
        tenant.post("/v1/trunks", json={"direction": "inbound", "name": "t", "numbers": ["+14155550111"]})
        response = tenant.post("/v1/sync")
        assert response.status_code == 200
        report = response.json()
        assert report["status"] == "failed"
        assert "LIVEKIT_API_SECRET" in report["errors"][0]
        assert tenant.get("/v1/sync").json()["status"] == "failed"


def _bridge(gw: Gateway) -> tuple[list[api.SIPInboundTrunkInfo], list[api.SIPDispatchRuleInfo]]:
    with gw.livekit.world.lock:
        trunks = [t for t in gw.livekit.world.inbound_trunks.values() if _is_bridge(t)]
        rules = [r for r in gw.livekit.world.dispatch_rules.values() if _is_bridge(r)]
    return trunks, rules


def test_bridge_objects_are_synced_once_and_drift_back_to_their_derived_state(gateway: Gateway) -> None:
    inbound_setup(gateway)
    gateway.settle()
    (trunk,), (rule,) = _bridge(gateway)
    assert list(trunk.numbers) == []
    assert trunk.auth_username.startswith("trunkline-")
    assert len(trunk.auth_password) >= 32
    assert trunk.auth_password not in gateway.get("/v1/sync").text
    assert list(rule.trunk_ids) == [trunk.sip_trunk_id]
    assert rule.rule.dispatch_rule_callee.room_prefix == ""
    assert gateway.sync()["operations"] == [], "derived objects already in LiveKit need nothing"

    async def tamper(client: api.LiveKitAPI) -> None:
        changed = api.SIPInboundTrunkInfo()
        changed.CopyFrom(trunk)
        changed.auth_password = "guessable"
        await client.sip.update_inbound_trunk(trunk.sip_trunk_id, changed)
        await client.sip.delete_dispatch_rule(
            api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=rule.sip_dispatch_rule_id)
        )

    gateway.lk(tamper)
    drift = {
        (d["action"], d["kind"], d["object_id"], d["drift"]) for d in gateway.get("/v1/sync").json()["drift"]
    }
    assert drift == {
        ("update", "inbound_trunk", "bridge", True),
        ("create", "dispatch_rule", "bridge", False),
    }
    gateway.sync()
    (repaired,), (recreated,) = _bridge(gateway)
    assert (repaired.sip_trunk_id, repaired.auth_password) == (trunk.sip_trunk_id, trunk.auth_password)
    assert list(recreated.trunk_ids) == [trunk.sip_trunk_id]
    assert gateway.sync()["operations"] == []
