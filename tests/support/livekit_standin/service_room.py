"""RoomService and AgentDispatchService handlers, with the grants and errors of LiveKit's server.

Calls the server routes to the node hosting a room over psrpc (send data, agent dispatch lists) get no answer
for a room that does not exist: LiveKit then fails with `unavailable` "no response from servers".
"""

from __future__ import annotations

import asyncio

from livekit.protocol import agent_dispatch as proto_agent
from livekit.protocol import models as proto_models
from livekit.protocol import room as proto_room

from . import errors, ids
from .twirp import CallContext, Handler
from .world import RoomRecord, World

MAX_ROOM_NAME_LENGTH = 256
MAX_METADATA_SIZE = 64000
MAX_NAME_LENGTH = 256
NONCE_LENGTH = 16


def _check_metadata(metadata: str) -> None:
    if len(metadata.encode()) > MAX_METADATA_SIZE:
        raise errors.invalid_argument_error("metadata size exceeds limits", str(MAX_METADATA_SIZE))


def _apply_room_settings(info: proto_models.Room, request: proto_room.CreateRoomRequest) -> None:
    """CreateRoom on an existing room keeps it, but applies the timeouts, limit and metadata given."""
    if request.empty_timeout:
        info.empty_timeout = request.empty_timeout
    if request.departure_timeout:
        info.departure_timeout = request.departure_timeout
    if request.max_participants:
        info.max_participants = request.max_participants
    if request.metadata:
        info.metadata = request.metadata


def _copy_room(info: proto_models.Room) -> proto_models.Room:
    clone = proto_models.Room()
    clone.CopyFrom(info)
    return clone


def _copy_participant(info: proto_models.ParticipantInfo) -> proto_models.ParticipantInfo:
    clone = proto_models.ParticipantInfo()
    clone.CopyFrom(info)
    return clone


class RoomHandlers:
    """`livekit.RoomService` and `livekit.AgentDispatchService` over the stand-in's world."""

    def __init__(self, world: World, *, no_response_delay: float = 0.0) -> None:
        self._world = world
        self._no_response_delay = no_response_delay

    def table(self) -> dict[str, Handler]:
        return {
            "livekit.RoomService/CreateRoom": self.create_room,
            "livekit.RoomService/ListRooms": self.list_rooms,
            "livekit.RoomService/DeleteRoom": self.delete_room,
            "livekit.RoomService/ListParticipants": self.list_participants,
            "livekit.RoomService/GetParticipant": self.get_participant,
            "livekit.RoomService/RemoveParticipant": self.remove_participant,
            "livekit.RoomService/UpdateParticipant": self.update_participant,
            "livekit.RoomService/UpdateRoomMetadata": self.update_room_metadata,
            "livekit.RoomService/SendData": self.send_data,
            "livekit.AgentDispatchService/CreateDispatch": self.create_dispatch,
            "livekit.AgentDispatchService/DeleteDispatch": self.delete_dispatch,
            "livekit.AgentDispatchService/ListDispatch": self.list_dispatch,
        }

    async def _hosted_room(self, name: str) -> RoomRecord:
        record = self._world.room(name)
        if record is None:
            await asyncio.sleep(self._no_response_delay)
            raise errors.no_response_from_servers()
        return record

    async def create_room(
        self, request: proto_room.CreateRoomRequest, call: CallContext
    ) -> proto_models.Room:
        call.grants.ensure_create()
        if not request.name:
            raise errors.psrpc_error("invalid_argument", "no room name")
        if len(request.name) > MAX_ROOM_NAME_LENGTH:
            raise errors.psrpc_error(
                "invalid_argument", f"room name length exceeds limits: max length {MAX_ROOM_NAME_LENGTH}"
            )
        _check_metadata(request.metadata)
        for agent in request.agents:
            _check_metadata(agent.metadata)
        with self._world.lock:
            record, created = self._world.ensure_room(request.name, request)
            if not created:
                _apply_room_settings(record.info, request)
            return _copy_room(record.info)

    async def list_rooms(
        self, request: proto_room.ListRoomsRequest, call: CallContext
    ) -> proto_room.ListRoomsResponse:
        call.grants.ensure_list()
        with self._world.lock:
            rooms = [
                _copy_room(r.info)
                for name, r in sorted(self._world.rooms.items())
                if not request.names or name in request.names
            ]
        return proto_room.ListRoomsResponse(rooms=rooms)

    async def delete_room(
        self, request: proto_room.DeleteRoomRequest, call: CallContext
    ) -> proto_room.DeleteRoomResponse:
        call.grants.ensure_create()
        if not self._world.close_room(request.room):
            raise errors.psrpc_error("not_found", "requested room does not exist")
        return proto_room.DeleteRoomResponse()

    async def list_participants(
        self, request: proto_room.ListParticipantsRequest, call: CallContext
    ) -> proto_room.ListParticipantsResponse:
        call.grants.ensure_admin(request.room)
        with self._world.lock:
            record = self._world.room(request.room)
            found = [_copy_participant(p) for p in record.participants.values()] if record else []
        return proto_room.ListParticipantsResponse(participants=found)

    async def get_participant(
        self, request: proto_room.RoomParticipantIdentity, call: CallContext
    ) -> proto_models.ParticipantInfo:
        call.grants.ensure_admin(request.room)
        with self._world.lock:
            return _copy_participant(self._existing_participant(request.room, request.identity))

    def _existing_participant(self, room: str, identity: str) -> proto_models.ParticipantInfo:
        participant = self._world.participant(room, identity)
        if participant is None:
            raise errors.psrpc_error("not_found", "participant does not exist")
        return participant

    async def remove_participant(
        self, request: proto_room.RoomParticipantIdentity, call: CallContext
    ) -> proto_room.RemoveParticipantResponse:
        call.grants.ensure_admin(request.room)
        with self._world.lock:
            self._existing_participant(request.room, request.identity)
            self._world.leave(
                request.room, request.identity, proto_models.DisconnectReason.PARTICIPANT_REMOVED
            )
        return proto_room.RemoveParticipantResponse()

    async def update_participant(
        self, request: proto_room.UpdateParticipantRequest, call: CallContext
    ) -> proto_models.ParticipantInfo:
        if len(request.name) > MAX_NAME_LENGTH:
            raise errors.invalid_argument_error("name length exceeds limits", str(MAX_NAME_LENGTH))
        _check_metadata(request.metadata)
        call.grants.ensure_admin(request.room)
        with self._world.lock:
            participant = self._existing_participant(request.room, request.identity)
            if request.metadata:
                participant.metadata = request.metadata
            if request.name:
                participant.name = request.name
            if request.HasField("permission"):
                participant.permission.CopyFrom(request.permission)
            self._world.set_attributes(request.room, request.identity, dict(request.attributes))
            return _copy_participant(participant)

    async def update_room_metadata(
        self, request: proto_room.UpdateRoomMetadataRequest, call: CallContext
    ) -> proto_models.Room:
        _check_metadata(request.metadata)
        call.grants.ensure_admin(request.room)
        with self._world.lock:
            record = self._world.room(request.room)
            if record is None:
                raise errors.psrpc_error("not_found", "requested room does not exist")
            record.info.metadata = request.metadata
            return _copy_room(record.info)

    async def send_data(
        self, request: proto_room.SendDataRequest, call: CallContext
    ) -> proto_room.SendDataResponse:
        call.grants.ensure_admin(request.room)
        if request.nonce and len(request.nonce) != NONCE_LENGTH:
            raise errors.twirp_error(
                "invalid_argument",
                f"nonce should be 16-bytes or not present, got: {len(request.nonce)} bytes",
            )
        record = await self._hosted_room(request.room)
        packet = proto_models.DataPacket(
            kind=request.kind,
            destination_identities=request.destination_identities,
            user=proto_models.UserPacket(
                payload=request.data,
                destination_sids=request.destination_sids,
                destination_identities=request.destination_identities,
                topic=request.topic,
                nonce=request.nonce,
            ),
        )
        with self._world.lock:
            record.data_packets.append(packet)
        return proto_room.SendDataResponse()

    async def create_dispatch(
        self, request: proto_agent.CreateAgentDispatchRequest, call: CallContext
    ) -> proto_agent.AgentDispatch:
        call.grants.ensure_admin(request.room)
        if len(request.metadata.encode()) > MAX_METADATA_SIZE:
            raise errors.psrpc_error("invalid_argument", "metadata size exceeds limits")
        with self._world.lock:
            record, _ = self._world.ensure_room(request.room)
            dispatch_id = ids.hashed_id(ids.AGENT_DISPATCH, call.request_id) if call.request_id else None
            dispatch = self._world.add_dispatch(
                record, agent_name=request.agent_name, metadata=request.metadata, dispatch_id=dispatch_id
            )
            return _copy_dispatch(dispatch)

    async def delete_dispatch(
        self, request: proto_agent.DeleteAgentDispatchRequest, call: CallContext
    ) -> proto_agent.AgentDispatch:
        call.grants.ensure_admin(request.room)
        record = await self._hosted_room(request.room)
        with self._world.lock:
            dispatch = record.dispatches.pop(request.dispatch_id, None)
            if dispatch is None:
                raise errors.psrpc_error("not_found", "dispatch ID not found")
            return _copy_dispatch(dispatch)

    async def list_dispatch(
        self, request: proto_agent.ListAgentDispatchRequest, call: CallContext
    ) -> proto_agent.ListAgentDispatchResponse:
        call.grants.ensure_admin(request.room)
        record = await self._hosted_room(request.room)
        with self._world.lock:
            found = [
                _copy_dispatch(d)
                for d in record.dispatches.values()
                if not request.dispatch_id or d.id == request.dispatch_id
            ]
        return proto_agent.ListAgentDispatchResponse(agent_dispatches=found)


def _copy_dispatch(dispatch: proto_agent.AgentDispatch) -> proto_agent.AgentDispatch:
    clone = proto_agent.AgentDispatch()
    clone.CopyFrom(dispatch)
    return clone
