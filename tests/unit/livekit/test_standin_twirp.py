"""The wire protocol (what livekit-api cannot send: JSON, bad routes, no token), outages, latency, threads."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import socket
import time
import warnings

import aiohttp
import pytest
from livekit import api
from livekit.protocol import models as proto_models
from livekit.protocol import room as proto_room

from tests.support.livekit_standin import LiveKitStandIn, StandInThread

pytestmark = pytest.mark.anyio


def bearer(livekit: LiveKitStandIn, **video: bool) -> str:
    grants = api.VideoGrants(**video)  # type: ignore[arg-type]
    return "Bearer " + api.AccessToken(livekit.api_key, livekit.api_secret).with_grants(grants).to_jwt()


async def post(
    livekit: LiveKitStandIn, path: str, body: bytes, headers: dict[str, str], method: str = "POST"
) -> tuple[int, str, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, livekit.url + path, data=body, headers=headers) as response,
    ):
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def test_json_requests_get_json_responses(livekit: LiveKitStandIn) -> None:
    status, content_type, text = await post(
        livekit,
        "/twirp/livekit.RoomService/CreateRoom",
        json.dumps({"name": "json-room", "emptyTimeout": 60}).encode(),
        {"Content-Type": "application/json", "Authorization": bearer(livekit, room_create=True)},
    )
    assert (status, content_type.split(";")[0]) == (200, "application/json")
    room = json.loads(text)
    assert (room["name"], room["empty_timeout"], room["metadata"]) == ("json-room", 60, "")
    assert room["sid"].startswith("RM_")


async def test_request_without_token_lacks_every_grant(livekit: LiveKitStandIn) -> None:
    status, _, text = await post(
        livekit, "/twirp/livekit.RoomService/ListRooms", b"", {"Content-Type": "application/protobuf"}
    )
    assert (status, json.loads(text)) == (401, {"code": "unauthenticated", "msg": "permissions denied"})


async def test_malformed_authorization_header_is_refused_in_plain_text(livekit: LiveKitStandIn) -> None:
    status, content_type, text = await post(
        livekit,
        "/twirp/livekit.RoomService/ListRooms",
        b"",
        {"Content-Type": "application/protobuf", "Authorization": "Token abc"},
    )
    assert (status, content_type.split(";")[0]) == (401, "text/plain")
    assert text == "invalid authorization header. Must start with Bearer "


@pytest.mark.parametrize(
    ("method", "path", "content_type", "message"),
    [
        ("POST", "/twirp/livekit.RoomService/Explode", "application/protobuf", "no handler for path"),
        ("GET", "/twirp/livekit.RoomService/ListRooms", "application/protobuf", "unsupported method"),
        ("POST", "/twirp/livekit.RoomService/ListRooms", "text/plain", "unexpected Content-Type"),
    ],
)
async def test_bad_routes(
    livekit: LiveKitStandIn, method: str, path: str, content_type: str, message: str
) -> None:
    status, _, text = await post(
        livekit, path, b"", {"Content-Type": content_type, "Authorization": bearer(livekit)}, method=method
    )
    error = json.loads(text)
    assert (status, error["code"]) == (404, "bad_route")
    assert error["msg"].startswith(message)


async def test_undecodable_body_is_malformed(livekit: LiveKitStandIn) -> None:
    status, _, text = await post(
        livekit,
        "/twirp/livekit.RoomService/CreateRoom",
        b"\xff\xff\xff",
        {"Content-Type": "application/protobuf", "Authorization": bearer(livekit, room_create=True)},
    )
    assert (status, json.loads(text)["code"]) == (400, "malformed")


async def test_every_declared_service_is_routed(livekit: LiveKitStandIn) -> None:
    status, _, text = await post(
        livekit,
        "/twirp/livekit.Ingress/ListIngress",
        b"",
        {"Content-Type": "application/protobuf", "Authorization": bearer(livekit)},
    )
    assert (status, json.loads(text)["code"]) == (501, "unimplemented")


async def test_503_outage_and_recovery(client: api.LiveKitAPI, livekit: LiveKitStandIn) -> None:
    await livekit.set_down("503")
    with pytest.raises(api.TwirpError) as caught:
        await client.room.list_rooms(proto_room.ListRoomsRequest())
    assert caught.value.status == 503
    await livekit.set_down(None)
    assert await client.room.list_rooms(proto_room.ListRoomsRequest()) == proto_room.ListRoomsResponse()


async def test_refused_connections_and_recovery(client: api.LiveKitAPI, livekit: LiveKitStandIn) -> None:
    await client.room.list_rooms(proto_room.ListRoomsRequest())
    await livekit.set_down("refused")
    for _ in range(2):
        with pytest.raises(aiohttp.ClientConnectionError):
            await client.room.list_rooms(proto_room.ListRoomsRequest())
    await livekit.set_down(None)
    assert await client.room.list_rooms(proto_room.ListRoomsRequest()) == proto_room.ListRoomsResponse()


async def test_going_down_while_a_connection_is_being_accepted_leaves_nothing_open(
    livekit: LiveKitStandIn,
) -> None:
    host, port = livekit.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as client:  # queued by the kernel, not yet accepted
        await asyncio.sleep(0)  # this loop turn: the stand-in accepts it and schedules its transport
        await asyncio.sleep(0)  # next turn, before that transport exists: the outage starts
        await livekit.set_down("refused")
        await asyncio.sleep(0.05)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gc.collect()
        assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
        client.setblocking(False)  # the connection it did accept is served, and refused like any other
        loop = asyncio.get_running_loop()
        await loop.sock_sendall(client, b"POST /twirp/x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
        with contextlib.suppress(ConnectionResetError):
            assert await asyncio.wait_for(loop.sock_recv(client, 1), 2) == b""
    await livekit.set_down(None)


async def test_latency_applies_to_the_chosen_method(client: api.LiveKitAPI, livekit: LiveKitStandIn) -> None:
    livekit.set_latency(0.2, "livekit.RoomService/ListRooms")
    started = time.monotonic()
    await client.room.create_room(proto_room.CreateRoomRequest(name="quick"))
    assert time.monotonic() - started < 0.2
    started = time.monotonic()
    await client.room.list_rooms(proto_room.ListRoomsRequest())
    assert time.monotonic() - started >= 0.19


def test_thread_helper_serves_sync_tests() -> None:
    with StandInThread(time_scale=0.01) as running:

        async def create() -> proto_models.Room:
            async with api.LiveKitAPI(running.url, running.api_key, running.api_secret) as lkapi:
                return await lkapi.room.create_room(proto_room.CreateRoomRequest(name="threaded"))

        room = asyncio.run(create())
        event = running.standin.wait_for_webhook("room_started")
        assert event.room.sid == room.sid
        running.standin.join_participant("threaded", "someone")
        assert running.standin.hang_up("threaded", "someone")
        assert running.standin.wait_for_webhook("room_finished", timeout=5).room.name == "threaded"
        running.set_down("503")

        async def list_rooms() -> None:
            async with api.LiveKitAPI(running.url, running.api_key, running.api_secret) as lkapi:
                await lkapi.room.list_rooms(proto_room.ListRoomsRequest())

        with pytest.raises(api.TwirpError):
            asyncio.run(list_rooms())
