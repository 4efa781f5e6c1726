"""Live call control on LiveKit calls: transfer (SIP REFER) with its result, hang-up, DTMF; tenancy and audit."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.integration.livekit.conftest import CALLEE, Gateway, eventually, outbound_setup
from tests.integration.livekit.test_outbound import dial, settled
from tests.support.livekit_standin import DialOutcome, TransferOutcome

TRANSFER_TO = "+14155550188"


@pytest.fixture
def answered(gateway: Gateway) -> dict[str, Any]:
    outbound_setup(gateway)
    call = dial(gateway, wait=True)
    assert call["status"] == "answered"
    return call


def audit_actions(gw: Gateway, call_id: str) -> list[str]:
    items = gw.get("/v1/audit-logs", params={"object_type": "call", "object_id": call_id}).json()["items"]
    return [i["action"] for i in items]


def test_a_transfer_refers_the_caller_and_reports_its_result(
    gateway: Gateway, answered: dict[str, Any]
) -> None:
    response = gateway.post(f"/v1/calls/{answered['id']}/transfer", json={"to": "(415) 555-0188"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["ok"], result["sip_status"], result["action"]) == (True, 200, "transfer")
    (sip_call,) = gateway.livekit.calls
    assert sip_call.transferred_to == f"tel:{TRANSFER_TO}"
    done = settled(gateway, answered["id"], "completed")
    assert done["end_reason"] == "transferred to +1********88"
    (event,) = [e for e in done["events"] if e["kind"] == "control.transfer"]
    assert event["data"]["to"] == "+1********88", "numbers in events are masked"
    assert "call.transfer" in audit_actions(gateway, answered["id"])


def test_a_refused_transfer_keeps_the_call_and_says_why(gateway: Gateway, answered: dict[str, Any]) -> None:
    gateway.livekit.script_transfer(TRANSFER_TO, TransferOutcome.rejected(603))
    result = gateway.post(f"/v1/calls/{answered['id']}/transfer", json={"to": TRANSFER_TO}).json()
    assert (result["ok"], result["sip_status"], result["status"]) == (False, 603, "answered")
    assert "603" in result["detail"]
    refused = gateway.post(f"/v1/calls/{answered['id']}/transfer", json={"to": "sip:desk@pbx.example.com"})
    assert refused.status_code == 403, "SIP hosts pass the toll-fraud guard's allow-list"
    assert "allowed_sip_hosts" in refused.json()["detail"]
    (project,) = gateway.get("/v1/projects").json()["items"]
    allow = {"outbound": {"allowed_sip_hosts": ["pbx.example.com"]}}
    assert gateway.http.patch(f"/v1/projects/{project['id']}", json=allow).status_code == 200
    sip = gateway.post(f"/v1/calls/{answered['id']}/transfer", json={"to": "sip:desk@pbx.example.com"}).json()
    assert sip["ok"] is True
    assert gateway.livekit.calls[0].transferred_to == "sip:desk@pbx.example.com"


def test_hanging_up_a_ringing_call_stops_the_phone_and_cancels_it(gateway: Gateway) -> None:
    outbound_setup(gateway)
    gateway.livekit.script_call(CALLEE, DialOutcome.answer(ring_seconds=300))
    call = dial(gateway, wait=False)
    eventually(lambda: gateway.livekit.calls and gateway.livekit.calls[0].status == "ringing")
    response = gateway.post(f"/v1/calls/{call['id']}/hangup")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "canceled"
    assert [c.status for c in gateway.livekit.calls] == ["cancelled"], "the far end stopped ringing"
    assert gateway.livekit.world.room(call["livekit_room"]) is None
    final = gateway.call(call["id"])
    assert (final["status"], final["end_reason"]) == ("canceled", "hung up through the API")
    again = gateway.post(f"/v1/calls/{call['id']}/hangup")
    assert again.status_code == 409
    assert "already ended" in again.json()["detail"]
    assert audit_actions(gateway, call["id"]).count("call.hangup") == 1


def test_hanging_up_an_answered_call_completes_it(gateway: Gateway, answered: dict[str, Any]) -> None:
    result = gateway.post(f"/v1/calls/{answered['id']}/hangup").json()
    assert result["status"] == "completed"
    departures = [d for d in gateway.livekit.departures if d.participant.identity == "sip-callee"]
    assert departures, "the SIP participant was removed"


def test_dtmf_reaches_the_room_and_is_recorded_masked(gateway: Gateway, answered: dict[str, Any]) -> None:
    response = gateway.post(f"/v1/calls/{answered['id']}/dtmf", json={"digits": "12#"})
    assert response.status_code == 200, response.text
    (packet,) = gateway.livekit.data_packets(answered["livekit_room"])
    assert packet.user.topic == "trunkline.dtmf"
    assert json.loads(packet.user.payload) == {"digits": "12#"}
    (event,) = [e for e in gateway.call(answered["id"])["events"] if e["kind"] == "control.dtmf"]
    assert event["data"]["digits"] == "###"
    assert gateway.post(f"/v1/calls/{answered['id']}/dtmf", json={"digits": "12x"}).status_code == 400


def test_another_projects_call_is_not_found(gateway: Gateway, answered: dict[str, Any]) -> None:
    created = gateway.create("/v1/projects", {"slug": "other", "name": "Other"})
    with httpx.Client(
        base_url=gateway.url, headers={"Authorization": f"Bearer {created['admin_key']}"}
    ) as other:
        for action, body in (("transfer", {"to": TRANSFER_TO}), ("hangup", None), ("dtmf", {"digits": "1"})):
            response = other.post(f"/v1/calls/{answered['id']}/{action}", json=body)
            assert response.status_code == 404, (action, response.text)
    assert gateway.call(answered["id"])["status"] == "answered"
    assert gateway.livekit.calls[0].status == "active"


def test_viewers_may_not_control_calls(gateway: Gateway, answered: dict[str, Any]) -> None:
    viewer = gateway.create("/v1/api-keys", {"name": "ro", "role": "viewer"})["token"]
    with httpx.Client(base_url=gateway.url, headers={"Authorization": f"Bearer {viewer}"}) as client:
        assert client.post(f"/v1/calls/{answered['id']}/hangup").status_code == 403
