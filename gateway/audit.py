"""Append-only, tamper-evident audit log: each record is chained to the previous one by SHA-256, per project.

Appends run inside the caller's transaction, so a mutation and its audit record commit (or roll back) together.
The per-project head row is updated first; the row lock it takes serialises concurrent appends.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.models import AuditHead, AuditLog
from gateway.db.types import utcnow

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it and from where: an API key id (or `system` / `cli`), request id, source address."""

    key_id: str
    request_id: str | None = None
    source_ip: str | None = None


def record_digest(entry: AuditLog) -> str:
    """SHA-256 over everything a record says, including the previous record's hash."""
    body = json.dumps(
        [
            entry.project_id,
            entry.seq,
            entry.at.isoformat(),
            entry.actor,
            entry.action,
            entry.object_type,
            entry.object_id,
            entry.before,
            entry.after,
            entry.request_id,
            entry.source_ip,
            entry.prev_hash,
        ],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


async def ensure_head(session: AsyncSession, project_id: str) -> None:
    session.add(AuditHead(project_id=project_id, seq=0, hash=GENESIS))
    await session.flush()


async def append(
    session: AsyncSession,
    *,
    project_id: str,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditLog:
    """Add one audit record to the project's chain, in the session's transaction."""
    head = (
        await session.execute(
            update(AuditHead)
            .where(AuditHead.project_id == project_id)
            .values(seq=AuditHead.seq + 1)
            .returning(AuditHead.seq, AuditHead.hash)
        )
    ).one()
    entry = AuditLog(
        project_id=project_id,
        seq=int(head.seq),
        at=utcnow(),
        actor=actor.key_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=before,
        after=after,
        request_id=actor.request_id,
        source_ip=actor.source_ip,
        prev_hash=str(head.hash),
    )
    entry.hash = record_digest(entry)
    await session.execute(update(AuditHead).where(AuditHead.project_id == project_id).values(hash=entry.hash))
    session.add(entry)
    await session.flush()
    return entry


@dataclass(frozen=True, slots=True)
class ChainReport:
    project_id: str
    records: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None


async def verify(session: AsyncSession, project_id: str) -> ChainReport:
    """Recompute the chain; report the first record whose content, order or link does not hold."""
    prev = GENESIS
    count = 0
    rows = await session.stream_scalars(
        select(AuditLog).where(AuditLog.project_id == project_id).order_by(AuditLog.seq)
    )
    async for row in rows:
        count += 1
        if row.seq != count:
            return ChainReport(
                project_id, count, False, row.seq, f"sequence gap: expected {count}, found {row.seq}"
            )
        if row.prev_hash != prev:
            return ChainReport(project_id, count, False, row.seq, "link broken: prev_hash does not match")
        digest = record_digest(row)
        if digest != row.hash:
            return ChainReport(project_id, count, False, row.seq, "content changed: hash does not match")
        prev = row.hash
    head = await session.get(AuditHead, project_id)
    if head is not None and (head.seq != count or head.hash != prev):
        return ChainReport(project_id, count, False, count + 1, "records missing at the end of the chain")
    return ChainReport(project_id, count, True)
