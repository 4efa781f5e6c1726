"""LiveKit webhook events applied through the call store (calls, recordings) and `gateway.sessions` (web sessions).

What an event means for a call is decided in `call_effects`, from the event alone; the call store folds it into the
stored call, so any order (and any repeat) of a call's events gives the same final record.
- SIP participant joined/left: the call is opened on first sight (inbound, by `sip.callID`) or found by its
  `trunkline.call_id` (outbound: the placer's; bridged carrier calls: the bridge trunk's); either event can come
  first;
- `room_finished` ends the calls (and the web session) in the room;
- egress events become `Recording`s of the call in the room (unique by egress id), never moving back; an egress
  reported before its call is known is kept, and linked when the call opens.
Every call event carries the webhook's id as its dedupe key: a replayed webhook adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from gateway.calls.recordings import RecordingReport
from gateway.calls.store import CallEdit, CallRef, CallStore
from gateway.db.database import Database
from gateway.sessions import records as sessions

from .call_effects import (
    SOURCE,
    CallEffect,
    event_time,
    inbound_call,
    keys_of,
    participant_effect,
    room_effect,
)
from .webhooks import LiveKitEvent, Participant

Effect = Literal["call", "session", "room", "recording", "ignored"]

_EGRESS_RANK = {"starting": 0, "active": 1, "ending": 2}
_FINAL_RANK = 3


@dataclass(frozen=True)
class Watch:
    """An inbound SIP participant still ringing: someone should poll until it answers."""

    room: str
    identity: str
    call_id: str


@dataclass
class Applied:
    effect: Effect
    watch: Watch | None = None
    stop_watch: tuple[str, str] | None = None
    duplicate: bool = False
    """The event changed nothing: the call had it already (a replay)."""


def effect_of(event: LiveKitEvent) -> Effect:
    """Which kind of work an event needs, decided without the database (most events need none)."""
    participant = event.participant
    if event.event in ("participant_joined", "participant_left") and participant is not None:
        if participant.kind == "sip":
            return "call"
        if sessions.SESSION_ATTR in participant.attributes:
            return "session"
        return "ignored"
    if event.event == "room_finished" and event.room is not None:
        return "room"
    if event.event.startswith("egress_") and event.egress is not None:
        return "recording"
    return "ignored"


def carry_out(edit: CallEdit, effect: CallEffect, dedupe_key: str) -> None:
    """An effect on a call: fold the status (or note the event), then fill in what the call lacks."""
    call = edit.call
    if effect.carrier_call_id and not call.carrier_call_id:
        call.carrier_call_id = effect.carrier_call_id
    if effect.update is not None:
        edit.fold(effect.update, source=SOURCE, dedupe_key=dedupe_key, data=effect.data)
    else:
        edit.event(effect.note, effect.data, source=SOURCE, at=effect.note_at, dedupe_key=dedupe_key)
    if effect.room and not call.livekit_room:
        call.livekit_room = effect.room


class EventApplier:
    """Applies one verified event of a project; `trunk_of` maps LiveKit trunk ids to gateway trunk ids."""

    def __init__(self, store: CallStore, database: Database) -> None:
        self.store = store
        self.database = database

    async def apply(
        self,
        project_id: str,
        event: LiveKitEvent,
        trunk_of: dict[str, str],
        agent_of: dict[str, str] | None = None,
        route_of: dict[str, str] | None = None,
    ) -> Applied:
        """`agent_of` maps agent names to ids (an inbound call records the agent its dispatch rule named);
        `route_of` maps the numbers of the dispatch rule that admitted a call to their routes."""
        match effect_of(event):
            case "call":
                assert event.participant is not None
                return await self._sip_participant(
                    project_id, event, event.participant, trunk_of, agent_of or {}, route_of or {}
                )
            case "session":
                assert event.participant is not None
                await self._session(project_id, event, event.participant)
                return Applied("session")
            case "room":
                assert event.room is not None
                await self._room_finished(project_id, event.room.name, event)
                return Applied("room")
            case "recording":
                await self._egress(project_id, event)
                return Applied("recording")
        return Applied("ignored")

    async def _sip_participant(
        self,
        project_id: str,
        event: LiveKitEvent,
        participant: Participant,
        trunk_of: dict[str, str],
        agent_of: dict[str, str],
        route_of: dict[str, str],
    ) -> Applied:
        keys = keys_of(participant)
        effects: list[CallEffect] = []

        def work(edit: CallEdit) -> None:
            call = edit.call
            effect = participant_effect(event, participant, carrier=call.carrier, direction=call.direction)
            effects.append(effect)
            carry_out(edit, effect, event.id)

        if keys.call_id:
            changed = await self.store.change(CallRef(call_id=keys.call_id, project_id=project_id), work)
            if changed is None:
                return Applied("ignored")
            edit = changed[1]
        else:
            new = inbound_call(project_id, event, participant, trunk_of, agent_of, route_of)
            if new is None:
                return Applied("ignored")
            _, edit = await self.store.change_or_open(new, work)
        effect = effects[-1]
        watch = Watch(effect.watch[0], effect.watch[1], edit.call.id) if effect.watch else None
        return Applied("call", watch=watch, stop_watch=effect.stop_watch, duplicate=edit.saved_events == 0)

    async def _session(self, project_id: str, event: LiveKitEvent, participant: Participant) -> None:
        session_id = participant.attributes[sessions.SESSION_ATTR]
        async with self.database.session() as db:
            if event.event == "participant_joined":
                await sessions.participant_joined(db, project_id, session_id, event_time(event))
            else:
                await sessions.ended(db, project_id, session_id, event_time(event), "participant left")
            await db.commit()

    async def _room_finished(self, project_id: str, room: str, event: LiveKitEvent) -> None:
        if sessions.is_session_room(room):
            async with self.database.session() as db:
                await sessions.ended(db, project_id, room, event_time(event), "room closed")
                await db.commit()
            return

        def work(edit: CallEdit) -> None:
            carry_out(edit, room_effect(event, carrier=edit.call.carrier), event.id)

        for call_id in await self.store.ids_in_room(project_id, room):
            await self.store.change(CallRef(call_id=call_id), work)

    async def _egress(self, project_id: str, event: LiveKitEvent) -> None:
        egress = event.egress
        assert egress is not None
        report = RecordingReport(
            source=SOURCE,
            external_id=egress.egress_id,
            status=egress.status,
            rank=_EGRESS_RANK.get(egress.status, _FINAL_RANK),
            url=egress.files[0] if egress.files else None,
            meta={"room": egress.room_name, "error": egress.error or None},
        )
        ref = CallRef(livekit_room=egress.room_name, project_id=project_id)
        await self.store.record_recording(project_id, report, ref)
