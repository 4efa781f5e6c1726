"""Outbound calls over LiveKit SIP: room with the agent, the dial, and every SIP outcome on the call record."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.livekit.conftest import CALLEE, DID, Gateway, eventually, outbound_setup
from tests.support.livekit_standin import DialOutcome

OUTCOMES = [(486, "busy"), (603, "declined"), (480, "no-answer"), (408, "no-answer"), (404, "failed")]


def allow_many_calls(gw: Gateway) -> None:
    (project,) = gw.get("/v1/projects").json()["items"]
    response = gw.http.patch(f"/v1/projects/{project['id']}", json={"outbound": {"calls_per_second": 100}})
    assert response.status_code == 200, response.text


def dial(gw: Gateway, *, wait: bool, **extra: Any) -> dict[str, Any]:
    body = {"carrier": "livekit", "to": CALLEE, "from": DID, "agent": "caller", "wait_until_answered": wait}
    response = gw.post("/v1/calls", json={**body, **extra})
    assert response.status_code == 201, response.text
    call: dict[str, Any] = response.json()
    return call


def settled(gw: Gateway, call_id: str, status: str) -> dict[str, Any]:
    return eventually(lambda: (c := gw.call(call_id))["status"] == status and c)


def with_dial_result(gw: Gateway, call_id: str, status: str) -> dict[str, Any]:
    """The call once it is `status` and its dial's SIP status is recorded: the room's participant events can
    answer or end the call (busy, no-answer...) a moment before the placer records the SIP status; both land, in
    either order."""
    return eventually(
        lambda: (c := gw.call(call_id))["status"] == status and c["sip_status"] is not None and c
    )


@pytest.mark.parametrize("wait", [True, False], ids=["wait", "background"])
def test_an_answered_call_takes_two_livekit_calls_and_carries_the_agent_config(
    gateway: Gateway, wait: bool
) -> None:
    trunk = outbound_setup(gateway)
    gateway.settle()
    before = len(gateway.livekit.requests)
    call = dial(gateway, wait=wait, overrides={"tone": "warm"}, dtmf="1w2", ringing_timeout=20)
    if wait:
        assert (call["status"], call["sip_status"]) == ("answered", 200)
        assert call["carrier_call_id"].startswith("SCL_")
    call = with_dial_result(gateway, call["id"], "answered")
    assert call["answered_at"] is not None
    assert call["sip_status"] == 200
    assert gateway.livekit.requests[before:] == [
        "livekit.RoomService/CreateRoom",
        "livekit.SIP/CreateSIPParticipant",
    ]

    (dialled,) = gateway.livekit.calls
    livekit_trunk = gateway.get(f"/v1/trunks/{trunk['id']}").json()["livekit_trunk_id"]
    assert (dialled.to_number, dialled.from_number, dialled.trunk_id) == (CALLEE, DID, livekit_trunk)
    assert (dialled.dtmf_sent, dialled.status, dialled.room) == ("1w2", "active", call["livekit_room"])
    assert call["trunk_id"] == trunk["id"]
    with gateway.livekit.world.lock:
        room = gateway.livekit.world.room(call["livekit_room"])
        assert room is not None
        (dispatch,) = room.dispatches.values()
        assert dispatch.agent_name == "caller"
        assert json.loads(dispatch.metadata) == {
            "instructions": "Sell.",
            "config": {"lang": "en", "tone": "calm"},
            "tone": "warm",
        }
    eventually(lambda: gateway.call(call["id"])["carrier_call_id"] == dialled.call_id)


@pytest.mark.parametrize("wait", [True, False], ids=["wait", "background"])
def test_sip_failures_become_call_states_with_the_sip_code_kept(gateway: Gateway, wait: bool) -> None:
    outbound_setup(gateway)
    allow_many_calls(gateway)
    for code, state in OUTCOMES:
        gateway.livekit.fail_next_call(CALLEE, code, ring_seconds=10)
        call = dial(gateway, wait=wait)
        if wait:
            assert call["status"] == state, (code, call)
        final = with_dial_result(gateway, call["id"], state)
        assert final["sip_status"] == code
        assert str(code) in final["end_reason"]
        assert final["answered_at"] is None
        assert final["ended_at"] is not None
        room = final["livekit_room"]
        eventually(lambda room=room: gateway.livekit.world.room(room) is None, timeout=5)


def test_flows_need_the_in_room_worker_and_are_refused_on_livekit(gateway: Gateway) -> None:
    outbound_setup(gateway)
    body = {"carrier": "livekit", "to": CALLEE, "from": DID, "flow": "main"}
    response = gateway.post("/v1/calls", json=body)
    assert response.status_code == 422
    assert response.json()["field"] == "flow"
    assert "in-room agent worker" in response.json()["detail"]
    assert gateway.get("/v1/calls").json()["items"] == []


def test_an_outbound_trunk_livekit_does_not_hold_gives_a_clear_409(gateway: Gateway) -> None:
    outbound_setup(gateway)
    broken = gateway.create(
        "/v1/trunks", {"direction": "outbound", "name": "no-numbers", "address": "sip.other.example"}
    )
    gateway.settle()
    response = gateway.post(
        "/v1/calls",
        json={"carrier": "livekit", "to": CALLEE, "from": DID, "agent": "caller", "trunk_id": broken["id"]},
    )
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert "not in LiveKit yet" in detail
    assert "no trunk numbers specified" in detail
    assert "/v1/sync" in detail


def test_a_call_hung_up_by_the_callee_completes_with_its_duration(gateway: Gateway) -> None:
    outbound_setup(gateway)
    gateway.livekit.script_call(CALLEE, DialOutcome.answer(ring_seconds=20))
    call = dial(gateway, wait=True)
    assert call["status"] == "answered"
    assert gateway.livekit.hang_up(call["livekit_room"], "sip-callee")
    done = settled(gateway, call["id"], "completed")
    assert done["end_reason"] == "far end hung up"
    assert done["duration_s"] is not None
    assert done["duration_s"] >= 0
