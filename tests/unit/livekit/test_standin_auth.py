"""Authentication and grants, as LiveKit checks them, seen through the real livekit-api client."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import jwt
import pytest
from livekit import api
from livekit.protocol import egress as proto_egress
from livekit.protocol import room as proto_room
from livekit.protocol import sip as proto_sip

from tests.support.livekit_standin import LiveKitStandIn

pytestmark = pytest.mark.anyio

Call = Callable[[api.LiveKitAPI], Awaitable[object]]


def token(
    livekit: LiveKitStandIn, video: api.VideoGrants | None = None, sip: api.SIPGrants | None = None
) -> str:
    access = api.AccessToken(livekit.api_key, livekit.api_secret)
    if video is not None:
        access.with_grants(video)
    if sip is not None:
        access.with_sip_grants(sip)
    return access.to_jwt()


async def call_with(livekit: LiveKitStandIn, bearer: str, call: Call) -> object:
    async with api.LiveKitAPI.with_token(bearer, livekit.url) as lkapi:
        return await call(lkapi)


def list_rooms(lk: api.LiveKitAPI) -> Awaitable[object]:
    return lk.room.list_rooms(proto_room.ListRoomsRequest())


async def test_token_signed_with_another_secret_is_refused_before_routing(livekit: LiveKitStandIn) -> None:
    forged = api.AccessToken(livekit.api_key, "not-the-secret-but-long-enough-for-hs256").with_grants(
        api.VideoGrants(room_list=True)
    )
    with pytest.raises(api.TwirpError) as caught:
        await call_with(livekit, forged.to_jwt(), list_rooms)
    assert caught.value.status == 401
    assert caught.value.code == "unknown"  # LiveKit's middleware answers in plain text, not Twirp JSON
    assert livekit.requests == []


async def test_unknown_api_key_is_refused(livekit: LiveKitStandIn) -> None:
    stranger = api.AccessToken("APIunknown", livekit.api_secret).with_grants(api.VideoGrants(room_list=True))
    with pytest.raises(api.TwirpError) as caught:
        await call_with(livekit, stranger.to_jwt(), list_rooms)
    assert caught.value.status == 401


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"exp": -120}, id="expired"),
        pytest.param({"exp": 600, "nbf": 300}, id="not-yet-valid"),
        pytest.param({}, id="without-exp"),
    ],
)
async def test_token_times_are_checked(livekit: LiveKitStandIn, claims: dict[str, int]) -> None:
    now = int(time.time())
    payload: dict[str, object] = {"iss": livekit.api_key, "video": {"roomList": True}}
    payload.update({name: now + offset for name, offset in claims.items()})
    bearer = jwt.encode(payload, livekit.api_secret, algorithm="HS256")
    with pytest.raises(api.TwirpError) as caught:
        await call_with(livekit, bearer, list_rooms)
    assert caught.value.status == 401


async def test_token_within_leeway_is_accepted(livekit: LiveKitStandIn) -> None:
    now = int(time.time())
    payload = {"iss": livekit.api_key, "exp": now - 30, "nbf": now + 30, "video": {"roomList": True}}
    bearer = jwt.encode(payload, livekit.api_secret, algorithm="HS256")
    assert await call_with(livekit, bearer, list_rooms) == proto_room.ListRoomsResponse()


async def test_second_api_key_is_honoured() -> None:
    async with LiveKitStandIn(extra_keys={"APIsecond": "second-secret-long-enough-for-hs256"}) as livekit:
        second = api.AccessToken("APIsecond", "second-secret-long-enough-for-hs256")
        bearer = second.with_grants(api.VideoGrants(room_list=True)).to_jwt()
        assert await call_with(livekit, bearer, list_rooms) == proto_room.ListRoomsResponse()


DENIED: list[tuple[str, api.VideoGrants | None, api.SIPGrants | None, Call]] = [
    (
        "create-room-needs-roomCreate",
        api.VideoGrants(room_list=True),
        None,
        lambda lk: lk.room.create_room(proto_room.CreateRoomRequest(name="r")),
    ),
    ("list-rooms-needs-roomList", api.VideoGrants(room_create=True), None, list_rooms),
    (
        "delete-room-needs-roomCreate",
        api.VideoGrants(room_admin=True, room="r"),
        None,
        lambda lk: lk.room.delete_room(proto_room.DeleteRoomRequest(room="r")),
    ),
    (
        "participants-need-roomAdmin-of-that-room",
        api.VideoGrants(room_admin=True, room="other"),
        None,
        lambda lk: lk.room.list_participants(proto_room.ListParticipantsRequest(room="r")),
    ),
    (
        "send-data-needs-roomAdmin",
        api.VideoGrants(room_create=True, room="r"),
        None,
        lambda lk: lk.room.send_data(proto_room.SendDataRequest(room="r", data=b"x")),
    ),
    (
        "dispatch-needs-roomAdmin",
        api.VideoGrants(room_create=True),
        None,
        lambda lk: lk.agent_dispatch.list_dispatch("r"),
    ),
    (
        "trunks-need-sip-admin",
        None,
        api.SIPGrants(call=True),
        lambda lk: lk.sip.list_inbound_trunk(proto_sip.ListSIPInboundTrunkRequest()),
    ),
    (
        "dialing-needs-sip-call",
        None,
        api.SIPGrants(admin=True),
        lambda lk: lk.sip.create_sip_participant(
            proto_sip.CreateSIPParticipantRequest(sip_trunk_id="ST_x", sip_call_to="+15550100", room_name="r")
        ),
    ),
    (
        "transfer-needs-roomAdmin-too",
        None,
        api.SIPGrants(call=True),
        lambda lk: lk.sip.transfer_sip_participant(
            proto_sip.TransferSIPParticipantRequest(
                room_name="r", participant_identity="p", transfer_to="tel:+15550100"
            )
        ),
    ),
    (
        "egress-needs-roomRecord",
        api.VideoGrants(room_admin=True, room="r"),
        None,
        lambda lk: lk.egress.list_egress(proto_egress.ListEgressRequest()),
    ),
]


@pytest.mark.parametrize(("video", "sip", "call"), [d[1:] for d in DENIED], ids=[d[0] for d in DENIED])
async def test_missing_grant_is_unauthenticated(
    livekit: LiveKitStandIn, video: api.VideoGrants | None, sip: api.SIPGrants | None, call: Call
) -> None:
    with pytest.raises(api.TwirpError) as caught:
        await call_with(livekit, token(livekit, video, sip), call)
    assert (caught.value.code, caught.value.message, caught.value.status) == (
        "unauthenticated",
        "permissions denied",
        401,
    )


async def test_exact_grant_is_enough(livekit: LiveKitStandIn) -> None:
    livekit.join_participant("r", "alice")
    bearer = token(livekit, api.VideoGrants(room_admin=True, room="r"))
    listed = await call_with(
        livekit, bearer, lambda lk: lk.room.list_participants(proto_room.ListParticipantsRequest(room="r"))
    )
    assert isinstance(listed, proto_room.ListParticipantsResponse)
    assert [p.identity for p in listed.participants] == ["alice"]
