"""Call records and their ordered, append-only events; status reports folded through the lifecycle.

Every carrier path (Twilio webhooks, LiveKit webhooks, outbound API) writes calls through these functions, so a
call looks the same whichever way it came in. The caller commits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.calls.draft import CallDraft
from gateway.calls.lifecycle import CallSnapshot, CallState, Outcome, StatusUpdate, transition
from gateway.db.bulk import BulkInsert
from gateway.db.models import Call, CallEvent
from gateway.db.types import utcnow
from gateway.ids import new_id

CALL_COLUMNS = tuple(column.key for column in Call.__table__.columns)
INSERT_CALLS = BulkInsert(Call, CALL_COLUMNS)
"""Many new calls at once (the group-commit writers): rows with every column of `CALL_COLUMNS`."""
EVENT_COLUMNS = tuple(column.key for column in CallEvent.__table__.columns if column.key != "id")
INSERT_EVENTS = BulkInsert(CallEvent, EVENT_COLUMNS)
"""Many call events at once (the group-commit writers): rows with every column of `EVENT_COLUMNS`."""


class NewCall(msgspec.Struct, kw_only=True):
    project_id: str
    direction: str
    """inbound | outbound"""
    carrier: str
    """twilio | livekit"""
    carrier_call_id: str | None
    from_e164: str = ""
    to_e164: str = ""
    trunk_id: str | None = None
    livekit_room: str | None = None
    meta: dict[str, Any] = msgspec.field(default_factory=dict)


async def find_call(
    db: AsyncSession, carrier: str, carrier_call_id: str, *, lock: bool = False
) -> Call | None:
    stmt = select(Call).where(Call.carrier == carrier, Call.carrier_call_id == carrier_call_id)
    if lock:
        stmt = stmt.with_for_update()
    call: Call | None = await db.scalar(stmt)
    return call


def new_draft(new: NewCall) -> CallDraft:
    """A fresh call record (status initiated) as a draft, for the group-commit writers."""
    now = utcnow()
    return CallDraft(
        id=new_id("call"),
        status=CallState.INITIATED.value,
        created_at=now,
        updated_at=now,
        lifecycle=msgspec.to_builtins(CallSnapshot(initiated_at=now)),
        last_sequence=-1,
        **msgspec.structs.asdict(new),
    )


def new_call(new: NewCall) -> Call:
    """A fresh call record (status initiated), not yet added to a session."""
    return new_draft(new).to_orm()


async def open_call(db: AsyncSession, new: NewCall) -> tuple[Call, bool]:
    """The call for (carrier, carrier call id), created once: (call, created). Retries find the first one."""
    if new.carrier_call_id is not None:
        existing = await find_call(db, new.carrier, new.carrier_call_id, lock=True)
        if existing is not None:
            return existing, False
    call = new_call(new)
    try:
        async with db.begin_nested():
            db.add(call)
    except IntegrityError:
        if new.carrier_call_id is None:
            raise
        existing = await find_call(db, new.carrier, new.carrier_call_id, lock=True)
        if existing is None:
            raise
        return existing, False
    return call, True


async def add_event(
    db: AsyncSession,
    call: Call,
    kind: str,
    source: str,
    data: dict[str, Any] | None = None,
    *,
    dedupe_key: str | None = None,
    at: datetime | None = None,
) -> CallEvent | None:
    """Append an event with the next sequence number; None when `dedupe_key` was already recorded."""
    if dedupe_key is not None:
        seen = await db.scalar(
            select(CallEvent.id).where(CallEvent.call_id == call.id, CallEvent.dedupe_key == dedupe_key)
        )
        if seen is not None:
            return None
    last = await db.scalar(select(func.max(CallEvent.seq)).where(CallEvent.call_id == call.id))
    event = CallEvent(
        call_id=call.id,
        seq=(last or 0) + 1,
        at=at or utcnow(),
        kind=kind,
        source=source,
        dedupe_key=dedupe_key,
        data=data or {},
    )
    db.add(event)
    await db.flush()
    return event


def snapshot_of(call: Call | CallDraft) -> CallSnapshot:
    return msgspec.convert(call.lifecycle or {}, CallSnapshot, strict=False)


def fold_status(call: Call | CallDraft, update: StatusUpdate) -> Outcome:
    """Fold a status report into the call's snapshot and the columns that mirror it (no event, no I/O)."""
    outcome = transition(snapshot_of(call), update)
    snap = outcome.snapshot
    if outcome.changed:
        call.lifecycle = msgspec.to_builtins(snap)
        call.status = snap.state.value
        call.ringing_at, call.answered_at, call.ended_at = snap.ringing_at, snap.answered_at, snap.ended_at
        call.duration_s = snap.duration
        call.sip_status = snap.sip_code
        call.last_sequence = snap.last_sequence if snap.last_sequence is not None else -1
    return outcome


async def apply_status(
    db: AsyncSession,
    call: Call,
    update: StatusUpdate,
    *,
    source: str,
    dedupe_key: str | None = None,
    data: dict[str, Any] | None = None,
) -> Outcome:
    """Fold a status report into the call (order-independent) and record it as an event."""
    outcome = fold_status(call, update)
    await add_event(
        db,
        call,
        f"status.{update.state.value}",
        source,
        {"outcome": outcome.kind, "reason": outcome.reason, **(data or {})},
        dedupe_key=dedupe_key,
    )
    return outcome
