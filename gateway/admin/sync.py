"""`GET /v1/sync`: how the caller's project stands in LiveKit (drift included); `POST /v1/sync`: sync it now."""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get, post
from litestar.datastructures import State
from litestar.openapi.datastructures import ResponseSpec

from gateway.admin.crud import commit_audited
from gateway.livekit.reconciler import Reconciler, SyncReport, SyncStatus
from gateway.livekit.runtime import LiveKitRuntime
from gateway.livekit.sync_plan import OpView
from gateway.livekit.sync_store import ObjectState
from gateway.services import services
from gateway.web.deps import Caller, Db


class SyncView(msgspec.Struct, kw_only=True):
    project_id: str
    status: SyncStatus
    """ok: LiveKit holds what Trunkline wants (see `in_sync`); unreachable / not_configured / partial / failed."""
    in_sync: bool
    drift: list[OpView]
    """What a sync would change now; `drift: true` marks changes made in LiveKit outside Trunkline."""
    errors: list[str]
    objects: list[ObjectState]
    last_sync: SyncReport | None


class SyncController(Controller):
    path = "/sync"
    tags = ["livekit"]

    @get(operation_id="getSync", summary="LiveKit sync state and drift of this project")
    async def sync_state(self, principal: Caller, state: State) -> SyncView:
        reconciler: Reconciler = services(state).get(LiveKitRuntime).reconciler
        plan = await reconciler.sync(principal.project_id, dry_run=True)
        return SyncView(
            project_id=plan.project_id,
            status=plan.status,
            in_sync=plan.in_sync,
            drift=plan.operations,
            errors=plan.errors,
            objects=plan.objects,
            last_sync=reconciler.last.get(principal.project_id),
        )

    @post(
        operation_id="runSync",
        summary="Sync this project's trunks and dispatch rules into LiveKit now",
        status_code=200,
        responses={
            503: ResponseSpec(SyncReport, description="LiveKit could not be reached; the report says so")
        },
    )
    async def run_sync(self, db: Db, principal: Caller, state: State) -> Response[SyncReport]:
        reconciler: Reconciler = services(state).get(LiveKitRuntime).reconciler
        report = await reconciler.sync(principal.project_id)
        await commit_audited(
            db,
            principal,
            action="livekit.sync",
            object_type="project",
            object_id=principal.project_id,
            before=None,
            after={
                "status": report.status,
                "operations": len(report.operations),
                "errors": len(report.errors),
            },
        )
        return Response(report, status_code=503 if report.status == "unreachable" else 200)
