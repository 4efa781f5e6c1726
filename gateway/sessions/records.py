"""Web sessions as LiveKit reports them: the browser participant joins, leaves, or its room closes.

Session rooms are named after the session id (`ses_...`), and the browser's token carries the attribute
`trunkline.session_id`, so webhooks find their session without a search. The caller commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import WebSession

SESSION_ATTR = "trunkline.session_id"
PROJECT_ATTR = "trunkline.project_id"
ROOM_PREFIX = "ses_"


def is_session_room(room: str) -> bool:
    return room.startswith(ROOM_PREFIX)


async def _session(db: AsyncSession, project_id: str, session_id: str) -> WebSession | None:
    row: WebSession | None = await db.scalar(
        select(WebSession)
        .where(WebSession.id == session_id, WebSession.project_id == project_id)
        .with_for_update()
    )
    return row


async def participant_joined(db: AsyncSession, project_id: str, session_id: str, at: datetime) -> bool:
    row = await _session(db, project_id, session_id)
    if row is None:
        return False
    if row.status != "ended" and "joined_at" not in row.meta:
        row.meta = {**row.meta, "joined_at": at.isoformat()}
        row.status = "active"
    return True


async def ended(db: AsyncSession, project_id: str, session_id: str, at: datetime, reason: str) -> bool:
    """The browser left or the room closed: the session is over (the earliest report wins)."""
    row = await _session(db, project_id, session_id)
    if row is None:
        return False
    if row.ended_at is None or at < row.ended_at:
        row.status, row.ended_at = "ended", at
        row.meta = {**row.meta, "end_reason": reason}
    return True
