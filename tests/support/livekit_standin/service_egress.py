"""Egress handlers: every method needs the `roomRecord` grant, as in LiveKit's EgressService."""

from __future__ import annotations

from livekit.protocol import egress as proto_egress

from . import errors
from .twirp import CallContext, Handler
from .world import World

_RUNNING = (proto_egress.EgressStatus.EGRESS_STARTING, proto_egress.EgressStatus.EGRESS_ACTIVE)


def _copy(info: proto_egress.EgressInfo) -> proto_egress.EgressInfo:
    clone = proto_egress.EgressInfo()
    clone.CopyFrom(info)
    return clone


class EgressHandlers:
    """`livekit.Egress`: room composite and track egress, list and stop; egress finishes when stopped."""

    def __init__(self, world: World) -> None:
        self._world = world

    def table(self) -> dict[str, Handler]:
        return {
            "livekit.Egress/StartRoomCompositeEgress": self.start_room_composite,
            "livekit.Egress/StartTrackEgress": self.start_track,
            "livekit.Egress/ListEgress": self.list_egress,
            "livekit.Egress/StopEgress": self.stop_egress,
        }

    def _room_id(self, room_name: str) -> str:
        record = self._world.room(room_name)
        if record is None:
            raise errors.psrpc_error("not_found", "requested room does not exist")
        return record.info.sid

    async def start_room_composite(
        self, request: proto_egress.RoomCompositeEgressRequest, call: CallContext
    ) -> proto_egress.EgressInfo:
        call.grants.ensure_record()
        info = proto_egress.EgressInfo(
            room_id=self._room_id(request.room_name),
            room_name=request.room_name,
            source_type=proto_egress.EgressSourceType.EGRESS_SOURCE_TYPE_WEB,
            room_composite=request,
        )
        return self._world.start_egress(info)

    async def start_track(
        self, request: proto_egress.TrackEgressRequest, call: CallContext
    ) -> proto_egress.EgressInfo:
        call.grants.ensure_record()
        info = proto_egress.EgressInfo(
            room_id=self._room_id(request.room_name),
            room_name=request.room_name,
            source_type=proto_egress.EgressSourceType.EGRESS_SOURCE_TYPE_SDK,
            track=request,
        )
        return self._world.start_egress(info)

    async def list_egress(
        self, request: proto_egress.ListEgressRequest, call: CallContext
    ) -> proto_egress.ListEgressResponse:
        call.grants.ensure_record()
        with self._world.lock:
            items = [
                _copy(e)
                for e in self._world.egresses.values()
                if (not request.room_name or e.room_name == request.room_name)
                and (not request.egress_id or e.egress_id == request.egress_id)
                and (not request.active or e.status in _RUNNING)
            ]
        return proto_egress.ListEgressResponse(items=items)

    async def stop_egress(
        self, request: proto_egress.StopEgressRequest, call: CallContext
    ) -> proto_egress.EgressInfo:
        call.grants.ensure_record()
        with self._world.lock:
            info = self._world.egresses.get(request.egress_id)
            if info is None:
                raise errors.psrpc_error("not_found", "egress does not exist")
            if info.status not in _RUNNING:
                status = proto_egress.EgressStatus.Name(info.status)
                raise errors.twirp_error(
                    "failed_precondition", f"egress with status {status} cannot be stopped"
                )
            info.status = proto_egress.EgressStatus.EGRESS_ENDING
            stopping = _copy(info)
        egress_id = request.egress_id

        def finish() -> None:
            self._world.finish_egress(egress_id)

        self._world.schedule(0.0, finish)
        return stopping
