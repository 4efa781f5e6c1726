"""The one owner of call records: every carrier, LiveKit and the control API create and change calls through here.

A change to a call is a `CallEdit` (`gateway.calls.edit`): the call's columns as the caller sees them, status
reports to fold, events to append and recordings to link. The store saves an edit in one short transaction of its
own:

- the call row is locked and read again; columns the caller changed are written (last writer wins per column);
- status reports are folded into the stored lifecycle (`gateway.calls.lifecycle`, order-independent) and the
  columns that mirror it are set from the result;
- events get the next sequence numbers; an event whose `dedupe_key` the call already has is dropped, and so is
  the status report that came with it (a replayed webhook changes nothing);
- recordings are created or moved forward, one row per external id.

New calls (`create`) from requests arriving together are inserted in one transaction (group commit: a
transaction's fixed cost dwarfs a row's own). The store never runs inside someone else's transaction: a caller that
holds one gets `StoreMisuse` at once (on SQLite, with one connection, it would otherwise wait for itself).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.calls.edit import (
    CallEdit,
    CallRef,
    NewCall,
    PendingEvent,
    detached_copy,
    fold_into,
    new_row,
    remembered,
    snapshot_of,
)
from gateway.calls.lifecycle import Outcome
from gateway.calls.metrics import call_ended, is_final
from gateway.calls.recordings import RecordingReport, adopt_room_recordings, upsert_recording
from gateway.db.batching import Batcher
from gateway.db.database import Database
from gateway.db.models import Call, CallEvent
from gateway.db.types import utcnow

log = logging.getLogger("trunkline.calls")

T = TypeVar("T")
MAX_BATCH = 128


class StoreMisuse(RuntimeError):
    """The store was called while the current task holds a database transaction."""


@dataclass(slots=True)
class _Creation:
    edit: CallEdit
    future: asyncio.Future[bool]


@dataclass(slots=True)
class _Change:
    ref: CallRef
    work: Callable[[CallEdit], Any]
    future: asyncio.Future[Any]


class CallStore:
    def __init__(self, database: Database, *, max_batch: int = MAX_BATCH) -> None:
        self.database = database
        self._creations: Batcher[_Creation] = Batcher(
            self._create_batch, name="call-store", max_batch=max_batch
        )
        self._changes: Batcher[_Change] = Batcher(
            self._change_batch, name="call-store-changes", max_batch=max_batch
        )

    def start(self) -> None:
        """Group new calls, and changes, arriving together into one transaction each (until `stop`); without it
        each is alone."""
        self._creations.start()
        self._changes.start()

    async def stop(self) -> None:
        await self._creations.stop()
        await self._changes.stop()

    # --- reading --------------------------------------------------------------------------------------------

    async def load(self, ref: CallRef) -> CallEdit | None:
        """The call as it is now, ready to be changed and saved; None when there is no such call."""
        self._not_in_a_transaction()
        async with self.database.session() as db:
            row = await _find(db, ref, lock=False)
        if row is None:
            return None
        return CallEdit(row, is_new=False, _loaded=remembered(row))

    async def ids_in_room(self, project_id: str, room: str) -> list[str]:
        """Calls of the project that were in a LiveKit room."""
        self._not_in_a_transaction()
        async with self.database.session() as db:
            rows = await db.scalars(
                select(Call.id)
                .where(Call.project_id == project_id, Call.livekit_room == room)
                .order_by(Call.id)
            )
            return list(rows.all())

    # --- changing -------------------------------------------------------------------------------------------

    async def record_recording(self, project_id: str, report: RecordingReport, call: CallRef | None) -> bool:
        """A recording report for a call that may not be known (yet): linked to it when it is, kept either way.
        Whether anything changed."""
        self._not_in_a_transaction()
        async with self.database.session() as db:
            row = await _find(db, call, lock=True) if call is not None else None
            changed = await upsert_recording(db, project_id, row, report)
            await db.commit()
        return changed

    def new(self, new: NewCall) -> CallEdit:
        """A call not saved yet (status initiated); `create` saves it."""
        return CallEdit(new_row(new), is_new=True)

    async def create(self, edit: CallEdit) -> bool:
        """Save a new call with its events; False when the carrier's id for it is recorded already."""
        self._not_in_a_transaction()
        if not edit.is_new:
            raise StoreMisuse("create() takes a call from new(); save() changes a stored one")
        if not self._creations.running or edit._recordings or edit.call.livekit_room:
            return await self._create_alone(edit)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._creations.put(_Creation(edit, future))
        return await future

    async def save(self, edit: CallEdit) -> None:
        """Save what changed on a stored call, in one transaction (see the module docstring)."""
        self._not_in_a_transaction()
        if edit.is_new:
            raise StoreMisuse("save() changes a stored call; create() saves a new one")
        async with self.database.session() as db:
            row = await _find(db, CallRef(call_id=edit.call.id), lock=True)
            if row is None:
                raise LookupError(f"call {edit.call.id} no longer exists")
            edit.outcomes = await _apply(db, row, edit)
            await db.commit()
        _settled(edit, row)

    async def change(self, ref: CallRef, work: Callable[[CallEdit], T]) -> tuple[T, CallEdit] | None:
        """Lock the call, let `work` decide what changes and save it, in one transaction. `work` is synchronous:
        nothing can wait on the outside world while the call is locked. None when there is no such call.

        Changes arriving together share a transaction (like new calls), each applied in turn."""
        self._not_in_a_transaction()
        if not self._changes.running:
            return await self._change_alone(ref, work)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._changes.put(_Change(ref, work, future))
        changed: tuple[T, CallEdit] | None = await future
        return changed

    async def change_or_open(self, new: NewCall, work: Callable[[CallEdit], T]) -> tuple[T, CallEdit]:
        """`change` for the call with the carrier's id in `new`, opened from `new` when there is none yet."""
        ref = CallRef(carrier=new.carrier, carrier_call_id=new.carrier_call_id, project_id=new.project_id)
        for _ in range(3):
            changed = await self.change(ref, work)
            if changed is not None:
                return changed
            edit = self.new(new)
            result = work(edit)
            if await self.create(edit):
                return result, edit
        raise LookupError("the call was opened elsewhere, yet cannot be found")

    # --- inside --------------------------------------------------------------------------------------------

    async def _change_alone(self, ref: CallRef, work: Callable[[CallEdit], T]) -> tuple[T, CallEdit] | None:
        async with self.database.session() as db:
            changed = await _change_in(db, ref, work)
            await db.commit()
        if changed is None:
            return None
        result, edit, row = changed
        _settled(edit, row)
        return result, edit

    async def _change_batch(self, batch: list[_Change]) -> None:
        try:
            async with self.database.session() as db:
                done = [await _change_in(db, item.ref, item.work) for item in batch]
                await db.commit()
        except Exception:  # one item's failure must not take the others down: each on its own
            for item in batch:
                try:
                    result = await self._change_alone(item.ref, item.work)
                except Exception as error:
                    if not item.future.done():
                        item.future.set_exception(error)
                else:
                    if not item.future.done():
                        item.future.set_result(result)
            return
        for item, changed in zip(batch, done, strict=True):
            if changed is not None:
                _settled(changed[1], changed[2])
            if not item.future.done():
                item.future.set_result(None if changed is None else changed[:2])

    def _not_in_a_transaction(self) -> None:
        if self.database.holds_transaction():
            raise StoreMisuse(
                "the call store was called while this task holds a database transaction: commit or roll it back "
                "first (a transaction must not wait on another unit of work)"
            )

    async def _create_alone(self, edit: CallEdit) -> bool:
        try:
            async with self.database.session() as db:
                db.add(edit.call)
                edit.outcomes = await _append(db, edit, first_seq=1)
                for report in edit._recordings:
                    await upsert_recording(db, edit.call.project_id, edit.call, report)
                if edit.call.livekit_room:
                    await adopt_room_recordings(db, edit.call)
                await db.commit()
        except IntegrityError:
            if edit.call.carrier_call_id is None:
                raise
            return False
        _settled(edit, edit.call)
        return True

    async def _create_batch(self, batch: list[_Creation]) -> None:
        try:
            async with self.database.session() as db:
                for item in batch:
                    db.add(item.edit.call)
                    first = _first_events(item.edit)
                    item.edit.saved_events = len(first)
                    item.edit.ended = is_final(item.edit.call.status)
                    db.add_all(_rows(first, item.edit.call.id, 1))
                await db.commit()
        except IntegrityError:  # a CallSid recorded already (a retry): try each on its own
            for item in batch:
                await self._settle_alone(item)
            return
        except Exception as error:  # the requests report it; the store keeps serving
            log.exception("writing new calls failed")
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        for item in batch:
            item.edit.outcomes = []
            _settled(item.edit, item.edit.call)
            if not item.future.done():
                item.future.set_result(True)

    async def _settle_alone(self, item: _Creation) -> None:
        try:
            created = await self._create_alone(item.edit)
        except Exception as error:
            if not item.future.done():
                item.future.set_exception(error)
            return
        if not item.future.done():
            item.future.set_result(created)


async def _change_in(
    db: AsyncSession, ref: CallRef, work: Callable[[CallEdit], T]
) -> tuple[T, CallEdit, Call] | None:
    """`change`'s work inside a transaction: lock, decide, apply (the caller commits)."""
    row = await _find(db, ref, lock=True)
    if row is None:
        return None
    edit = CallEdit(detached_copy(row), is_new=False, _loaded=remembered(row))
    result = work(edit)
    if edit.pending:
        edit.outcomes = await _apply(db, row, edit)
    return result, edit, row


async def _find(db: AsyncSession, ref: CallRef, *, lock: bool) -> Call | None:
    stmt = select(Call)
    if ref.call_id is not None:
        stmt = stmt.where(Call.id == ref.call_id)
    elif ref.carrier is not None and ref.carrier_call_id is not None:
        stmt = stmt.where(Call.carrier == ref.carrier, Call.carrier_call_id == ref.carrier_call_id)
    elif ref.livekit_room is not None:
        stmt = stmt.where(Call.livekit_room == ref.livekit_room).order_by(Call.created_at.desc()).limit(1)
    else:
        raise ValueError("a CallRef needs a call id, a carrier and the carrier's call id, or a room")
    if ref.project_id is not None:
        stmt = stmt.where(Call.project_id == ref.project_id)
    if lock:
        stmt = stmt.with_for_update()
    row: Call | None = await db.scalar(stmt)
    return row


async def _apply(db: AsyncSession, row: Call, edit: CallEdit) -> list[Outcome]:
    ended_before = is_final(row.status)
    for name, value in edit._changed().items():
        setattr(row, name, value)
    last = await db.scalar(select(func.max(CallEvent.seq)).where(CallEvent.call_id == row.id))
    outcomes = await _append(db, edit, first_seq=(last or 0) + 1, row=row)
    for report in edit._recordings:
        await upsert_recording(db, row.project_id, row, report)
    row.updated_at = utcnow()
    edit.ended = not ended_before and is_final(row.status)
    return outcomes


async def _append(
    db: AsyncSession, edit: CallEdit, *, first_seq: int, row: Call | None = None
) -> list[Outcome]:
    """The edit's events (new ones only), numbered from `first_seq`; status reports folded into `row` on the way
    (a new call's were folded when they were made)."""
    if row is None:
        edit.ended = is_final(edit.call.status)
        first = _first_events(edit)
        edit.saved_events = len(first)
        db.add_all(_rows(first, edit.call.id, first_seq))
        await db.flush()
        return []
    events = edit._events
    keys = [event.dedupe_key for event in events if event.dedupe_key is not None]
    seen: set[str] = set()
    if keys:
        found = await db.scalars(
            select(CallEvent.dedupe_key).where(CallEvent.call_id == row.id, CallEvent.dedupe_key.in_(keys))
        )
        seen = {key for key in found.all() if key is not None}
    kept: list[PendingEvent] = []
    outcomes: list[Outcome] = []
    edit.saved_events = 0
    for event in events:
        if event.dedupe_key is not None:
            if event.dedupe_key in seen:
                continue
            seen.add(event.dedupe_key)
        if event.report is not None:
            outcome = fold_into(row, event.report.update)
            outcomes.append(outcome)
            event.data.update({"outcome": outcome.kind, "reason": outcome.reason, **event.report.data})
        kept.append(event)
    edit.saved_events = len(kept)
    db.add_all(_rows(kept, edit.call.id, first_seq))
    await db.flush()
    return outcomes


def _first_events(edit: CallEdit) -> list[PendingEvent]:
    """A new call's events: its status reports were folded when they were made; duplicates of a key dropped."""
    kept: list[PendingEvent] = []
    seen: set[str] = set()
    for event in edit._events:
        if event.dedupe_key is not None:
            if event.dedupe_key in seen:
                continue
            seen.add(event.dedupe_key)
        if event.report is not None and "outcome" not in event.data:
            event.data.update({"outcome": "applied", **event.report.data})
        kept.append(event)
    return kept


def _rows(events: Sequence[PendingEvent], call_id: str, first_seq: int) -> list[CallEvent]:
    return [
        CallEvent(
            call_id=call_id,
            seq=first_seq + i,
            at=event.at,
            kind=event.kind,
            source=event.source,
            dedupe_key=event.dedupe_key,
            data=event.data,
        )
        for i, event in enumerate(events)
    ]


def _settled(edit: CallEdit, row: Call) -> None:
    """After a commit: the edit shows the call as stored, with nothing pending (and counted when it ended)."""
    if edit.ended:
        call_ended(row)
        edit.ended = False
    edit.call = row  # no longer in a session: the call as stored
    edit.is_new = False
    edit._loaded = remembered(edit.call)
    edit._events = []
    edit._recordings = []


__all__ = ["CallEdit", "CallRef", "CallStore", "NewCall", "StoreMisuse", "snapshot_of"]
