"""The call store's SQL (`gateway.calls.store` is its only user): Core statements on `calls` and `call_events`,
built once with bound values (building a statement costs more than running it), and the `Call` objects they read
(in no session).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.calls.edit import COLUMNS, LIFECYCLE_COLUMNS, CallEdit, CallRef, PendingEvent, fold_into
from gateway.calls.lifecycle import Outcome
from gateway.calls.metrics import is_final
from gateway.calls.recordings import adopt_room_recordings, upsert_recording
from gateway.db.models import Call, CallEvent, table_of
from gateway.db.types import utcnow

_CALLS = table_of(Call)
_EVENTS = table_of(CallEvent)


async def find_call(db: AsyncSession, ref: CallRef, *, lock: bool) -> Call | None:
    """The call (a `Call` in no session), locked until the transaction ends if asked."""
    if ref.call_id is not None:
        by = "id"
    elif ref.carrier is not None and ref.carrier_call_id is not None:
        by = "carrier"
    elif ref.livekit_room is not None:
        by = "room"
    else:
        raise ValueError("a CallRef needs a call id, a carrier and the carrier's call id, or a room")
    statement = _find_statement(by, scoped=ref.project_id is not None, lock=lock)
    parameters = {
        "call_id": ref.call_id,
        "carrier": ref.carrier,
        "carrier_call_id": ref.carrier_call_id,
        "livekit_room": ref.livekit_room,
        "project_id": ref.project_id,
    }
    found = (await db.execute(statement, parameters)).first()
    if found is None:
        return None
    return _call_from(found)


@functools.cache
def _find_statement(by: str, *, scoped: bool, lock: bool) -> Select[Any]:
    """How `_find` looks a call up `by` its id, its carrier's id or its room: one statement per shape, built once,
    its values bound at execution (building a statement costs more than running it)."""
    statement = select(_CALLS)
    if by == "id":
        statement = statement.where(_CALLS.c.id == bindparam("call_id"))
    elif by == "carrier":
        statement = statement.where(
            _CALLS.c.carrier == bindparam("carrier"), _CALLS.c.carrier_call_id == bindparam("carrier_call_id")
        )
    else:
        statement = (
            statement.where(_CALLS.c.livekit_room == bindparam("livekit_room"))
            .order_by(_CALLS.c.created_at.desc())
            .limit(1)
        )
    if scoped:
        statement = statement.where(_CALLS.c.project_id == bindparam("project_id"))
    if lock:
        statement = statement.with_for_update(of=_CALLS)
    return statement


_UPDATE_CALL = update(_CALLS).where(_CALLS.c.id == bindparam("the_call"))
"""Sets the columns named in its parameters (besides `the_call`, the call's id)."""
_LAST_SEQ = select(func.max(_EVENTS.c.seq)).where(_EVENTS.c.call_id == bindparam("call_id"))
_SEEN_KEYS = select(_EVENTS.c.dedupe_key).where(
    _EVENTS.c.call_id == bindparam("call_id"), _EVENTS.c.dedupe_key.in_(bindparam("keys", expanding=True))
)


def _call_from(found: Row[Any]) -> Call:
    values = found._mapping
    return Call(**{name: values[name] for name in COLUMNS})


def copy_call(call: Call) -> Call:
    return Call(**{name: getattr(call, name) for name in COLUMNS})


_INSERT_CALLS = {
    name: dialect_insert(_CALLS)
    .on_conflict_do_nothing(index_elements=[_CALLS.c.carrier, _CALLS.c.carrier_call_id])
    .returning(_CALLS.c.id)
    for name, dialect_insert in (("sqlite", sqlite_insert), ("postgresql", postgresql_insert))
}
"""New calls; one whose carrier id is stored already is left out (a carrier's retry, or two events of one call
opening it at once) instead of failing the whole group with it."""


async def insert_calls(db: AsyncSession, edits: Sequence[CallEdit]) -> list[bool]:
    """New calls with their first events, recordings and the recordings their room had before them; for each,
    whether it was created (False: the carrier's id for it is stored already, and nothing of it was written)."""
    statement = _INSERT_CALLS[db.get_bind().dialect.name]
    rows = [{name: getattr(edit.call, name) for name in COLUMNS} for edit in edits]
    inserted = set((await db.execute(statement, rows)).scalars().all())
    created = [edit.call.id in inserted for edit in edits]
    events: list[dict[str, Any]] = []
    for edit, new in zip(edits, created, strict=True):
        if new:
            first = _first_events(edit)
            edit.saved_events = len(first)
            edit.ended = is_final(edit.call.status)
            edit.outcomes = []
            events += _event_rows(first, edit.call.id, 1)
    if events:
        await db.execute(insert(_EVENTS), events)
    for edit, new in zip(edits, created, strict=True):
        if not new:
            continue
        for report in edit._recordings:
            await upsert_recording(db, edit.call.project_id, edit.call, report)
        if edit.call.livekit_room:
            await adopt_room_recordings(db, edit.call)
    return created


_FOLDED = (*LIFECYCLE_COLUMNS, "end_reason")
"""The columns a status report folded into the lifecycle may change."""


async def apply_edit(db: AsyncSession, row: Call, edit: CallEdit) -> list[Outcome]:
    """Write the edit over the stored call `row` (locked): the caller's changed columns, the status reports folded
    into the stored lifecycle, the new events numbered on from the call's last, the recordings."""
    ended_before = is_final(row.status)
    changed = edit._changed()
    for name, value in changed.items():
        setattr(row, name, value)
    outcomes, kept = await _new_events(db, row, edit)
    if any(outcome.changed for outcome in outcomes):
        changed |= {name: getattr(row, name) for name in _FOLDED}
    row.updated_at = changed["updated_at"] = utcnow()
    await db.execute(_UPDATE_CALL, {"the_call": row.id, **changed})
    if kept:  # numbered after the lock was taken: a PostgreSQL statement that waited for it saw older events
        last = await db.scalar(_LAST_SEQ, {"call_id": row.id})
        await db.execute(insert(_EVENTS), _event_rows(kept, row.id, (last or 0) + 1))
    for report in edit._recordings:
        await upsert_recording(db, row.project_id, row, report)
    edit.ended = not ended_before and is_final(row.status)
    return outcomes


async def _new_events(
    db: AsyncSession, row: Call, edit: CallEdit
) -> tuple[list[Outcome], list[PendingEvent]]:
    """The edit's events the call does not have yet (by `dedupe_key`), their status reports folded into `row`."""
    events = edit._events
    keys = [event.dedupe_key for event in events if event.dedupe_key is not None]
    seen: set[str] = set()
    if keys:
        found = await db.scalars(_SEEN_KEYS, {"call_id": row.id, "keys": keys})
        seen = {key for key in found.all() if key is not None}
    kept: list[PendingEvent] = []
    outcomes: list[Outcome] = []
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
    return outcomes, kept


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


def _event_rows(events: Sequence[PendingEvent], call_id: str, first_seq: int) -> list[dict[str, Any]]:
    return [
        {
            "call_id": call_id,
            "seq": first_seq + i,
            "at": event.at,
            "kind": event.kind,
            "source": event.source,
            "dedupe_key": event.dedupe_key,
            "data": event.data,
        }
        for i, event in enumerate(events)
    ]
