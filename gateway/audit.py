"""Append-only, tamper-evident audit log: each record is chained to the previous one by HMAC-SHA256, per project.

The HMAC key lives outside the database (TRUNKLINE_AUDIT_KEY or its key file), so a row rewritten with a
recomputed hash does not verify. Each committed append publishes the new head outside the database
(`gateway.audit_checkpoints`), so rows removed from the end of a chain are detected too. Chains keep their rows
when their project is deleted.

Legacy: records written before the chain was keyed (migration 0003) keep their unkeyed SHA-256 hashes; each
project's `audit_heads.legacy_seq` says up to which seq, and every published checkpoint repeats it, so it cannot be
moved without `verify` noticing. Those records are only as trustworthy as an unkeyed chain.

Appends run inside the caller's transaction, so a mutation and its audit record commit (or roll back) together.
The per-project head row is updated first; the row lock it takes serialises concurrent appends.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import audit_checkpoints
from gateway.audit_checkpoints import Checkpoint
from gateway.db.models import AuditHead, AuditLog
from gateway.db.types import engine_keys, utcnow
from gateway.security.keyring import EngineKeys

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it and from where: an API key id (or `system` / `cli`), request id, source address."""

    key_id: str
    request_id: str | None = None
    source_ip: str | None = None


def _keys(session: AsyncSession) -> EngineKeys:
    return engine_keys(session.get_bind().dialect)


def record_digest(entry: AuditLog, key: bytes | None) -> str:
    """HMAC-SHA256 (SHA-256 when `key` is None: legacy records) over everything a record says, including the
    previous record's hash."""
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
    if key is None:
        return hashlib.sha256(body.encode()).hexdigest()
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


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
    """Add one audit record to the project's chain, in the session's transaction; its checkpoint is published
    when the transaction commits."""
    keys = _keys(session)
    head = (
        await session.execute(
            update(AuditHead)
            .where(AuditHead.project_id == project_id)
            .values(seq=AuditHead.seq + 1)
            .returning(AuditHead.seq, AuditHead.hash, AuditHead.legacy_seq)
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
    entry.hash = record_digest(entry, keys.audit_key)
    await session.execute(update(AuditHead).where(AuditHead.project_id == project_id).values(hash=entry.hash))
    session.add(entry)
    await session.flush()
    audit_checkpoints.queue(
        session.sync_session,
        keys.checkpoints,
        Checkpoint(project_id, entry.seq, entry.hash, int(head.legacy_seq)),
    )
    return entry


async def publish_heads(session: AsyncSession) -> None:
    """Publish every chain's current head (at start-up): chains with no change since still get a checkpoint."""
    heads = (await session.scalars(select(AuditHead))).all()
    audit_checkpoints.publish(
        _keys(session).checkpoints, [Checkpoint(h.project_id, h.seq, h.hash, h.legacy_seq) for h in heads]
    )


@dataclass(frozen=True, slots=True)
class ChainReport:
    project_id: str
    records: int
    ok: bool
    first_bad_seq: int | None = None
    problem: str | None = None
    legacy_records: int = 0
    """Records from before the chain was keyed (verified with the unkeyed hash only)."""
    checkpoints: int = 0
    """Published checkpoints the chain was compared with."""


async def verify(session: AsyncSession, project_id: str) -> ChainReport:
    """Recompute the chain; report the first record whose content, order or link does not hold, then compare it
    with the checkpoints published outside the database."""
    keys = _keys(session)
    head = await session.get(AuditHead, project_id)
    legacy_seq = head.legacy_seq if head is not None else 0
    published = audit_checkpoints.read(keys.checkpoints, project_id)
    moved = [c for c in published if c.legacy_seq != legacy_seq]
    if moved:
        return ChainReport(
            project_id,
            0,
            False,
            min(legacy_seq, moved[0].legacy_seq) + 1,
            f"legacy boundary moved: published {moved[0].legacy_seq}, stored {legacy_seq}",
        )
    prev = GENESIS
    count = 0
    hashes: dict[int, str] = {}
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
        digest = record_digest(row, None if row.seq <= legacy_seq else keys.audit_key)
        if not hmac.compare_digest(digest, row.hash):
            return ChainReport(project_id, count, False, row.seq, "content changed: hash does not match")
        prev = row.hash
        hashes[row.seq] = row.hash
    if head is not None and (head.seq != count or head.hash != prev):
        return ChainReport(project_id, count, False, count + 1, "records missing at the end of the chain")
    for checkpoint in sorted(published, key=lambda c: c.seq):
        if checkpoint.seq > count:
            return ChainReport(
                project_id,
                count,
                False,
                count + 1,
                f"records missing at the end: a checkpoint was published for seq {checkpoint.seq}",
            )
        if checkpoint.seq and hashes[checkpoint.seq] != checkpoint.hash:
            return ChainReport(
                project_id, count, False, checkpoint.seq, "record differs from its published checkpoint"
            )
    legacy = min(legacy_seq, count)
    return ChainReport(project_id, count, True, legacy_records=legacy, checkpoints=len(published))
