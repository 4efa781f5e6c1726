"""The reconciler: makes a project's LiveKit hold the trunks and dispatch rules stored in Trunkline.

One run: read the desired state (database), see what LiveKit holds (`sync_scope`: a full run pages through
every list; a change-triggered run fetches only the changed objects by their stored ids), plan (pure,
`sync_plan`), apply trunks first (rules need their LiveKit ids), compile the routes into rules, apply rules
(deletes, then updates, then creates, so numbers can move between rules), delete unwanted trunks last, then write
the LiveKit ids and per-object sync states back. Runs are idempotent; a run cut short by an outage keeps what it
learned.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Literal

import msgspec
from livekit import api

from gateway.db.database import Database
from gateway.db.types import utcnow
from gateway.errors import AppError
from gateway.routing_table import compiled_dispatch, trunk_numbers
from routing import dispatch

from . import desired as want
from . import sync_scope as scope
from . import sync_store as store
from .bridging import BRIDGE_KEY, BridgeCredentials, bridge_credentials, bridge_rule, bridge_trunk
from .clients import LiveKitClients
from .desired import Desired
from .errors import LiveKitError, LiveKitUnavailable
from .facade import LiveKit
from .sync_plan import Op, OpView, Wanted, digest, plan, view
from .sync_scope import Gone

logger = logging.getLogger("gateway.livekit.sync")

SyncStatus = Literal["ok", "partial", "unreachable", "not_configured", "failed"]


class SyncReport(msgspec.Struct, kw_only=True):
    """One reconciliation of a project (or, with `dry_run`, what one would do)."""

    project_id: str
    status: SyncStatus
    dry_run: bool
    started_at: datetime
    finished_at: datetime
    operations: list[OpView]
    """Applied (or, for a dry run, needed) changes; `drift` marks changes made in LiveKit behind our back."""
    errors: list[str]
    objects: list[store.ObjectState]

    @property
    def in_sync(self) -> bool:
        return self.status == "ok" and not self.operations


class _Run:
    """The LiveKit side of one reconciliation."""

    def __init__(
        self,
        livekit: LiveKit,
        stored: store.Stored,
        *,
        dry_run: bool,
        bridge: BridgeCredentials,
        full: bool = True,
        gone: Sequence[Gone] = (),
    ) -> None:
        self.livekit = livekit
        self.stored = stored
        self.bridge = bridge
        self.project_id = stored.project.id
        self.dry_run = dry_run
        self.full = full
        self.gone = list(gone)
        self.statuses = store.statuses(stored)
        self.done: list[Op] = []
        self.errors: list[str] = []
        self.trunk_ids: dict[str, str] = {}
        self.wanted: list[Wanted] = []
        self.compiled: list[dispatch.SIPDispatchRuleInfo] | None = None
        self.compiled_routes: dict[str, dict[str, str]] = {}
        self.finished = False

    async def run(self) -> None:
        if self.full:
            inbound, outbound, rules = await scope.everything(self.livekit)
            trunks = [
                *self._wanted_trunks(),
                self._wanted_bridge(bridge_trunk(self.project_id, self.bridge), inbound),
            ]
            trunk_ops = plan(self.project_id, trunks, inbound + outbound)
        else:
            trunks = self._wanted_trunks()
            trunk_ops = await self._changed_trunk_ops(trunks)
        await self._apply([op for op in trunk_ops if op.action != "delete"])
        # Compiling a large table takes a while (about a second at 10,000 routes): in a worker thread, so the event
        # loop keeps answering webhooks meanwhile (it runs pure code over rows already read).
        wanted_rules, keep = await asyncio.to_thread(self._wanted_rules)
        if self.full:
            bridge_trunk_id = self.trunk_ids.get(BRIDGE_KEY)
            if bridge_trunk_id:
                wanted_rules.append(self._wanted_bridge(bridge_rule(self.project_id, bridge_trunk_id), rules))
            else:
                keep.add(BRIDGE_KEY)
            rule_ops = plan(self.project_id, wanted_rules, rules, keep=keep)
        else:
            rule_ops = await self._changed_rule_ops(wanted_rules, keep)
        order = {"delete": 0, "adopt": 1, "update": 1, "create": 2}
        await self._apply(sorted(rule_ops, key=lambda op: order[op.action]), retry_conflicts=True)
        await self._apply([op for op in trunk_ops if op.action == "delete"])
        self.wanted = trunks + wanted_rules
        self.finished = True
        if not self.dry_run:
            self._settle_untouched()

    def _changed(self, items: list[Wanted]) -> list[Wanted]:
        return [w for w in items if scope.changed(w, self.statuses.get(w.desired.key))]

    async def _changed_trunk_ops(self, trunks: list[Wanted]) -> list[Op]:
        """Ops for the trunks that changed since the last sync (LiveKit's copies fetched by id), and deletes of
        trunks deleted in Trunkline."""
        changed = self._changed(trunks)
        current = [
            *await scope.by_ids(self.livekit, "inbound_trunk", scope.known_ids(changed, "inbound_trunk")),
            *await scope.by_ids(self.livekit, "outbound_trunk", scope.known_ids(changed, "outbound_trunk")),
        ]
        keep = {w.desired.key for w in trunks} | {BRIDGE_KEY}
        ops = plan(self.project_id, changed, current, keep=keep)
        return ops + self._gone_ops(kind for kind in ("inbound_trunk", "outbound_trunk"))

    async def _changed_rule_ops(self, rules: list[Wanted], keep: set[str]) -> list[Op]:
        """Ops for the rules that changed, deletes of compiled rules no longer wanted (by their stored id) and
        of manual rules deleted in Trunkline."""
        changed = self._changed(rules)
        current = await scope.by_ids(self.livekit, "dispatch_rule", scope.known_ids(changed, "dispatch_rule"))
        keep = keep | {w.desired.key for w in rules} | {BRIDGE_KEY}
        ops = plan(self.project_id, changed, current, keep=keep)
        if self.compiled is not None:
            wanted = {rule.name for rule in self.compiled}
            for key, row in sorted(self.stored.compiled_rows.items()):
                if key not in wanted and key not in keep and row.livekit_rule_id:
                    ops.append(
                        Op(
                            "delete",
                            "dispatch_rule",
                            key,
                            row.livekit_rule_id,
                            "no longer wanted by Trunkline",
                            False,
                        )
                    )
        return ops + self._gone_ops(["dispatch_rule"])

    def _gone_ops(self, kinds: Iterable[want.Kind]) -> list[Op]:
        wanted = set(kinds)
        return [
            Op("delete", gone.kind, None, gone.livekit_id, "deleted in Trunkline", False)
            for gone in self.gone
            if gone.kind in wanted
        ]

    def _wanted_trunks(self) -> list[Wanted]:
        wanted = []
        for trunk in self.stored.trunks:
            numbers = trunk_numbers(trunk.config, self.stored.bound_numbers.get(trunk.id, []))
            build = want.inbound_trunk if trunk.direction == "inbound" else want.outbound_trunk
            kind: want.Kind = "inbound_trunk" if trunk.direction == "inbound" else "outbound_trunk"
            info = build(self.project_id, trunk.id, trunk.name, trunk.config, trunk.auth_password, numbers)
            item = Desired(kind, trunk.id, info, trunk.livekit_trunk_id, trunk.name)
            wanted.append(Wanted(item, trunk.sync_state.get("digest")))
            if trunk.livekit_trunk_id:
                self.trunk_ids[trunk.id] = trunk.livekit_trunk_id
        return wanted

    def _wanted_bridge(self, info: want.Info, current: list[want.Actual]) -> Wanted:
        """A bridge object: derived, never stored, so LiveKit's marked copy is the known one, and any difference
        from what is derived is drift."""
        kind: want.Kind = "dispatch_rule" if isinstance(info, api.SIPDispatchRuleInfo) else "inbound_trunk"
        mark = want.Mark(self.project_id, BRIDGE_KEY)
        copies = sorted(a.livekit_id for a in current if a.kind == kind and a.mark == mark)
        known = copies[0] if copies else None
        if known and kind == "inbound_trunk":
            self.trunk_ids[BRIDGE_KEY] = known
        item = Desired(kind, BRIDGE_KEY, info, known, "bridge")
        return Wanted(item, digest(info) if known else None)

    def _wanted_rules(self) -> tuple[list[Wanted], set[str]]:
        wanted: list[Wanted] = []
        keep: set[str] = set()
        for row in self.stored.manual_rules:
            trunk_ids = list(row.spec.get("trunk_ids", []))
            missing = [t for t in trunk_ids if t not in self.trunk_ids]
            if missing:
                keep.add(row.id)
                exists = any(t.id == missing[0] for t in self.stored.trunks)
                why = "to reach LiveKit" if exists else "which no longer exists; edit the rule's trunk_ids"
                self._outcome(row.id, "blocked", row.livekit_rule_id, f"waiting for trunk {missing[0]} {why}")
                continue
            info = want.manual_rule(
                self.project_id, row.id, row.name, row.kind, row.spec, [self.trunk_ids[t] for t in trunk_ids]
            )
            item = Desired("dispatch_rule", row.id, info, row.livekit_rule_id, row.name)
            wanted.append(Wanted(item, row.sync_state.get("digest")))
        table = self.stored.table
        if table is None:
            self.compiled = []
            return wanted, keep
        try:
            compiled = compiled_dispatch(
                table.build(),
                self.stored.trunks,
                self.stored.bound_numbers,
                lambda t: self.trunk_ids.get(t.id),
            )
            self.compiled = compiled.rules
            self.compiled_routes = compiled.routes
        except (AppError, ValueError) as exc:
            self.errors.append(f"routes could not be compiled into dispatch rules: {exc}")
            keep.update(self.stored.compiled_rows)
            return wanted, keep
        for rule in self.compiled:
            compiled_row = self.stored.compiled_rows.get(rule.name)
            known = compiled_row.livekit_rule_id if compiled_row else None
            item = Desired("dispatch_rule", rule.name, want.compiled_rule(rule), known, rule.name)
            wanted.append(Wanted(item, compiled_row.sync_state.get("digest") if compiled_row else None))
        return wanted, keep

    def _outcome(
        self, key: str, status: store.ObjectStatus, livekit_id: str | None, error: str | None
    ) -> None:
        self.stored.outcomes[key] = store.Outcome(status, livekit_id, error)

    def _settle_untouched(self) -> None:
        """Objects LiveKit already held as wanted are synced too (recorded only when their state changes)."""
        for item in self.wanted:
            key = item.desired.key
            if key in self.stored.outcomes:
                continue
            current = digest(item.desired.info)
            if item.synced_digest == current and self.statuses.get(key) == "synced":
                continue
            livekit_id = (
                self.trunk_ids.get(key) if item.desired.kind != "dispatch_rule" else item.desired.known_id
            )
            self.stored.outcomes[key] = store.Outcome("synced", livekit_id, None, current)

    async def _apply(self, ops: list[Op], *, retry_conflicts: bool = False) -> None:
        later: list[Op] = []
        for op in ops:
            if self.dry_run:
                if op.kind != "dispatch_rule" and op.key is not None and op.action != "delete":
                    if op.livekit_id:
                        self.trunk_ids[op.key] = op.livekit_id
                    else:
                        self.trunk_ids.pop(op.key, None)
                self.done.append(op)
                continue
            try:
                livekit_id = await self._execute(op)
            except LiveKitError as error:
                if retry_conflicts and error.code in ("invalid_argument", "already_exists"):
                    later.append(op)
                else:
                    self._failed(op, error)
                continue
            self._remember(op, livekit_id)
            self.done.append(op)
        if later:
            await self._apply(later)

    def _remember(self, op: Op, livekit_id: str | None) -> None:
        if op.key is None or op.action == "delete":
            return
        if op.kind != "dispatch_rule" and livekit_id:
            self.trunk_ids[op.key] = livekit_id
        stamp = digest(op.info) if op.info is not None else None
        self.stored.outcomes[op.key] = store.Outcome("synced", livekit_id, None, stamp)

    def _failed(self, op: Op, error: LiveKitError) -> None:
        message = f"{op.action} {op.kind.replace('_', ' ')} {op.key or op.livekit_id}: {error.detail}"
        self.errors.append(message)
        if op.key is not None and op.action != "delete":
            self._outcome(op.key, "error", op.livekit_id, error.detail)
        if op.key is not None and op.action == "create":
            self.trunk_ids.pop(op.key, None)  # its stored id (if any) names a trunk LiveKit no longer has
        logger.info("LiveKit sync step refused", extra={"project_id": self.project_id, "step": op.action})

    async def _execute(self, op: Op) -> str | None:
        lk, info = self.livekit, op.info
        if op.action == "adopt":
            return op.livekit_id
        if op.action == "delete":
            if op.kind == "dispatch_rule":
                await lk.delete_dispatch_rule(op.livekit_id or "")
            else:
                await lk.delete_trunk(op.livekit_id or "")
            return None
        if isinstance(info, api.SIPInboundTrunkInfo):
            if op.action == "create":
                return (await lk.create_inbound_trunk(info)).sip_trunk_id
            return (await lk.update_inbound_trunk(op.livekit_id or "", info)).sip_trunk_id
        if isinstance(info, api.SIPOutboundTrunkInfo):
            if op.action == "create":
                return (await lk.create_outbound_trunk(info)).sip_trunk_id
            return (await lk.update_outbound_trunk(op.livekit_id or "", info)).sip_trunk_id
        assert isinstance(info, api.SIPDispatchRuleInfo)
        if op.action == "create":
            return (await lk.create_dispatch_rule(info)).sip_dispatch_rule_id
        return (await lk.update_dispatch_rule(op.livekit_id or "", info)).sip_dispatch_rule_id

    def objects(self) -> list[store.ObjectState]:
        """Every object's standing after the run (or as last stored, when the run did not reach it)."""
        stored = self.stored
        states = []
        for trunk in stored.trunks:
            kind: want.Kind = "inbound_trunk" if trunk.direction == "inbound" else "outbound_trunk"
            states.append(
                store.object_state(
                    kind, trunk.id, trunk.name, trunk.livekit_trunk_id, trunk.sync_state, stored
                )
            )
        for rule in stored.manual_rules:
            states.append(
                store.object_state(
                    "dispatch_rule", rule.id, rule.name, rule.livekit_rule_id, rule.sync_state, stored
                )
            )
        compiled = {rule.name for rule in self.compiled or []} | set(stored.compiled_rows)
        for key in sorted(compiled):
            row = stored.compiled_rows.get(key)
            livekit_id, sync_state = (row.livekit_rule_id, row.sync_state) if row else (None, {})
            states.append(store.object_state("dispatch_rule", key, key, livekit_id, sync_state, stored))
        return states


class Reconciler:
    """Syncs one project at a time per project (a lock each); safe to call from the loop and the API."""

    def __init__(
        self,
        database: Database,
        clients: LiveKitClients,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._database = database
        self._clients = clients
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        self.last: dict[str, SyncReport] = {}

    async def sync(
        self, project_id: str, *, dry_run: bool = False, full: bool = True, gone: Sequence[Gone] = ()
    ) -> SyncReport:
        """Reconcile one project: `full` looks at everything LiveKit holds (drift included); otherwise only the
        objects changed since the last sync, and the LiveKit copies of `gone` objects, are touched."""
        lock = self._locks.setdefault(project_id, asyncio.Lock())
        async with lock:
            report = await self._sync(project_id, dry_run=dry_run, full=full, gone=gone)
        if not dry_run:
            self.last[project_id] = report
        return report

    async def _sync(self, project_id: str, *, dry_run: bool, full: bool, gone: Sequence[Gone]) -> SyncReport:
        started = self._clock()
        project = await store.read_project(self._database, project_id)
        if project is not None and not self._clients.configured(project):  # nothing to read the table for
            return self._report(project_id, "not_configured", dry_run, started, [], [], [])
        stored = await store.read(self._database, project_id)
        if stored is None:
            return self._report(project_id, "failed", dry_run, started, [], ["project not found"], [])
        if not self._clients.configured(stored.project):
            return self._report(project_id, "not_configured", dry_run, started, [], [], [])
        credentials = self._clients.credentials(stored.project)
        assert credentials is not None
        bridge = bridge_credentials(project_id, credentials.api_secret)
        full = full or dry_run or not store.ever_synced(stored)
        livekit = await self._clients.get(stored.project)
        run = _Run(livekit, stored, dry_run=dry_run, bridge=bridge, full=full, gone=gone)
        status: SyncStatus
        try:
            await run.run()
        except LiveKitUnavailable as exc:
            run.errors.append(exc.detail)
            status = "unreachable"
        except LiveKitError as exc:  # e.g. a wrong API secret: listing is refused, nothing can be synced
            run.errors.append(exc.detail)
            status = "failed"
        else:
            status = "partial" if run.errors else "ok"
        finally:
            if not dry_run:
                compiled = run.compiled if run.finished else None
                await store.write_back(
                    self._database, stored, compiled, run.compiled_routes, run.trunk_ids, self._clock()
                )
        if status != "ok":
            logger.warning(
                "LiveKit sync incomplete",
                extra={"project_id": project_id, "status": status, "errors": len(run.errors)},
            )
        return self._report(
            project_id, status, dry_run, started, [view(op) for op in run.done], run.errors, run.objects()
        )

    def _report(
        self,
        project_id: str,
        status: SyncStatus,
        dry_run: bool,
        started: datetime,
        operations: list[OpView],
        errors: list[str],
        objects: list[store.ObjectState],
    ) -> SyncReport:
        return SyncReport(
            project_id=project_id,
            status=status,
            dry_run=dry_run,
            started_at=started,
            finished_at=self._clock(),
            operations=operations,
            errors=errors,
            objects=objects,
        )
