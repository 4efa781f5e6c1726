"""Inbound calls straight over LiveKit SIP: the stand-in routes them by the synced trunk and rules and posts its
signed webhooks to the live gateway, which keeps the call record, recordings and web sessions."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

from livekit import api
from sqlalchemy import select

from gateway.db.models import Recording
from gateway.services import services
from tests.conftest import run_db
from tests.integration.livekit.conftest import CALLER, DID, TIME_SCALE, Gateway, eventually, inbound_setup


def _calls(gw: Gateway) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = gw.get("/v1/calls", params={"direction": "inbound"}).json()["items"]
    return items


def _call_for(gw: Gateway, sip_call_id: str) -> dict[str, Any]:
    def found() -> dict[str, Any]:
        matches = [c for c in _calls(gw) if c["carrier_call_id"] == sip_call_id]
        assert matches
        return gw.call(matches[0]["id"])

    return eventually(found)


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_an_inbound_call_rings_is_answered_when_its_sip_status_turns_active_and_completes(
    gateway: Gateway,
) -> None:
    trunk = inbound_setup(gateway)
    answer_after = 60.0  # simulated seconds: 0.6 s real
    before = datetime.now(UTC)
    result = gateway.livekit.simulate_inbound_call(CALLER, DID, answer_after=answer_after)
    assert (result.outcome, result.agents_dispatched) == ("accepted", ("receptionist",))

    ringing = _call_for(gateway, result.call_id)
    assert (ringing["direction"], ringing["carrier"]) == ("inbound", "livekit")
    assert (ringing["from_number"], ringing["to_number"]) == (CALLER, DID)
    assert (ringing["trunk_id"], ringing["livekit_room"]) == (trunk["id"], result.room_name)
    assert ringing["status"] in ("ringing", "answered")
    (route,) = gateway.get("/v1/routes").json()["items"]
    (agent,) = gateway.get("/v1/agents").json()["items"]
    assert (ringing["route_id"], ringing["agent_id"]) == (route["id"], agent["id"]), (
        "the dispatch rule that admitted the call names the route and agent serving it"
    )

    answered = eventually(lambda: (c := gateway.call(ringing["id"]))["status"] == "answered" and c)
    assert answered["ringing_at"] is not None
    assert _at(answered["answered_at"]) >= before + timedelta(seconds=answer_after * TIME_SCALE * 0.8), (
        "answered when sip.callStatus turned active, not when the participant joined"
    )

    time.sleep(0.3)
    assert gateway.livekit.hang_up(result.room_name, result.participant_identity)
    done = eventually(lambda: (c := gateway.call(ringing["id"]))["status"] == "completed" and c)
    assert done["end_reason"] == "far end hung up"
    assert _at(done["ended_at"]) >= _at(done["answered_at"]) - timedelta(seconds=1)
    kinds = [e["kind"] for e in done["events"]]
    assert kinds[0] == "status.ringing"
    assert "status.answered" in kinds
    assert kinds[-1] == "status.completed"


def test_a_caller_who_hangs_up_while_ringing_is_a_canceled_call(gateway: Gateway) -> None:
    inbound_setup(gateway)
    result = gateway.livekit.simulate_inbound_call(CALLER, DID, answer_after=10_000)
    call = _call_for(gateway, result.call_id)
    gateway.livekit.hang_up(result.room_name, result.participant_identity)
    ended = eventually(lambda: (c := gateway.call(call["id"]))["status"] == "canceled" and c)
    assert ended["answered_at"] is None


def test_room_finished_ends_the_call_and_egress_becomes_a_recording(gateway: Gateway) -> None:
    inbound_setup(gateway)
    result = gateway.livekit.simulate_inbound_call(CALLER, DID, answer_after=0)
    call = _call_for(gateway, result.call_id)
    eventually(lambda: gateway.call(call["id"])["status"] == "answered")

    async def record_then_close(client: api.LiveKitAPI) -> str:
        egress = await client.egress.start_room_composite_egress(
            api.RoomCompositeEgressRequest(
                room_name=result.room_name,
                audio_only=True,
                file_outputs=[api.EncodedFileOutput(filepath="calls/inbound.ogg")],
            )
        )
        await client.egress.stop_egress(api.StopEgressRequest(egress_id=egress.egress_id))
        await client.room.delete_room(api.DeleteRoomRequest(room=result.room_name))
        return egress.egress_id

    egress_id = gateway.lk(record_then_close)
    ended = eventually(lambda: (c := gateway.call(call["id"]))["status"] == "completed" and c)
    assert ended["end_reason"] in ("removed from the room", "room closed")

    async def recording(session: Any) -> Recording | None:
        row: Recording | None = await session.scalar(
            select(Recording).where(Recording.external_id == egress_id)
        )
        return row

    def complete() -> Recording:
        row = run_db(services(gateway.app).settings, recording)
        assert row is not None
        assert row.status == "complete"
        return row

    row = eventually(complete)
    assert (row.call_id, row.source, row.url) == (call["id"], "livekit", "calls/inbound.ogg")


def test_a_web_session_participant_joining_and_leaving_updates_the_session(gateway: Gateway) -> None:
    gateway.create("/v1/agents", {"name": "concierge"})
    started = gateway.create("/v1/sessions/start", {"agent": "concierge", "identity": "visitor-1"})
    gateway.livekit.join_participant(
        started["room"], "visitor-1", attributes={"trunkline.session_id": started["id"]}
    )
    joined = eventually(lambda: (s := gateway.get(f"/v1/sessions/{started['id']}").json())["joined_at"] and s)
    assert joined["status"] == "active"
    gateway.livekit.hang_up(started["room"], "visitor-1")
    ended = eventually(lambda: (s := gateway.get(f"/v1/sessions/{started['id']}").json())["ended_at"] and s)
    assert (ended["status"], ended["end_reason"]) == ("ended", "participant left")
