"""Call retention: with `TRUNKLINE_CALL_RETENTION_DAYS` set, calls older than that many days are deleted, with their
events, recordings and transcripts, by a periodic task (`retention_task`, hourly).

It deletes in batches of `BATCH` calls per project, one short transaction each (the oldest first, through
`ix_calls_project_created`), so it never holds a long transaction or a large lock, and the webhooks keep their
turn between batches. Replicas may all run it: deleting what another replica already deleted changes nothing.
Recording files live with the carrier or LiveKit's storage; only their records go.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from gateway.db.database import Database
from gateway.db.models import Call, CallEvent, Project, Recording, Transcript, TranscriptSegment
from gateway.db.types import utcnow

logger = logging.getLogger("gateway.calls.retention")

BATCH = 500
"""Calls deleted per transaction."""
INTERVAL = 3600.0
"""Seconds between purges (the first runs shortly after start)."""
FIRST_DELAY = 30.0


async def purge_calls(database: Database, older_than: datetime, *, batch: int = BATCH) -> int:
    """Delete every call created before `older_than` (and its events, recordings, transcripts); how many."""
    async with database.session() as db:
        projects = list((await db.scalars(select(Project.id).order_by(Project.id))).all())
    deleted = 0
    for project_id in projects:
        while True:
            count = await _purge_batch(database, project_id, older_than, batch)
            deleted += count
            if count < batch:
                break
            await asyncio.sleep(0)  # let the webhooks in between batches
    if deleted:
        logger.info("old calls deleted", extra={"calls": deleted, "older_than": older_than.isoformat()})
    return deleted


async def _purge_batch(database: Database, project_id: str, older_than: datetime, batch: int) -> int:
    async with database.session() as db:
        ids = list(
            (
                await db.scalars(
                    select(Call.id)
                    .where(Call.project_id == project_id, Call.created_at < older_than)
                    .order_by(Call.created_at)
                    .limit(batch)
                )
            ).all()
        )
        if not ids:
            return 0
        transcripts = select(Transcript.id).where(Transcript.call_id.in_(ids)).scalar_subquery()
        await db.execute(delete(TranscriptSegment).where(TranscriptSegment.transcript_id.in_(transcripts)))
        await db.execute(delete(Transcript).where(Transcript.call_id.in_(ids)))
        await db.execute(delete(Recording).where(Recording.call_id.in_(ids)))
        await db.execute(delete(CallEvent).where(CallEvent.call_id.in_(ids)))
        await db.execute(delete(Call).where(Call.id.in_(ids)))
        await db.commit()
        return len(ids)


@contextlib.asynccontextmanager
async def retention_task(
    database: Database,
    days: int,
    *,
    interval: float = INTERVAL,
    first_delay: float = FIRST_DELAY,
    clock: Callable[[], datetime] = utcnow,
) -> AsyncIterator[None]:
    """Purge calls older than `days` every `interval` seconds while the service runs (nothing when `days` <= 0)."""
    if days <= 0:
        yield
        return

    async def run() -> None:
        await asyncio.sleep(first_delay)
        while True:
            try:
                await purge_calls(database, clock() - timedelta(days=days))
            except Exception:  # a failed purge is retried at the next interval
                logger.exception("call retention purge failed")
            await asyncio.sleep(interval)

    task = asyncio.get_running_loop().create_task(run(), name="call retention")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
