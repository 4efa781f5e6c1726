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

The store reads and writes with SQLAlchemy Core statements on the `calls` and `call_events` tables (the ORM's unit
of work cost more than the rows it saved, on every webhook); the `Call` objects it hands out belong to no session.
New calls (`create`) from requests arriving together are inserted in one transaction (group commit: a
transaction's fixed cost dwarfs a row's own). The store never runs inside someone else's transaction: a caller that
holds one gets `StoreMisuse` at once (on SQLite, with one connection, it would otherwise wait for itself).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.calls.edit import (
    CallEdit,
    CallRef,
    NewCall,
    new_row,
    remembered,
    snapshot_of,
)
from gateway.calls.metrics import call_ended
from gateway.calls.recordings import RecordingReport, upsert_recording
from gateway.calls.statements import apply_edit, copy_call, find_call, insert_calls
from gateway.db.batching import Batcher
from gateway.db.database import Database
from gateway.db.models import Call

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
    opening: NewCall | None = None
    """The call to open when there is none yet (`change_or_open`)."""


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
            row = await find_call(db, ref, lock=False)
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
            row = await find_call(db, call, lock=True) if call is not None else None
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
        if not self._creations.running:
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
            row = await find_call(db, CallRef(call_id=edit.call.id), lock=True)
            if row is None:
                raise LookupError(f"call {edit.call.id} no longer exists")
            edit.outcomes = await apply_edit(db, row, edit)
            await db.commit()
        _settled(edit, row)

    async def change(self, ref: CallRef, work: Callable[[CallEdit], T]) -> tuple[T, CallEdit] | None:
        """Lock the call, let `work` decide what changes and save it, in one transaction. `work` is synchronous:
        nothing can wait on the outside world while the call is locked. None when there is no such call.

        Changes arriving together share a transaction (like new calls), each applied in turn."""
        changed: tuple[T, CallEdit] | None = await self._change(_Change(ref, work, _unanswered()))
        return changed

    async def change_or_open(self, new: NewCall, work: Callable[[CallEdit], T]) -> tuple[T, CallEdit]:
        """`change` for the call with the carrier's id in `new`, opened from `new` (`work` deciding its first
        state, in the same transaction) when there is none yet."""
        ref = CallRef(carrier=new.carrier, carrier_call_id=new.carrier_call_id, project_id=new.project_id)
        changed: tuple[T, CallEdit] | None = await self._change(_Change(ref, work, _unanswered(), new))
        if changed is None:
            raise LookupError("the call was opened elsewhere, yet cannot be found")
        return changed

    async def _change(self, change: _Change) -> Any:
        self._not_in_a_transaction()
        if not self._changes.running:
            return await self._change_alone(change)
        self._changes.put(change)
        return await change.future

    # --- inside --------------------------------------------------------------------------------------------

    async def _change_alone(self, change: _Change) -> Any:
        async with self.database.session() as db:
            changed = await _change_in(db, change)
            await db.commit()
        if changed is None:
            return None
        result, edit, row = changed
        _settled(edit, row)
        return result, edit

    async def _change_batch(self, batch: list[_Change]) -> None:
        try:
            async with self.database.session() as db:
                done = [await _change_in(db, item) for item in batch]
                await db.commit()
        except Exception:  # one item's failure must not take the others down: each on its own
            for item in batch:
                try:
                    result = await self._change_alone(item)
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
        async with self.database.session() as db:
            (created,) = await insert_calls(db, [edit])
            await db.commit()
        if created:
            _settled(edit, edit.call)
        return created

    async def _create_batch(self, batch: list[_Creation]) -> None:
        try:
            async with self.database.session() as db:
                created = await insert_calls(db, [item.edit for item in batch])
                await db.commit()
        except IntegrityError:  # one bad row (say, a project deleted meanwhile) must not fail the others
            for item in batch:
                await self._settle_alone(item)
            return
        except Exception as error:  # the requests report it; the store keeps serving
            log.exception("writing new calls failed")
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(error)
            return
        for item, new in zip(batch, created, strict=True):
            if new:
                _settled(item.edit, item.edit.call)
            if not item.future.done():
                item.future.set_result(new)

    async def _settle_alone(self, item: _Creation) -> None:
        try:
            created = await self._create_alone(item.edit)
        except Exception as error:
            if not item.future.done():
                item.future.set_exception(error)
            return
        if not item.future.done():
            item.future.set_result(created)


async def _change_in(db: AsyncSession, change: _Change) -> tuple[Any, CallEdit, Call] | None:
    """`change`'s work inside a transaction: lock (or open), decide, apply (the caller commits)."""
    row = await find_call(db, change.ref, lock=True)
    if row is None:
        if change.opening is None:
            return None
        edit = CallEdit(new_row(change.opening), is_new=True)
        result = change.work(edit)
        (created,) = await insert_calls(db, [edit])
        if created:
            return result, edit, edit.call
        row = await find_call(
            db, change.ref, lock=True
        )  # opened meanwhile, by a transaction that has committed
        if row is None:
            return None
    edit = CallEdit(copy_call(row), is_new=False, _loaded=remembered(row))
    result = change.work(edit)
    if edit.pending:
        edit.outcomes = await apply_edit(db, row, edit)
    return result, edit, row


def _unanswered() -> asyncio.Future[Any]:
    return asyncio.get_running_loop().create_future()


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
