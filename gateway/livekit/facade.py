"""`LiveKit`: the gateway's one door to LiveKit's server API, over one shared `livekit.api.LiveKitAPI`.

Every method is a docstring and one request. Nothing else in the gateway builds Twirp requests or JWTs.
LiveKit refusals become `LiveKitError` (with the SIP status of a failed call), outages `LiveKitUnavailable`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

import aiohttp
from google.protobuf.duration_pb2 import Duration
from livekit import api

from .errors import LiveKitError, LiveKitUnavailable, from_server_error
from .types import (
    AgentDispatchInfo,
    AgentSpec,
    EgressSummary,
    RoomInfo,
    SipParticipant,
    TransferResult,
    dispatch_info,
    egress_summary,
    room_info,
    sip_participant,
    transfer_result,
)
from .webhooks import Participant, participant_info

T = TypeVar("T")

logger = logging.getLogger("gateway.livekit")

DTMF_TOPIC = "trunkline.dtmf"
"""Data-packet topic the gateway's in-room worker listens on to play DTMF into the call (see `send_dtmf`)."""

PING_ROOM = "trunkline-readiness-probe"
PING_TIMEOUT = 2.0


def _duration(seconds: float | None) -> Duration | None:
    if seconds is None:
        return None
    value = Duration()
    value.FromTimedelta(timedelta(seconds=seconds))
    return value


@dataclass(frozen=True)
class Page:
    """One page of a SIP listing (livekit-protocol `Pagination`): up to `limit` items whose id sorts after
    `after_id`."""

    limit: int
    after_id: str = ""


def _pagination(page: Page | None) -> api.Pagination | None:
    return api.Pagination(after_id=page.after_id, limit=page.limit) if page is not None else None


class LiveKit:
    """Typed operations on one LiveKit project; use as `async with LiveKit(url, key, secret) as livekit:`."""

    def __init__(self, url: str, api_key: str, api_secret: str, *, timeout: float = 10.0) -> None:
        self.url = url
        self._api_key = api_key
        self._api_secret = api_secret
        self._timeout = timeout
        self._api: api.LiveKitAPI | None = None

    async def __aenter__(self) -> LiveKit:
        self._api = api.LiveKitAPI(
            self.url, self._api_key, self._api_secret, timeout=aiohttp.ClientTimeout(total=self._timeout)
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._api is not None:
            await self._api.aclose()
            self._api = None

    @property
    def _lk(self) -> api.LiveKitAPI:
        if self._api is None:
            raise RuntimeError("use LiveKit as `async with LiveKit(...)` before calling it")
        return self._api

    async def _call(self, operation: str, request: Awaitable[T]) -> T:
        try:
            return await request
        except api.ServerError as error:
            failure = from_server_error(error, operation)
            log = logger.warning if isinstance(failure, LiveKitUnavailable) else logger.info
            log(
                "LiveKit refused %s",
                operation,
                extra={"livekit_code": error.code, "http_status": error.status},
            )
            raise failure from error
        except (aiohttp.ClientError, TimeoutError) as error:
            logger.warning("LiveKit unreachable during %s", operation, extra={"error": type(error).__name__})
            raise LiveKitUnavailable(
                f"LiveKit unreachable during {operation}: {type(error).__name__}"
            ) from error

    # --- rooms and agents ---------------------------------------------------------------------------

    async def ensure_room(
        self,
        name: str,
        *,
        metadata: str = "",
        empty_timeout: int = 0,
        departure_timeout: int = 0,
        agents: Sequence[AgentSpec] = (),
    ) -> RoomInfo:
        """Create the room (its `agents` dispatched), or get the existing one with non-empty settings applied."""
        request = api.CreateRoomRequest(
            name=name,
            metadata=metadata,
            empty_timeout=empty_timeout,
            departure_timeout=departure_timeout,
            agents=[api.RoomAgentDispatch(agent_name=a.agent_name, metadata=a.metadata) for a in agents],
        )
        return room_info(await self._call("create room", self._lk.room.create_room(request)))

    async def delete_room(self, name: str) -> bool:
        """Close the room and disconnect everyone (a SIP caller hears the call end); False if it did not exist."""
        try:
            await self._call("delete room", self._lk.room.delete_room(api.DeleteRoomRequest(room=name)))
        except LiveKitError as error:
            if error.code == "not_found":
                return False
            raise
        return True

    async def remove_participant(self, room: str, identity: str) -> bool:
        """Disconnect one participant (hangs up a SIP leg); False if they were not in the room."""
        try:
            await self._call(
                "remove participant",
                self._lk.room.remove_participant(api.RoomParticipantIdentity(room=room, identity=identity)),
            )
        except LiveKitError as error:
            if error.code == "not_found":
                return False
            raise
        return True

    async def get_participant(self, room: str, identity: str) -> Participant | None:
        """A participant as LiveKit sees it now (attributes such as `sip.callStatus`); None if not in the room."""
        try:
            info = await self._call(
                "get participant",
                self._lk.room.get_participant(api.RoomParticipantIdentity(room=room, identity=identity)),
            )
        except LiveKitError as error:
            if error.code == "not_found":
                return None
            raise
        return participant_info(info)

    async def dispatch_agent(self, room: str, agent_name: str, metadata: str = "") -> AgentDispatchInfo:
        """Ask LiveKit to send the named agent worker into the room (created if needed)."""
        request = api.CreateAgentDispatchRequest(room=room, agent_name=agent_name, metadata=metadata)
        return dispatch_info(
            await self._call("dispatch agent", self._lk.agent_dispatch.create_dispatch(request))
        )

    async def list_dispatches(self, room: str) -> list[AgentDispatchInfo]:
        """Agent dispatches of an existing room."""
        dispatches = await self._call("list dispatches", self._lk.agent_dispatch.list_dispatch(room))
        return [dispatch_info(d) for d in dispatches]

    async def send_dtmf(self, room: str, digits: str, *, destination_identities: Sequence[str] = ()) -> None:
        """Ask the in-room worker to play `digits` into the call.

        LiveKit's server API cannot inject DTMF into a live SIP call: the SIP bridge only plays DTMF that a
        participant publishes in the room. So this sends a reliable data packet on `DTMF_TOPIC` to the
        gateway's worker, which publishes the tones. (DTMF at answer time: `create_sip_participant(dtmf=)`.)
        """
        payload = json.dumps({"digits": digits}).encode()
        request = api.SendDataRequest(
            room=room,
            data=payload,
            kind=api.DataPacket.Kind.RELIABLE,
            topic=DTMF_TOPIC,
            destination_identities=list(destination_identities),
        )
        await self._call("send DTMF", self._lk.room.send_data(request))

    # --- SIP calls ----------------------------------------------------------------------------------

    async def create_sip_participant(
        self,
        *,
        room: str,
        to: str,
        trunk_id: str,
        identity: str = "",
        name: str = "",
        metadata: str = "",
        attributes: Mapping[str, str] | None = None,
        from_number: str = "",
        wait_until_answered: bool = False,
        ringing_timeout: float | None = None,
        max_call_duration: float | None = None,
        play_dialtone: bool = False,
        dtmf: str = "",
        hide_phone_number: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> SipParticipant:
        """Dial `to` over an outbound trunk into `room`; a refused call raises `LiveKitError` with its SIP status."""
        request = api.CreateSIPParticipantRequest(
            sip_trunk_id=trunk_id,
            sip_call_to=to,
            sip_number=from_number,
            room_name=room,
            participant_identity=identity,
            participant_name=name,
            participant_metadata=metadata,
            participant_attributes=dict(attributes or {}),
            wait_until_answered=wait_until_answered,
            ringing_timeout=_duration(ringing_timeout),
            max_call_duration=_duration(max_call_duration),
            play_dialtone=play_dialtone,
            dtmf=dtmf,
            hide_phone_number=hide_phone_number,
            headers=dict(headers or {}),
        )
        created = await self._call("create SIP participant", self._lk.sip.create_sip_participant(request))
        return sip_participant(created)

    async def transfer(
        self,
        room: str,
        identity: str,
        to: str,
        *,
        play_dialtone: bool = False,
        ringing_timeout: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> TransferResult:
        """Transfer a SIP participant with a SIP REFER to `to` (`tel:+1...` or `sip:...`); waits for the result."""
        request = api.TransferSIPParticipantRequest(
            room_name=room,
            participant_identity=identity,
            transfer_to=to,
            play_dialtone=play_dialtone,
            ringing_timeout=_duration(ringing_timeout),
            headers=dict(headers or {}),
        )
        return transfer_result(
            await self._call("transfer SIP participant", self._lk.sip.transfer_sip_participant(request))
        )

    # --- SIP trunks and dispatch rules --------------------------------------------------------------

    async def create_inbound_trunk(self, trunk: api.SIPInboundTrunkInfo) -> api.SIPInboundTrunkInfo:
        """Store an inbound trunk (numbers, allowed addresses/callers, credentials); LiveKit assigns its id."""
        request = api.CreateSIPInboundTrunkRequest(trunk=trunk)
        return await self._call("create inbound trunk", self._lk.sip.create_inbound_trunk(request))

    async def update_inbound_trunk(
        self, trunk_id: str, trunk: api.SIPInboundTrunkInfo
    ) -> api.SIPInboundTrunkInfo:
        """Replace an inbound trunk entirely."""
        return await self._call("update inbound trunk", self._lk.sip.update_inbound_trunk(trunk_id, trunk))

    async def list_inbound_trunks(
        self, *, trunk_ids: Sequence[str] = (), numbers: Sequence[str] = (), page: Page | None = None
    ) -> list[api.SIPInboundTrunkInfo]:
        """Inbound trunks, optionally only these ids or those serving these numbers; one `page` of them (by id)."""
        request = api.ListSIPInboundTrunkRequest(
            trunk_ids=list(trunk_ids), numbers=list(numbers), page=_pagination(page)
        )
        return list((await self._call("list inbound trunks", self._lk.sip.list_inbound_trunk(request))).items)

    async def create_outbound_trunk(self, trunk: api.SIPOutboundTrunkInfo) -> api.SIPOutboundTrunkInfo:
        """Store an outbound trunk (carrier address, caller-id numbers, credentials)."""
        request = api.CreateSIPOutboundTrunkRequest(trunk=trunk)
        return await self._call("create outbound trunk", self._lk.sip.create_outbound_trunk(request))

    async def update_outbound_trunk(
        self, trunk_id: str, trunk: api.SIPOutboundTrunkInfo
    ) -> api.SIPOutboundTrunkInfo:
        """Replace an outbound trunk entirely."""
        return await self._call("update outbound trunk", self._lk.sip.update_outbound_trunk(trunk_id, trunk))

    async def list_outbound_trunks(
        self, *, trunk_ids: Sequence[str] = (), page: Page | None = None
    ) -> list[api.SIPOutboundTrunkInfo]:
        """Outbound trunks, optionally only these ids; one `page` of them (by id)."""
        request = api.ListSIPOutboundTrunkRequest(trunk_ids=list(trunk_ids), page=_pagination(page))
        return list(
            (await self._call("list outbound trunks", self._lk.sip.list_outbound_trunk(request))).items
        )

    async def delete_trunk(self, trunk_id: str) -> None:
        """Delete an inbound or outbound trunk (LiveKit accepts unknown ids too)."""
        await self._call(
            "delete trunk", self._lk.sip.delete_trunk(api.DeleteSIPTrunkRequest(sip_trunk_id=trunk_id))
        )

    async def create_dispatch_rule(self, rule: api.SIPDispatchRuleInfo) -> api.SIPDispatchRuleInfo:
        """Store a dispatch rule; LiveKit refuses one that conflicts with a rule for the same trunk and number."""
        request = api.CreateSIPDispatchRuleRequest(dispatch_rule=rule)
        return await self._call("create dispatch rule", self._lk.sip.create_dispatch_rule(request))

    async def update_dispatch_rule(
        self, rule_id: str, rule: api.SIPDispatchRuleInfo
    ) -> api.SIPDispatchRuleInfo:
        """Replace a dispatch rule entirely."""
        return await self._call("update dispatch rule", self._lk.sip.update_dispatch_rule(rule_id, rule))

    async def list_dispatch_rules(
        self, *, trunk_ids: Sequence[str] = (), rule_ids: Sequence[str] = (), page: Page | None = None
    ) -> list[api.SIPDispatchRuleInfo]:
        """Dispatch rules, optionally only these ids or those for these trunks (wildcard rules included); one
        `page` of them (by id)."""
        request = api.ListSIPDispatchRuleRequest(
            trunk_ids=list(trunk_ids), dispatch_rule_ids=list(rule_ids), page=_pagination(page)
        )
        return list((await self._call("list dispatch rules", self._lk.sip.list_dispatch_rule(request))).items)

    async def delete_dispatch_rule(self, rule_id: str) -> bool:
        """Delete a dispatch rule; False if it did not exist."""
        request = api.DeleteSIPDispatchRuleRequest(sip_dispatch_rule_id=rule_id)
        try:
            await self._call("delete dispatch rule", self._lk.sip.delete_dispatch_rule(request))
        except LiveKitError as error:
            if error.code == "not_found":
                return False
            raise
        return True

    # --- recording ----------------------------------------------------------------------------------

    async def start_room_composite_egress(
        self, room: str, filepath: str, *, audio_only: bool = True
    ) -> EgressSummary:
        """Record the room's mixed audio (and video unless `audio_only`) to `filepath`."""
        request = api.RoomCompositeEgressRequest(
            room_name=room, audio_only=audio_only, file_outputs=[api.EncodedFileOutput(filepath=filepath)]
        )
        return egress_summary(
            await self._call("start recording", self._lk.egress.start_room_composite_egress(request))
        )

    async def stop_egress(self, egress_id: str) -> EgressSummary:
        """Stop a recording; it finishes (and its file appears) shortly after."""
        request = api.StopEgressRequest(egress_id=egress_id)
        return egress_summary(await self._call("stop recording", self._lk.egress.stop_egress(request)))

    async def list_egress(self, *, room: str = "", active: bool = False) -> list[EgressSummary]:
        """Recordings, optionally of one room or only those still running."""
        request = api.ListEgressRequest(room_name=room, active=active)
        response = await self._call("list recordings", self._lk.egress.list_egress(request))
        return [egress_summary(e) for e in response.items]

    # --- tokens and readiness -----------------------------------------------------------------------

    def access_token(
        self,
        identity: str,
        room: str,
        *,
        ttl: timedelta = timedelta(hours=1),
        metadata: str = "",
        name: str = "",
        grants: api.VideoGrants | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> str:
        """A join token for `room` (default grants: join, publish, subscribe) signed with the project's key."""
        token = (
            api.AccessToken(self._api_key, self._api_secret)
            .with_identity(identity)
            .with_name(name)
            .with_metadata(metadata)
            .with_ttl(ttl)
            .with_grants(grants or api.VideoGrants(room_join=True, room=room))
        )
        if attributes:
            token.with_attributes(dict(attributes))
        return token.to_jwt()

    async def ping(self) -> bool:
        """Readiness: LiveKit answers an authenticated request within two seconds."""
        try:
            await asyncio.wait_for(
                self._call("ping", self._lk.room.list_rooms(api.ListRoomsRequest(names=[PING_ROOM]))),
                timeout=PING_TIMEOUT,
            )
        except (LiveKitError, LiveKitUnavailable, TimeoutError):
            return False
        return True
