"""The audit log, read-only: list with filters, and verify the project's hash chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, get
from litestar.params import FromQuery
from sqlalchemy import select

from gateway import audit
from gateway.admin.crud import MAX_LIMIT
from gateway.db.models import AuditLog
from gateway.errors import InvalidInput
from gateway.web.deps import Caller, Db


class AuditOut(msgspec.Struct):
    seq: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    source_ip: str | None
    hash: str


class AuditPage(msgspec.Struct):
    items: list[AuditOut]
    next_after: int | None


class ChainOut(msgspec.Struct):
    ok: bool
    records: int
    first_bad_seq: int | None
    problem: str | None
    legacy_records: int = 0
    """Records written before the chain was keyed (checked with the older, unkeyed hash only)."""
    checkpoints: int = 0
    """Heads published outside the database that the chain was compared with."""


class AuditLogController(Controller):
    path = "/audit-logs"
    tags = ["audit-logs"]

    @get(operation_id="listAuditLogs", summary="List audit records in order; filter by object, action, actor")
    async def list_audit(
        self,
        db: Db,
        principal: Caller,
        limit: FromQuery[int] = 50,
        after: FromQuery[int | None] = None,
        object_type: FromQuery[str | None] = None,
        object_id: FromQuery[str | None] = None,
        action: FromQuery[str | None] = None,
        actor: FromQuery[str | None] = None,
    ) -> AuditPage:
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}.", field="limit")
        stmt = select(AuditLog).where(AuditLog.project_id == principal.project_id)
        for column, value in (
            (AuditLog.object_type, object_type),
            (AuditLog.object_id, object_id),
            (AuditLog.action, action),
            (AuditLog.actor, actor),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if after is not None:
            stmt = stmt.where(AuditLog.seq > after)
        rows = (await db.scalars(stmt.order_by(AuditLog.seq).limit(limit + 1))).all()
        items = [
            AuditOut(
                seq=r.seq,
                at=r.at,
                actor=r.actor,
                action=r.action,
                object_type=r.object_type,
                object_id=r.object_id,
                before=r.before,
                after=r.after,
                request_id=r.request_id,
                source_ip=r.source_ip,
                hash=r.hash,
            )
            for r in rows[:limit]
        ]
        return AuditPage(items=items, next_after=rows[limit - 1].seq if len(rows) > limit else None)

    @get(
        "/verify",
        operation_id="verifyAuditLog",
        summary="Recompute the keyed hash chain, compare it with the published checkpoints, report the first break",
    )
    async def verify(self, db: Db, principal: Caller) -> ChainOut:
        report = await audit.verify(db, principal.project_id)
        return ChainOut(
            ok=report.ok,
            records=report.records,
            first_bad_seq=report.first_bad_seq,
            problem=report.problem,
            legacy_records=report.legacy_records,
            checkpoints=report.checkpoints,
        )
