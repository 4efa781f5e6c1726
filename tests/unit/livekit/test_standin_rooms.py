"""RoomService, AgentDispatchService and Egress of the stand-in, driven by the real livekit-api client."""

from __future__ import annotations

import asyncio
import re

import pytest
from livekit import api
from livekit.protocol import agent_dispatch as proto_agent
from livekit.protocol import egress as proto_egress
from livekit.protocol import models as proto_models
from livekit.protocol import room as proto_room

from tests.support.livekit_standin import LiveKitStandIn

pytestmark = pytest.mark.anyio

ID_SHAPE = r"[2-9A-HJ-NP-Za-km-z]{12}"


async def test_create_room_returns_livekit_shaped_room(client: api.LiveKitAPI) -> None:
    room = await client.room.create_room(
        proto_room.CreateRoomRequest(name="call-1", metadata='{"call": 1}', empty_timeout=30)
    )
    assert re.fullmatch("RM_" + ID_SHAPE, room.sid)
    assert (room.name, room.metadata, room.empty_timeout) == ("call-1", '{"call": 1}', 30)
    assert room.departure_timeout == 20


async def test_create_room_on_an_existing_room_updates_its_settings(client: api.LiveKitAPI) -> None:
    first = await client.room.create_room(proto_room.CreateRoomRequest(name="same", metadata="v1"))
    again = await client.room.create_room(
        proto_room.CreateRoomRequest(name="same", metadata="v2", empty_timeout=9)
    )
    assert again.sid == first.sid
    assert (again.metadata, again.empty_timeout, again.departure_timeout) == ("v2", 9, 20)
    unchanged = await client.room.create_room(proto_room.CreateRoomRequest(name="same"))
    assert (unchanged.metadata, unchanged.empty_timeout) == ("v2", 9)


async def test_create_room_refuses_oversized_metadata(client: api.LiveKitAPI) -> None:
    with pytest.raises(api.TwirpError) as caught:
        await client.room.create_room(proto_room.CreateRoomRequest(name="big", metadata="x" * 64001))
    assert (caught.value.code, caught.value.status) == ("invalid_argument", 400)
    assert caught.value.metadata == {"argument": "metadata size exceeds limits"}


async def test_list_rooms_filters_by_name(client: api.LiveKitAPI) -> None:
    for name in ("a", "b", "c"):
        await client.room.create_room(proto_room.CreateRoomRequest(name=name))
    listed = await client.room.list_rooms(proto_room.ListRoomsRequest(names=["a", "c", "zz"]))
    assert sorted(r.name for r in listed.rooms) == ["a", "c"]
    everything = await client.room.list_rooms(proto_room.ListRoomsRequest())
    assert len(everything.rooms) == 3


async def test_delete_room_disconnects_participants(client: api.LiveKitAPI, livekit: LiveKitStandIn) -> None:
    await client.room.create_room(proto_room.CreateRoomRequest(name="gone"))
    livekit.join_participant("gone", "agent-1", kind="agent")
    await client.room.delete_room(proto_room.DeleteRoomRequest(room="gone"))
    assert (await client.room.list_rooms(proto_room.ListRoomsRequest())).rooms == []
    assert [(d.participant.identity, d.reason) for d in livekit.departures] == [
        ("agent-1", proto_models.DisconnectReason.ROOM_DELETED)
    ]


async def test_delete_missing_room_is_not_found(client: api.LiveKitAPI) -> None:
    with pytest.raises(api.TwirpError) as caught:
        await client.room.delete_room(proto_room.DeleteRoomRequest(room="nowhere"))
    assert (caught.value.code, caught.value.status) == ("not_found", 404)
    assert caught.value.message == "twirp error unknown: requested room does not exist"


async def test_participants_are_listed_fetched_updated_and_removed(
    client: api.LiveKitAPI, livekit: LiveKitStandIn
) -> None:
    livekit.join_participant("room-p", "alice", name="Alice")
    livekit.join_participant("room-p", "bot", kind="agent")
    listed = await client.room.list_participants(proto_room.ListParticipantsRequest(room="room-p"))
    assert sorted(p.identity for p in listed.participants) == ["alice", "bot"]
    alice = await client.room.get_participant(
        proto_room.RoomParticipantIdentity(room="room-p", identity="alice")
    )
    assert (alice.name, alice.state) == ("Alice", proto_models.ParticipantInfo.State.ACTIVE)
    assert re.fullmatch("PA_" + ID_SHAPE, alice.sid)
    updated = await client.room.update_participant(
        proto_room.UpdateParticipantRequest(
            room="room-p", identity="alice", metadata="m", attributes={"k": "v"}
        )
    )
    assert (updated.metadata, dict(updated.attributes)) == ("m", {"k": "v"})
    await client.room.remove_participant(proto_room.RoomParticipantIdentity(room="room-p", identity="alice"))
    remaining = await client.room.list_participants(proto_room.ListParticipantsRequest(room="room-p"))
    assert [p.identity for p in remaining.participants] == ["bot"]
    assert livekit.departures[-1].reason == proto_models.DisconnectReason.PARTICIPANT_REMOVED


async def test_missing_participant_is_not_found(client: api.LiveKitAPI, livekit: LiveKitStandIn) -> None:
    livekit.join_participant("room-q", "someone")
    for call in (client.room.get_participant, client.room.remove_participant):
        with pytest.raises(api.TwirpError) as caught:
            await call(proto_room.RoomParticipantIdentity(room="room-q", identity="nobody"))
        assert caught.value.code == "not_found"
        assert caught.value.message.endswith("participant does not exist")


async def test_list_participants_of_missing_room_is_empty(client: api.LiveKitAPI) -> None:
    listed = await client.room.list_participants(proto_room.ListParticipantsRequest(room="never"))
    assert list(listed.participants) == []


async def test_update_room_metadata(client: api.LiveKitAPI) -> None:
    await client.room.create_room(proto_room.CreateRoomRequest(name="meta"))
    room = await client.room.update_room_metadata(
        proto_room.UpdateRoomMetadataRequest(room="meta", metadata="v2")
    )
    assert room.metadata == "v2"
    with pytest.raises(api.TwirpError) as caught:
        await client.room.update_room_metadata(
            proto_room.UpdateRoomMetadataRequest(room="nope", metadata="x")
        )
    assert caught.value.code == "not_found"


async def test_send_data_reaches_the_room(client: api.LiveKitAPI, livekit: LiveKitStandIn) -> None:
    await client.room.create_room(proto_room.CreateRoomRequest(name="data"))
    await client.room.send_data(
        proto_room.SendDataRequest(room="data", data=b"hello", topic="t", destination_identities=["agent"])
    )
    (packet,) = livekit.data_packets("data")
    assert (packet.user.payload, packet.user.topic, list(packet.destination_identities)) == (
        b"hello",
        "t",
        ["agent"],
    )
    assert len(packet.user.nonce) == 16


async def test_send_data_to_missing_room_gets_no_response(client: api.LiveKitAPI) -> None:
    with pytest.raises(api.TwirpError) as caught:
        await client.room.send_data(proto_room.SendDataRequest(room="ghost", data=b"x"))
    assert (caught.value.code, caught.value.status) == ("unavailable", 503)
    assert caught.value.message == "twirp error unknown: no response from servers"


async def test_room_agents_are_dispatched_at_creation(client: api.LiveKitAPI) -> None:
    await client.room.create_room(
        proto_room.CreateRoomRequest(
            name="with-agent", agents=[proto_agent.RoomAgentDispatch(agent_name="ivr", metadata="{}")]
        )
    )
    (dispatch,) = await client.agent_dispatch.list_dispatch("with-agent")
    assert (dispatch.agent_name, dispatch.room, dispatch.metadata) == ("ivr", "with-agent", "{}")
    assert re.fullmatch("AD_" + ID_SHAPE, dispatch.id)


async def test_agent_dispatch_create_list_delete(client: api.LiveKitAPI, livekit: LiveKitStandIn) -> None:
    created = await client.agent_dispatch.create_dispatch(
        proto_agent.CreateAgentDispatchRequest(agent_name="sales", room="auto-room", metadata='{"lang":"en"}')
    )
    assert created.state.created_at > 0
    assert [e.event for e in livekit.webhook_events] == ["room_started"]
    assert [d.id for d in await client.agent_dispatch.list_dispatch("auto-room")] == [created.id]
    assert await client.agent_dispatch.get_dispatch(created.id, "auto-room") is not None
    deleted = await client.agent_dispatch.delete_dispatch(created.id, "auto-room")
    assert deleted.id == created.id
    assert await client.agent_dispatch.list_dispatch("auto-room") == []
    with pytest.raises(api.TwirpError) as caught:
        await client.agent_dispatch.delete_dispatch(created.id, "auto-room")
    assert caught.value.code == "not_found"


async def test_list_dispatch_of_missing_room_gets_no_response(client: api.LiveKitAPI) -> None:
    with pytest.raises(api.TwirpError) as caught:
        await client.agent_dispatch.list_dispatch("no-such-room")
    assert caught.value.status == 503


async def test_room_composite_egress_starts_lists_and_stops(
    client: api.LiveKitAPI, livekit: LiveKitStandIn
) -> None:
    await client.room.create_room(proto_room.CreateRoomRequest(name="rec"))
    started = await client.egress.start_room_composite_egress(
        proto_egress.RoomCompositeEgressRequest(
            room_name="rec",
            audio_only=True,
            file_outputs=[proto_egress.EncodedFileOutput(filepath="calls/rec.ogg")],
        )
    )
    assert re.fullmatch("EG_" + ID_SHAPE, started.egress_id)
    assert started.status == proto_egress.EgressStatus.EGRESS_STARTING
    await asyncio.sleep(0.01)
    active = await client.egress.list_egress(proto_egress.ListEgressRequest(room_name="rec", active=True))
    assert [e.status for e in active.items] == [proto_egress.EgressStatus.EGRESS_ACTIVE]
    stopping = await client.egress.stop_egress(proto_egress.StopEgressRequest(egress_id=started.egress_id))
    assert stopping.status == proto_egress.EgressStatus.EGRESS_ENDING
    await asyncio.sleep(0.01)
    (done,) = (
        await client.egress.list_egress(proto_egress.ListEgressRequest(egress_id=started.egress_id))
    ).items
    assert done.status == proto_egress.EgressStatus.EGRESS_COMPLETE
    assert [f.filename for f in done.file_results] == ["calls/rec.ogg"]
    with pytest.raises(api.TwirpError) as caught:
        await client.egress.stop_egress(proto_egress.StopEgressRequest(egress_id=started.egress_id))
    assert (caught.value.code, caught.value.message) == (
        "failed_precondition",
        "egress with status EGRESS_COMPLETE cannot be stopped",
    )
    assert [e.event for e in livekit.webhook_events if e.event.startswith("egress")] == [
        "egress_started",
        "egress_updated",
        "egress_ended",
    ]


async def test_egress_needs_an_existing_room(client: api.LiveKitAPI) -> None:
    with pytest.raises(api.TwirpError) as caught:
        await client.egress.start_room_composite_egress(
            proto_egress.RoomCompositeEgressRequest(room_name="none")
        )
    assert caught.value.code == "not_found"
    with pytest.raises(api.TwirpError) as stop_caught:
        await client.egress.stop_egress(proto_egress.StopEgressRequest(egress_id="EG_unknown"))
    assert stop_caught.value.message == "twirp error unknown: egress does not exist"


async def test_track_egress_is_recorded(client: api.LiveKitAPI) -> None:
    await client.room.create_room(proto_room.CreateRoomRequest(name="tracks"))
    started = await client.egress.start_track_egress(
        proto_egress.TrackEgressRequest(
            room_name="tracks", track_id="TR_x", file=proto_egress.DirectFileOutput(filepath="t.ogg")
        )
    )
    assert started.source_type == proto_egress.EgressSourceType.EGRESS_SOURCE_TYPE_SDK
    assert started.track.track_id == "TR_x"


async def test_empty_room_closes_after_its_empty_timeout(
    client: api.LiveKitAPI, livekit: LiveKitStandIn
) -> None:
    await client.room.create_room(proto_room.CreateRoomRequest(name="short", empty_timeout=1))
    await asyncio.sleep(0.05)
    assert (await client.room.list_rooms(proto_room.ListRoomsRequest())).rooms == []
    assert [e.event for e in livekit.webhook_events] == ["room_started", "room_finished"]


async def test_room_closes_after_last_participant_departs(
    client: api.LiveKitAPI, livekit: LiveKitStandIn
) -> None:
    livekit.join_participant("busy", "only")
    assert livekit.hang_up("busy", "only")
    await asyncio.sleep(0.4)
    assert (await client.room.list_rooms(proto_room.ListRoomsRequest())).rooms == []
    assert [e.event for e in livekit.webhook_events] == [
        "room_started",
        "participant_joined",
        "participant_left",
        "room_finished",
    ]
