"""Recordings Twilio reports (recording status callbacks, `<Record>` results) as `Recording` rows, one per RecordingSid.

Reports of one recording arrive in any order and more than once: a row only moves forward (in-progress, then a
final status), and missing details (URL, duration) are filled in by whichever report carries them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import Call, Recording
from gateway.ids import new_id

SOURCE = "twilio"
_RANK = {"in-progress": 0, "processing": 0, "completed": 1, "absent": 1, "failed": 1, "deleted": 2}


def _rank(status: str) -> int:
    return _RANK.get(status, 0)


def _merge(
    row: Recording, *, status: str, url: str | None, duration: int | None, meta: dict[str, Any]
) -> bool:
    changed = False
    if _rank(status) > _rank(row.status):
        row.status = status
        changed = True
    if url and not row.url:
        row.url = url
        changed = True
    if duration is not None and (row.duration_s is None or duration > row.duration_s):
        row.duration_s = duration
        changed = True
    missing = {k: v for k, v in meta.items() if v is not None and k not in row.meta}
    if missing:
        row.meta = {**row.meta, **missing}
        changed = True
    return changed


async def upsert_recording(
    db: AsyncSession,
    *,
    project_id: str,
    call: Call | None,
    recording_sid: str,
    status: str,
    url: str | None,
    duration: int | None,
    meta: dict[str, Any],
) -> tuple[Recording, bool]:
    """The recording's row, created or advanced: (row, changed). The caller commits."""
    row = await db.scalar(select(Recording).where(Recording.external_id == recording_sid))
    if row is None:
        row = Recording(
            id=new_id("rec"),
            project_id=project_id,
            call_id=call.id if call is not None else None,
            source=SOURCE,
            external_id=recording_sid,
            status=status,
            url=url,
            duration_s=duration,
            meta={k: v for k, v in meta.items() if v is not None},
        )
        try:
            async with db.begin_nested():
                db.add(row)
        except IntegrityError:
            row = await db.scalar(select(Recording).where(Recording.external_id == recording_sid))
            if row is None:
                raise
        else:
            return row, True
    if row.call_id is None and call is not None:
        row.call_id = call.id
    return row, _merge(row, status=status, url=url, duration=duration, meta=meta)
