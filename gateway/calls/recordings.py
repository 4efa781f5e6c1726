"""Recordings of calls as carriers and LiveKit report them: one `Recording` row per external id (a RecordingSid,
an egress id), linked to its call by the call store.

Reports of one recording arrive in any order and more than once: a row only moves forward (by `rank`, which the
reporting adapter gives from its own status order), and missing details (URL, duration, metadata) are filled in by
whichever report carries them.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Call, Recording, table_of
from gateway.ids import new_id


class RecordingReport(msgspec.Struct, frozen=True, kw_only=True):
    source: str
    """twilio | livekit"""
    external_id: str
    status: str
    rank: int
    """Where `status` stands in the source's order (a row never moves to a lower rank)."""
    url: str | None = None
    duration: int | None = None
    meta: dict[str, Any] = msgspec.field(default_factory=dict)


async def upsert_recording(
    db: AsyncSession, project_id: str, call: Call | None, report: RecordingReport
) -> bool:
    """Create or move forward the recording's row (the caller commits); whether anything changed. A recording
    of another project's is left alone."""
    row = await _by_external_id(db, report.external_id)
    if row is None:
        row = Recording(
            id=new_id("rec"),
            project_id=project_id,
            call_id=call.id if call is not None else None,
            source=report.source,
            external_id=report.external_id,
            status=report.status,
            url=report.url,
            duration_s=report.duration,
            meta={k: v for k, v in report.meta.items() if v is not None} | {"rank": report.rank},
        )
        try:
            async with db.begin_nested():
                db.add(row)
        except IntegrityError:
            row = await _by_external_id(db, report.external_id)
            if row is None:
                raise
        else:
            return True
    if row.project_id != project_id:
        return False
    if row.call_id is None and call is not None:
        row.call_id = call.id
    return _merge(row, report)


async def _by_external_id(db: AsyncSession, external_id: str) -> Recording | None:
    row: Recording | None = await db.scalar(
        select(Recording).where(Recording.external_id == external_id).with_for_update()
    )
    return row


def _merge(row: Recording, report: RecordingReport) -> bool:
    changed = False
    meta = dict(row.meta)
    if report.rank > int(meta.get("rank", -1)):
        row.status = report.status
        meta["rank"] = report.rank
        changed = True
    if report.url and not row.url:
        row.url = report.url
        changed = True
    if report.duration is not None and (row.duration_s is None or report.duration > row.duration_s):
        row.duration_s = report.duration
        changed = True
    missing = {k: v for k, v in report.meta.items() if v is not None and k not in meta}
    if missing or changed:
        row.meta = {**meta, **missing}
        changed = changed or bool(missing)
    return changed


_RECORDINGS = table_of(Recording)
_ADOPT = (
    update(_RECORDINGS)
    .where(
        _RECORDINGS.c.project_id == bindparam("project"),
        _RECORDINGS.c.call_id.is_(None),
        _RECORDINGS.c.meta["room"].as_string() == bindparam("room"),
    )
    .values(call_id=bindparam("call"))
)
"""Built once, values bound at execution: it runs for every call opened in a LiveKit room."""


async def adopt_room_recordings(db: AsyncSession, call: Call) -> None:
    """Link to a call just opened in a LiveKit room the recordings of that room reported before it."""
    await db.execute(_ADOPT, {"project": call.project_id, "room": call.livekit_room, "call": call.id})
