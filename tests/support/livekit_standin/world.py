"""The stand-in's state: rooms and their participants, agent dispatches, SIP trunks and rules, egresses.

One re-entrant lock guards it all, so the Twirp handlers (on the server's loop) and the control API (from
any thread) can both use it. Room lifecycle follows LiveKit: a room starts when created or first joined,
closes `empty_timeout` after creation if nobody joined, or `departure_timeout` after the last participant
left; webhooks are published for each step.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from livekit.protocol import agent_dispatch as proto_agent
from livekit.protocol import egress as proto_egress
from livekit.protocol import models as proto_models
from livekit.protocol import room as proto_room
from livekit.protocol import sip as proto_sip

from . import ids, webhooks

DEFAULT_EMPTY_TIMEOUT = 300
DEFAULT_DEPARTURE_TIMEOUT = 20

Schedule = Callable[[float, Callable[[], None]], None]
LeaveListener = Callable[["Departure"], None]


@dataclass
class RoomRecord:
    info: proto_models.Room
    participants: dict[str, proto_models.ParticipantInfo] = field(default_factory=dict)
    dispatches: dict[str, proto_agent.AgentDispatch] = field(default_factory=dict)
    data_packets: list[proto_models.DataPacket] = field(default_factory=list)
    idle_generation: int = 0


@dataclass(frozen=True)
class Departure:
    """A participant who left, and why."""

    room: str
    participant: proto_models.ParticipantInfo
    reason: int


class World:
    """All state of one stand-in LiveKit project."""

    def __init__(self, *, sender: webhooks.WebhookSender, schedule: Schedule, time_scale: float) -> None:
        self.lock = threading.RLock()
        self.rooms: dict[str, RoomRecord] = {}
        self.inbound_trunks: dict[str, proto_sip.SIPInboundTrunkInfo] = {}
        self.outbound_trunks: dict[str, proto_sip.SIPOutboundTrunkInfo] = {}
        self.dispatch_rules: dict[str, proto_sip.SIPDispatchRuleInfo] = {}
        self.egresses: dict[str, proto_egress.EgressInfo] = {}
        self.departures: list[Departure] = []
        self.leave_listeners: list[LeaveListener] = []
        self._sender = sender
        self.schedule = schedule
        self.time_scale = time_scale

    # --- rooms ------------------------------------------------------------------------------------

    def room(self, name: str) -> RoomRecord | None:
        with self.lock:
            return self.rooms.get(name)

    def ensure_room(
        self, name: str, config: proto_room.CreateRoomRequest | proto_room.RoomConfiguration | None = None
    ) -> tuple[RoomRecord, bool]:
        """The room of that name, created (room_started, its agents dispatched) when missing."""
        with self.lock:
            existing = self.rooms.get(name)
            if existing is not None:
                return existing, False
            now = time.time()
            info = proto_models.Room(
                sid=ids.new_id(ids.ROOM),
                name=name,
                empty_timeout=(config.empty_timeout if config else 0) or DEFAULT_EMPTY_TIMEOUT,
                departure_timeout=(config.departure_timeout if config else 0) or DEFAULT_DEPARTURE_TIMEOUT,
                max_participants=config.max_participants if config else 0,
                metadata=config.metadata if config else "",
                creation_time=int(now),
                creation_time_ms=int(now * 1000),
            )
            record = RoomRecord(info=info)
            self.rooms[name] = record
            for agent in config.agents if config else []:
                self.add_dispatch(record, agent_name=agent.agent_name, metadata=agent.metadata)
            self._publish(record.info, webhooks.ROOM_STARTED)
            self._schedule_idle_check(record, info.empty_timeout)
            return record, True

    def close_room(self, name: str, reason: int = proto_models.DisconnectReason.ROOM_DELETED) -> bool:
        """Disconnect everyone, end the room's egresses and finish the room."""
        with self.lock:
            record = self.rooms.get(name)
            if record is None:
                return False
            for identity in list(record.participants):
                self.leave(name, identity, reason, close_empty_room=False)
            for egress in self.egresses.values():
                if egress.room_name == name and egress.status <= proto_egress.EgressStatus.EGRESS_ENDING:
                    self.finish_egress(egress.egress_id)
            del self.rooms[name]
            self._publish(record.info, webhooks.ROOM_FINISHED)
            return True

    def _schedule_idle_check(self, record: RoomRecord, seconds: int) -> None:
        generation = record.idle_generation
        name = record.info.name

        def close_if_still_idle() -> None:
            with self.lock:
                current = self.rooms.get(name)
                if current is record and not record.participants and record.idle_generation == generation:
                    self.close_room(name, proto_models.DisconnectReason.ROOM_CLOSED)

        self.schedule(seconds * self.time_scale, close_if_still_idle)

    # --- participants -----------------------------------------------------------------------------

    def join(self, room_name: str, participant: proto_models.ParticipantInfo) -> proto_models.ParticipantInfo:
        """A participant connects (auto-creating the room); a same-identity participant is replaced."""
        with self.lock:
            record, _ = self.ensure_room(room_name)
            if participant.identity in record.participants:
                self.leave(room_name, participant.identity, proto_models.DisconnectReason.DUPLICATE_IDENTITY)
            now = time.time()
            participant.sid = participant.sid or ids.new_id(ids.PARTICIPANT)
            participant.state = proto_models.ParticipantInfo.State.ACTIVE
            participant.joined_at = int(now)
            participant.joined_at_ms = int(now * 1000)
            record.participants[participant.identity] = participant
            record.idle_generation += 1
            self._refresh_counts(record)
            self._publish(record.info, webhooks.PARTICIPANT_JOINED, participant)
            return participant

    def leave(
        self, room_name: str, identity: str, reason: int, *, close_empty_room: bool = True
    ) -> proto_models.ParticipantInfo | None:
        """A participant disconnects; an emptied room closes after its departure timeout."""
        with self.lock:
            record = self.rooms.get(room_name)
            if record is None or identity not in record.participants:
                return None
            participant = record.participants.pop(identity)
            participant.state = proto_models.ParticipantInfo.State.DISCONNECTED
            participant.disconnect_reason = reason  # type: ignore[assignment]
            record.idle_generation += 1
            self._refresh_counts(record)
            departure = Departure(room=room_name, participant=participant, reason=reason)
            self.departures.append(departure)
            for listener in self.leave_listeners:
                listener(departure)
            self._publish(record.info, webhooks.PARTICIPANT_LEFT, participant)
            if close_empty_room and not record.participants:
                self._schedule_idle_check(record, record.info.departure_timeout)
            return participant

    def participant(self, room_name: str, identity: str) -> proto_models.ParticipantInfo | None:
        with self.lock:
            record = self.rooms.get(room_name)
            return record.participants.get(identity) if record else None

    def set_attributes(self, room_name: str, identity: str, attributes: dict[str, str]) -> None:
        """Participant attributes change in place (LiveKit sends no webhook for that)."""
        with self.lock:
            participant = self.participant(room_name, identity)
            if participant is not None:
                for key, value in attributes.items():
                    if value:
                        participant.attributes[key] = value
                    else:
                        participant.attributes.pop(key, None)
                participant.version += 1

    def _refresh_counts(self, record: RoomRecord) -> None:
        record.info.num_participants = len(record.participants)
        record.info.num_publishers = sum(1 for p in record.participants.values() if p.is_publisher)

    # --- agent dispatch ---------------------------------------------------------------------------

    def add_dispatch(
        self, record: RoomRecord, *, agent_name: str, metadata: str, dispatch_id: str | None = None
    ) -> proto_agent.AgentDispatch:
        with self.lock:
            dispatch_id = dispatch_id or ids.new_id(ids.AGENT_DISPATCH)
            existing = record.dispatches.get(dispatch_id)
            if existing is not None:
                return existing
            dispatch = proto_agent.AgentDispatch(
                id=dispatch_id,
                agent_name=agent_name,
                room=record.info.name,
                metadata=metadata,
                state=proto_agent.AgentDispatchState(created_at=time.time_ns()),
            )
            record.dispatches[dispatch_id] = dispatch
            return dispatch

    # --- egress -----------------------------------------------------------------------------------

    def start_egress(self, info: proto_egress.EgressInfo) -> proto_egress.EgressInfo:
        """Egress starts (egress_started), becomes active shortly after (egress_updated)."""
        with self.lock:
            info.egress_id = ids.new_id(ids.EGRESS)
            info.status = proto_egress.EgressStatus.EGRESS_STARTING
            info.updated_at = time.time_ns()
            self.egresses[info.egress_id] = info
            self._publish(self._minimal_room(info), webhooks.EGRESS_STARTED, None, info)
            egress_id = info.egress_id

        def activate() -> None:
            with self.lock:
                current = self.egresses.get(egress_id)
                if current is not None and current.status == proto_egress.EgressStatus.EGRESS_STARTING:
                    current.status = proto_egress.EgressStatus.EGRESS_ACTIVE
                    current.started_at = current.updated_at = time.time_ns()
                    self._publish(self._minimal_room(current), webhooks.EGRESS_UPDATED, None, current)

        self.schedule(0.0, activate)
        return _copy(info)

    def finish_egress(self, egress_id: str, *, error: str = "") -> proto_egress.EgressInfo | None:
        """Egress ends: complete with its file result, or failed with `error` (egress_ended)."""
        with self.lock:
            info = self.egresses.get(egress_id)
            if info is None:
                return None
            if info.status > proto_egress.EgressStatus.EGRESS_ENDING:
                return _copy(info)
            now = time.time_ns()
            info.started_at = info.started_at or now
            info.ended_at = info.updated_at = now
            if error:
                info.status = proto_egress.EgressStatus.EGRESS_FAILED
                info.error = error
            else:
                info.status = proto_egress.EgressStatus.EGRESS_COMPLETE
                for path in _file_paths(info):
                    info.file_results.add(
                        filename=path or f"{info.room_name}-{info.egress_id}.ogg",
                        started_at=info.started_at,
                        ended_at=now,
                        duration=now - info.started_at,
                        location=path,
                    )
            self._publish(self._minimal_room(info), webhooks.EGRESS_ENDED, None, info)
            return _copy(info)

    def _minimal_room(self, info: proto_egress.EgressInfo) -> proto_models.Room:
        return proto_models.Room(sid=info.room_id, name=info.room_name)

    # --- webhooks ---------------------------------------------------------------------------------

    def _publish(
        self,
        room: proto_models.Room | None,
        event: str,
        participant: proto_models.ParticipantInfo | None = None,
        egress: proto_egress.EgressInfo | None = None,
    ) -> None:
        self._sender.publish(webhooks.build_event(event, room=room, participant=participant, egress=egress))


def _copy(message: proto_egress.EgressInfo) -> proto_egress.EgressInfo:
    clone = proto_egress.EgressInfo()
    clone.CopyFrom(message)
    return clone


def _file_paths(info: proto_egress.EgressInfo) -> Iterable[str]:
    if info.HasField("room_composite"):
        request = info.room_composite
        outputs = list(request.file_outputs)
        if request.HasField("file"):
            outputs.append(request.file)
        return [output.filepath for output in outputs]
    if info.HasField("track") and info.track.HasField("file"):
        return [info.track.file.filepath]
    return []
