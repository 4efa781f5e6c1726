"""The reconciler's database side: read a project's desired state, write back LiveKit ids and sync states.

Sessions opened here carry `QUIET` in `session.info`, so their commits do not wake the sync loop again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import msgspec
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.db.database import Database
from gateway.db.models import DispatchRule, Project, Trunk
from gateway.ids import new_id
from gateway.routing_table import StoredTable, bound_numbers, read_table
from routing import dispatch

from .desired import Kind

ROUTES_KEY = "routes"
"""A compiled rule row's `sync_state` key: {number: route id} for the numbers whose route was decided when
compiling (the webhook links an inbound call to its route through the rule that admitted it)."""

QUIET = "trunkline.livekit_sync"
"""`session.info` key: this session's commits are the reconciler's own (no new sync is triggered)."""

ObjectStatus = Literal["synced", "error", "blocked", "pending"]


class ObjectState(msgspec.Struct, kw_only=True):
    """How one Trunkline object stands in LiveKit."""

    kind: Kind
    object_id: str
    """The gateway id (trunks, manual rules) or the compiled rule's stable name."""
    name: str
    livekit_id: str | None
    status: ObjectStatus
    error: str | None = None
    synced_at: datetime | None = None


@dataclass
class Outcome:
    """What a run did for one object; `digest` is what LiveKit now holds (None unless synced)."""

    status: ObjectStatus
    livekit_id: str | None
    error: str | None = None
    digest: str | None = None


@dataclass
class Stored:
    """A project's desired state as the database holds it."""

    project: Project
    trunks: list[Trunk]
    bound_numbers: dict[str, list[str]]
    manual_rules: list[DispatchRule]
    compiled_rows: dict[str, DispatchRule]
    table: StoredTable | None
    """None when the project has no routes and no default target: then nothing is compiled. Built into the
    engine's table where the compile runs (off the event loop)."""
    outcomes: dict[str, Outcome] = field(default_factory=dict)


async def read_project(database: Database, project_id: str) -> Project | None:
    """The project alone (is LiveKit configured for it?), before reading everything a sync needs."""
    async with database.session() as db:
        db.info[QUIET] = True
        return await db.get(Project, project_id)


async def read(database: Database, project_id: str) -> Stored | None:
    async with database.session() as db:
        db.info[QUIET] = True
        project = await db.get(Project, project_id)
        if project is None:
            return None
        trunks = list((await db.scalars(select(Trunk).where(Trunk.project_id == project_id))).all())
        bound = await bound_numbers(db, project_id)
        rules = list(
            (await db.scalars(select(DispatchRule).where(DispatchRule.project_id == project_id))).all()
        )
        table = await read_table(db, project)
        return Stored(
            project=project,
            trunks=trunks,
            bound_numbers=bound,
            manual_rules=[r for r in rules if r.source != "compiled"],
            compiled_rows={r.sync_state.get("key", r.name): r for r in rules if r.source == "compiled"},
            table=None if table.empty else table,
        )


def _state(outcome: Outcome, previous: dict[str, Any], now: datetime) -> dict[str, Any]:
    if outcome.status == "synced":
        return {"status": "synced", "synced_at": now.isoformat(), "digest": outcome.digest}
    return {**previous, "status": outcome.status, "error": outcome.error, "checked_at": now.isoformat()}


def compiled_spec(
    rule: dispatch.SIPDispatchRuleInfo, gateway_trunks: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    """A compiled rule in the API's dispatch-rule shape: (kind, spec)."""
    kinds = rule.rule
    spec: dict[str, Any] = {}
    if kinds.dispatch_rule_direct is not None:
        kind = "direct"
        spec.update(room_name=kinds.dispatch_rule_direct.room_name, pin=kinds.dispatch_rule_direct.pin)
    elif kinds.dispatch_rule_callee is not None:
        kind = "callee"
        callee = kinds.dispatch_rule_callee
        spec.update(room_prefix=callee.room_prefix, pin=callee.pin, randomize=callee.randomize)
    else:
        kind = "individual"
        individual = kinds.dispatch_rule_individual or dispatch.SIPDispatchRuleIndividual()
        spec.update(room_prefix=individual.room_prefix, pin=individual.pin)
    agents = rule.room_config.agents if rule.room_config is not None else []
    spec.update(
        trunk_ids=[gateway_trunks.get(t, t) for t in rule.trunk_ids],
        hide_phone_number=rule.hide_phone_number,
        agents=[{"agent_name": a.agent_name, "metadata": a.metadata} for a in agents],
    )
    return kind, {k: v for k, v in spec.items() if v not in ("", False, [], None)}


async def write_back(
    database: Database,
    stored: Stored,
    compiled: list[dispatch.SIPDispatchRuleInfo] | None,
    routes: dict[str, dict[str, str]],
    livekit_trunk_ids: dict[str, str],
    now: datetime,
) -> None:
    """Store LiveKit ids and sync states; with `compiled` (a complete run), mirror the compiled rules as rows,
    each with the route decided for each of its numbers (`routes`: rule name -> number -> route id)."""
    outcomes = stored.outcomes
    async with database.session() as db:
        db.info[QUIET] = True
        for trunk in stored.trunks:
            outcome = outcomes.get(trunk.id)
            if outcome is not None:
                await db.execute(
                    update(Trunk)
                    .where(Trunk.id == trunk.id)
                    .values(
                        livekit_trunk_id=outcome.livekit_id, sync_state=_state(outcome, trunk.sync_state, now)
                    )
                )
        for rule in stored.manual_rules:
            outcome = outcomes.get(rule.id)
            if outcome is not None:
                await db.execute(
                    update(DispatchRule)
                    .where(DispatchRule.id == rule.id)
                    .values(
                        livekit_rule_id=outcome.livekit_id, sync_state=_state(outcome, rule.sync_state, now)
                    )
                )
        if compiled is not None:
            gateway_trunks = {livekit_id: trunk_id for trunk_id, livekit_id in livekit_trunk_ids.items()}
            await _mirror_compiled(db, stored, compiled, routes, gateway_trunks, now)
        await db.commit()


async def _mirror_compiled(
    db: AsyncSession,
    stored: Stored,
    compiled: list[dispatch.SIPDispatchRuleInfo],
    routes: dict[str, dict[str, str]],
    gateway_trunks: dict[str, str],
    now: datetime,
) -> None:
    wanted = {rule.name for rule in compiled}
    stale = [row.id for name, row in stored.compiled_rows.items() if name not in wanted]
    if stale:
        await db.execute(delete(DispatchRule).where(DispatchRule.id.in_(stale)))
    for rule in compiled:
        outcome = stored.outcomes.get(rule.name)
        row = stored.compiled_rows.get(rule.name)
        kind, spec = compiled_spec(rule, gateway_trunks)
        previous = row.sync_state if row is not None else {}
        state = _state(outcome, previous, now) if outcome is not None else previous
        state = {**state, "key": rule.name, "numbers": rule.numbers, ROUTES_KEY: routes.get(rule.name, {})}
        livekit_id = outcome.livekit_id if outcome is not None else (row.livekit_rule_id if row else None)
        if row is not None and (row.kind, row.spec, row.livekit_rule_id, row.sync_state) == (
            kind,
            spec,
            livekit_id,
            state,
        ):
            continue  # unchanged: no write, so a change-triggered run's writes do not grow with the project
        if row is None:
            db.add(
                DispatchRule(
                    id=new_id("sdr"),
                    project_id=stored.project.id,
                    name=rule.name[:200],
                    kind=kind,
                    spec=spec,
                    source="compiled",
                    livekit_rule_id=livekit_id,
                    sync_state=state,
                )
            )
        else:
            await db.execute(
                update(DispatchRule)
                .where(DispatchRule.id == row.id)
                .values(kind=kind, spec=spec, livekit_rule_id=livekit_id, sync_state=state)
            )


async def all_projects(database: Database) -> list[Project]:
    async with database.session() as db:
        db.info[QUIET] = True
        return list((await db.scalars(select(Project).order_by(Project.id))).all())


def statuses(stored: Stored) -> dict[str, object]:
    """Each stored object's last sync status, by its key."""
    statuses: dict[str, object] = {
        key: row.sync_state.get("status") for key, row in stored.compiled_rows.items()
    }
    statuses.update((rule.id, rule.sync_state.get("status")) for rule in stored.manual_rules)
    statuses.update((trunk.id, trunk.sync_state.get("status")) for trunk in stored.trunks)
    return statuses


def ever_synced(stored: Stored) -> bool:
    """Whether an earlier run reached LiveKit (a first sync is a full one: it also places the bridge objects)."""
    return any(t.livekit_trunk_id for t in stored.trunks) or any(
        r.livekit_rule_id for r in [*stored.manual_rules, *stored.compiled_rows.values()]
    )


def object_state(
    kind: Kind,
    key: str,
    name: str,
    livekit_id: str | None,
    sync_state: dict[str, object],
    stored: Stored,
) -> ObjectState:
    outcome = stored.outcomes.get(key)
    if outcome is not None:
        return ObjectState(
            kind=kind,
            object_id=key,
            name=name,
            livekit_id=outcome.livekit_id,
            status=outcome.status,
            error=outcome.error,
        )
    status = sync_state.get("status")
    synced_at = sync_state.get("synced_at")
    error = sync_state.get("error")
    return ObjectState(
        kind=kind,
        object_id=key,
        name=name,
        livekit_id=livekit_id,
        status=status if status in ("synced", "error", "blocked") else "pending",
        error=error if isinstance(error, str) else None,
        synced_at=datetime.fromisoformat(synced_at) if isinstance(synced_at, str) else None,
    )
