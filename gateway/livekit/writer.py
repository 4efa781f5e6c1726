"""Group commit for LiveKit webhooks: events arriving together are deduplicated and applied in one transaction.

Applied one at a time, each event costs a dozen database round trips and a commit, and on SQLite every request
queues for the one connection. Here a request hands its verified event to `EventWriter.submit` and waits; the
writer takes everything pending and, in one transaction on one connection (no ORM unit of work): records the
events' ids as `InboundReceipt`s, loads every call the batch touches with one query as `CallDraft`s, folds each
event's effect (`call_effects`, through `records.fold_status`) into them in arrival order, then writes the new
calls, the changed columns of the others and the call events, each with one executemany. Sessions and
recordings go through `events.apply`, in an ORM session joined to the same transaction.

A replayed event (its id recorded before) makes the receipts insert fail; so does a call opened meanwhile by
another replica. A failed batch is retried one event at a time through `events.apply`, which tells replays
apart, so one bad event never takes the others down. The ack is sent only after the commit: an acknowledged
webhook is never lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from gateway.calls.draft import CallDraft
from gateway.calls.lifecycle import TERMINAL_STATES
from gateway.calls.records import INSERT_CALLS, INSERT_EVENTS, fold_status, new_draft, snapshot_of
from gateway.db.batching import Batcher
from gateway.db.bulk import BulkInsert, BulkUpdate
from gateway.db.models import Call, CallEvent, InboundReceipt
from gateway.db.types import utcnow
from gateway.sessions import records as sessions

from . import events
from .call_effects import (
    SOURCE,
    CallEffect,
    inbound_call,
    keys_of,
    participant_effect,
    room_effect,
    room_of,
)
from .webhooks import LiveKitEvent

logger = logging.getLogger("gateway.livekit.webhooks")

MAX_BATCH = 256
RECEIPT_SOURCE = "livekit"
Outcome = Literal["applied", "duplicate"]
_TERMINAL = frozenset(s.value for s in TERMINAL_STATES)

_CALL_TABLE = Call.__table__
_LAST_SEQ = (
    select(func.max(CallEvent.seq)).where(CallEvent.call_id == Call.id).scalar_subquery().label("last_seq")
)
_CHANGEABLE = (
    "status",
    "lifecycle",
    "ringing_at",
    "answered_at",
    "ended_at",
    "duration_s",
    "sip_status",
    "last_sequence",
    "carrier_call_id",
    "end_reason",
    "livekit_room",
)
"""The columns an event can change on a stored call (`records.fold_status` and `_Calls.carry_out`)."""
_TOUCHED = (
    select(*_CALL_TABLE.columns, _LAST_SEQ)
    .where(
        or_(
            Call.id.in_(bindparam("ids", expanding=True)),
            and_(Call.carrier == SOURCE, Call.carrier_call_id.in_(bindparam("sip_ids", expanding=True))),
            and_(Call.livekit_room.in_(bindparam("rooms", expanding=True)), Call.status.not_in(_TERMINAL)),
        )
    )
    .with_for_update()
)
"""The calls a batch touches: by gateway call id, by LiveKit SIP call id, or still open in a finished room."""
UPDATE_CALLS = BulkUpdate(Call, (*_CHANGEABLE, "updated_at"))
INSERT_RECEIPTS = BulkInsert(InboundReceipt, ("source", "key", "received_at"))


def _in_memory(event: LiveKitEvent) -> bool:
    """Call and (non-session) room events are applied to the batch's calls in memory; the rest through `events`."""
    kind = events.effect_of(event)
    return kind == "call" or (kind == "room" and not sessions.is_session_room(room_of(event)))


def _changeable(call: CallDraft) -> tuple[object, ...]:
    return tuple(getattr(call, name) for name in _CHANGEABLE)


@dataclass
class Submitted:
    project_id: str
    key: str
    event: LiveKitEvent
    future: asyncio.Future[Outcome] = field(repr=False)


TrunkLookup = Callable[[AsyncConnection | AsyncSession, str], Awaitable[dict[str, str]]]
AfterCommit = Callable[[str, events.Applied], Awaitable[None]]


class _Calls:
    """Every call one batch touches, loaded at once as drafts, changed in memory, written back before the commit."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self.by_id: dict[str, CallDraft] = {}
        self.by_sip: dict[str, CallDraft] = {}
        self._seq: dict[str, int] = {}
        self._new: list[CallDraft] = []
        self._written: dict[str, tuple[object, ...]] = {}
        """The changeable columns of each stored call as the database has them, to write back only changes."""
        self._events: list[dict[str, object]] = []

    async def load(self, batch: Sequence[Submitted]) -> None:
        ids: set[str] = set()
        sip_ids: set[str] = set()
        rooms: set[str] = set()
        for item in batch:
            participant = item.event.participant
            kind = events.effect_of(item.event)
            if kind == "call" and participant is not None:
                keys = keys_of(participant)
                if keys.call_id:
                    ids.add(keys.call_id)
                elif keys.sip_call_id:
                    sip_ids.add(keys.sip_call_id)
            elif kind == "room" and not sessions.is_session_room(room_of(item.event)):
                rooms.add(room_of(item.event))
        if not (ids or sip_ids or rooms):
            return
        rows = await self._connection.execute(
            _TOUCHED, {"ids": list(ids), "sip_ids": list(sip_ids), "rooms": list(rooms)}
        )
        for row in rows.mappings():
            values = dict(row)
            seq = values.pop(_LAST_SEQ.key)
            call = CallDraft(**values)
            self._remember(call)
            self._seq[call.id] = seq or 0
            self._written[call.id] = _changeable(call)

    def _remember(self, call: CallDraft) -> None:
        self.by_id[call.id] = call
        if call.carrier == SOURCE and call.carrier_call_id:
            self.by_sip[call.carrier_call_id] = call

    def call_for(self, item: Submitted, trunk_of: dict[str, str]) -> CallDraft | None:
        participant = item.event.participant
        assert participant is not None
        keys = keys_of(participant)
        if keys.call_id:
            found = self.by_id.get(keys.call_id)
            return found if found is not None and found.project_id == item.project_id else None
        if keys.sip_call_id and keys.sip_call_id in self.by_sip:
            found = self.by_sip[keys.sip_call_id]
            return found if found.project_id == item.project_id else None
        new = inbound_call(item.project_id, item.event, participant, trunk_of)
        if new is None:
            return None
        call = new_draft(new)
        self._new.append(call)
        self._remember(call)
        return call

    async def flush(self) -> None:
        """Write what changed: new calls, then the stored calls whose columns changed, then every event."""
        connection = self._connection
        await INSERT_CALLS.execute(connection, [call.row() for call in self._new])
        for call in self._new:
            self._written[call.id] = _changeable(call)
        self._new = []
        now = utcnow()
        changed = []
        for call_id, before in self._written.items():
            call = self.by_id[call_id]
            after = _changeable(call)
            if after != before:
                call.updated_at = now
                changed.append(call.row())
                self._written[call_id] = after
        await UPDATE_CALLS.execute(connection, changed)
        await INSERT_EVENTS.execute(connection, self._events)
        self._events = []

    def in_room(self, project_id: str, room: str) -> list[CallDraft]:
        return [
            c
            for c in self.by_id.values()
            if c.project_id == project_id and c.livekit_room == room and c.status not in _TERMINAL
        ]

    def carry_out(self, call: CallDraft, effect: CallEffect, dedupe_key: str) -> None:
        """`events.carry_out`, in memory: the same fold and the same event, numbered after the call's last."""
        if effect.carrier_call_id and not call.carrier_call_id:
            call.carrier_call_id = effect.carrier_call_id
            self.by_sip[effect.carrier_call_id] = call
        if effect.update is not None:
            outcome = fold_status(call, effect.update)
            kind, at = f"status.{effect.update.state.value}", utcnow()
            data = {"outcome": outcome.kind, "reason": outcome.reason, **effect.data}
        else:
            kind, at, data = effect.note, effect.note_at or utcnow(), effect.data
        seq = self._seq.get(call.id, 0) + 1
        self._seq[call.id] = seq
        event = {"call_id": call.id, "seq": seq, "at": at, "kind": kind, "source": SOURCE, "data": data}
        self._events.append({**event, "dedupe_key": dedupe_key})
        if effect.end_reason and call.end_reason is None:
            call.end_reason = effect.end_reason
        if effect.room and not call.livekit_room:
            call.livekit_room = effect.room


class EventWriter:
    def __init__(
        self,
        sessions_: async_sessionmaker[AsyncSession],
        trunks: TrunkLookup,
        after_commit: AfterCommit,
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._sessions = sessions_
        engine = sessions_.kw.get("bind")
        if not isinstance(engine, AsyncEngine):
            raise TypeError("EventWriter needs a session factory bound to an AsyncEngine")
        self._engine = engine
        self._trunks = trunks
        self._after_commit = after_commit
        self._queue: Batcher[Submitted] = Batcher(
            self._write, name="livekit webhook writer", max_batch=max_batch
        )
        self.batches = 0
        self.events = 0

    def start(self) -> None:
        self._queue.start()

    async def stop(self) -> None:
        """Write what is pending, then stop."""
        await self._queue.stop()

    async def submit(self, project_id: str, key: str, event: LiveKitEvent) -> Outcome:
        """Record and apply one verified event; "duplicate" when its id was received before."""
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        item = Submitted(project_id, key, event, future)
        if self._queue.running:
            self._queue.put(item)
        else:
            await self._write_one(item)
        return await future

    async def _write(self, batch: list[Submitted]) -> None:
        try:
            applied = await self._write_batch(batch)
        except Exception as error:  # e.g. a call opened meanwhile elsewhere: retry each event on its own
            if not isinstance(error, IntegrityError):
                logger.warning("LiveKit webhook batch failed; retrying one by one", exc_info=error)
            for item in batch:
                await self._write_one(item)
            return
        self.batches += 1
        self.events += len(batch)
        await self._settle(batch, applied)

    async def _settle(self, batch: list[Submitted], applied: dict[int, events.Applied]) -> None:
        """Follow-up work, then the answers; `applied` is keyed by `id(item)` (a repeat in a batch is not)."""
        for item in batch:
            result = applied.get(id(item))
            if result is not None:
                try:
                    await self._after_commit(item.project_id, result)
                except Exception:  # follow-up work (answer watches) must not fail the acknowledgement
                    logger.exception("after-commit work for a LiveKit webhook failed")
            if not item.future.done():
                item.future.set_result("applied" if result is not None else "duplicate")

    async def _write_batch(self, batch: list[Submitted]) -> dict[int, events.Applied]:
        async with self._engine.begin() as connection:
            fresh = await self._receive(connection, batch)
            calls = _Calls(connection)
            await calls.load(fresh)
            applied: dict[int, events.Applied] = {}
            orm: AsyncSession | None = None
            for item in fresh:
                if _in_memory(item.event):
                    applied[id(item)] = await self._apply(connection, calls, item)
                    continue
                await calls.flush()  # sessions and recordings look calls up in the database
                if orm is None:  # joins the connection's transaction; the commit below is the only one
                    orm = AsyncSession(bind=connection)
                trunks = await self._trunks(connection, item.project_id)
                applied[id(item)] = await events.apply(orm, item.project_id, item.event, trunks)
                await orm.flush()
            await calls.flush()
            if orm is not None:
                await orm.close()
        return applied

    async def _receive(self, connection: AsyncConnection, batch: list[Submitted]) -> list[Submitted]:
        """The batch's events, each once, now recorded as received.

        An event received before (a replay) makes the insert fail, and the batch is retried one event at a time,
        which tells the replay apart; replays are rare, so the common batch is spared a lookup.
        """
        unique: dict[str, Submitted] = {}
        for item in batch:
            unique.setdefault(item.key, item)
        now = utcnow()
        rows = [{"source": RECEIPT_SOURCE, "key": key, "received_at": now} for key in unique]
        await INSERT_RECEIPTS.execute(connection, rows)
        return list(unique.values())

    async def _apply(self, connection: AsyncConnection, calls: _Calls, item: Submitted) -> events.Applied:
        """A call or room event, applied to the batch's calls in memory."""
        event = item.event
        if events.effect_of(event) == "call":
            assert event.participant is not None
            call = calls.call_for(item, await self._trunks(connection, item.project_id))
            if call is None:
                return events.Applied("ignored")
            snapshot = snapshot_of(call)
            effect = participant_effect(
                event, event.participant, carrier=call.carrier, direction=call.direction, snapshot=snapshot
            )
            calls.carry_out(call, effect, event.id)
            watch = events.Watch(effect.watch[0], effect.watch[1], call.id) if effect.watch else None
            return events.Applied("call", watch=watch, stop_watch=effect.stop_watch)
        for call in calls.in_room(item.project_id, room_of(event)):
            effect = room_effect(event, snapshot=snapshot_of(call), carrier=call.carrier)
            calls.carry_out(call, effect, event.id)
        return events.Applied("room")

    async def _write_one(self, item: Submitted) -> None:
        """One event in its own transaction, through `records` (the reference path)."""
        try:
            result = await self._apply_one(item)
        except Exception as error:  # the request answers 500, so LiveKit delivers the event again
            logger.warning("LiveKit webhook could not be applied", exc_info=error)
            if not item.future.done():
                item.future.set_exception(error)
            return
        await self._settle([item], {id(item): result} if result is not None else {})

    async def _apply_one(self, item: Submitted) -> events.Applied | None:
        async with self._sessions() as db:
            if await db.get(InboundReceipt, (RECEIPT_SOURCE, item.key)) is not None:
                return None
            db.add(InboundReceipt(source=RECEIPT_SOURCE, key=item.key))
            trunks = await self._trunks(db, item.project_id)
            result = await events.apply(db, item.project_id, item.event, trunks)
            try:
                await db.commit()
            except IntegrityError:
                await db.rollback()
                if await db.get(InboundReceipt, (RECEIPT_SOURCE, item.key)) is not None:
                    return None  # received meanwhile by another request or replica
                raise
            return result
