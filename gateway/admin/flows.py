"""IVR flows as the API sees them: what is loaded (version, problems), the graph, and validated writes.

Flows belong to projects: each project's files live in its own directory of TRUNKLINE_FLOWS_DIR (see
`gateway.ivr.library`), and a key sees, writes and deletes only its own project's flows (another project's flow is
404). Writes and deletes need an admin and are audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, delete, get, put
from litestar.datastructures import State
from litestar.params import FromPath, RawBody
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import audit
from gateway.auth.keys import Role
from gateway.auth.principal import is_tenant
from gateway.calls.guard import DestinationPolicy, DestinationRefused
from gateway.db.models import Project
from gateway.db.models import Route as RouteRow
from gateway.errors import InvalidInput, NotFound
from gateway.flow_secrets import secret_names
from gateway.ivr import FlowGraph, FlowInUse, FlowRegistry, LoadedFlow
from gateway.ivr.loader import load_flow_text
from gateway.ivr.steps import TransferStep
from gateway.routing_table import agent_names
from gateway.services import services
from gateway.web.deps import Caller, Db


class FlowSummary(msgspec.Struct):
    id: str
    version: str
    file: str
    loaded_at: datetime
    description: str
    problems: list[str]
    """Errors of a newer edit that is not served (the version above still is), and warnings."""
    missing_agents: list[str] = msgspec.field(default_factory=list)
    """Agents the flow transfers to that do not exist in the caller's project (those transfers fail)."""


class BrokenFlow(msgspec.Struct):
    id: str
    problems: list[str]


class FlowList(msgspec.Struct):
    items: list[FlowSummary]
    broken: list[BrokenFlow]
    """Files with errors and no good version to serve."""


class FlowDetail(FlowSummary, kw_only=True):
    text: str
    graph: FlowGraph


def registry(state: State, principal: Caller) -> FlowRegistry:
    """The caller's project's flows."""
    return services(state).flow_registry(principal.project_id)


def summary(flows: FlowRegistry, loaded: LoadedFlow, agents: set[str] | None = None) -> FlowSummary:
    """The flow as listed; with `agents` (the project's), transfers to other agents are reported."""
    missing = [] if agents is None else _missing_agents(loaded, agents)
    return FlowSummary(
        id=loaded.id,
        version=loaded.version,
        file=loaded.path.name,
        loaded_at=loaded.loaded_at,
        description=loaded.flow.description,
        problems=[str(p) for p in flows.problems_for(loaded.id)] + [text for _, text in missing],
        missing_agents=sorted({name for name, _ in missing}),
    )


def refuse_forbidden_transfers(loaded: LoadedFlow, policy: DestinationPolicy) -> None:
    """A flow whose transfer steps dial where calls may not go is refused before it is saved (toll fraud);
    templated destinations are checked when the call dials them."""
    for step_id, step in loaded.flow.steps.items():
        if not isinstance(step, TransferStep):
            continue
        destination = step.number or step.sip
        if destination is None or "{{" in destination:
            continue
        try:
            policy.check(destination, field=f"steps.{step_id}")
        except DestinationRefused as refused:
            line = loaded.step_lines.get(step_id, 1)
            raise DestinationRefused(
                f"{loaded.path.name}:{line}:3: step '{step_id}': {refused.detail}", field=f"steps.{step_id}"
            ) from None


def _missing_agents(loaded: LoadedFlow, agents: set[str]) -> list[tuple[str, str]]:
    found = []
    for step_id, step in loaded.flow.steps.items():
        name = step.agent if isinstance(step, TransferStep) else None
        if name is None or "{{" in name or name in agents:
            continue
        line = loaded.step_lines.get(step_id, 1)
        found.append(
            (
                name,
                f"{loaded.path.name}:{line}:3: warning: step '{step_id}': agent '{name}' does not exist in this "
                "project, so the transfer fails (create it with POST /v1/agents)",
            )
        )
    return found


async def routes_using(db: AsyncSession, project_id: str, flow_id: str) -> list[str]:
    """The project's routes, and its routing default, that send calls to its flow `flow_id`."""
    users: list[str] = []
    rows = await db.execute(
        select(RouteRow.id, RouteRow.name, RouteRow.spec).where(RouteRow.project_id == project_id)
    )
    for route_id, name, spec in rows.all():
        fields = [f for f in ("target", "fallback") if _is_flow(spec.get(f), flow_id)]
        users.extend(f"route {name!r} ({route_id}) {field}" for field in fields)
    settings = await db.scalar(select(Project.settings).where(Project.id == project_id))
    if _is_flow((settings or {}).get("routing_default"), flow_id):
        users.append("the project's routing_default")
    return sorted(users)


def _is_flow(target: Any, flow_id: str) -> bool:
    return isinstance(target, dict) and target.get("type") == "flow" and target.get("flow") == flow_id


def _audited_state(loaded: LoadedFlow | None) -> dict[str, Any] | None:
    return None if loaded is None else {"version": loaded.version, "file": loaded.path.name}


async def _append_audit(
    db: AsyncSession, principal: Caller, action: str, flow_id: str, before: LoadedFlow | None, after: Any
) -> None:
    await audit.append(
        db,
        project_id=principal.project_id,
        actor=principal.actor(),
        action=action,
        object_type="flow",
        object_id=flow_id,
        before=_audited_state(before),
        after=after,
    )


def _restore(flows: FlowRegistry, flow_id: str, before: LoadedFlow | None) -> None:
    """Put a flow file back as it was (its change could not be audited)."""
    if before is None:
        flows.delete(flow_id)
    else:
        flows.write(flow_id, before.text)


class FlowController(Controller):
    path = "/flows"
    tags = ["flows"]

    @get(operation_id="listFlows", summary="List loaded flows with their versions and problems")
    async def list_flows(self, state: State, db: Db, principal: Caller) -> FlowList:
        flows = registry(state, principal)
        agents = await agent_names(db, principal.project_id)
        loaded = flows.all()
        served = {f.id for f in loaded}
        broken: dict[str, list[str]] = {}
        for problem in flows.problems:
            flow_id = problem.file.rsplit("/", 1)[-1].removesuffix(".yaml")
            if flow_id not in served:
                broken.setdefault(flow_id, []).append(str(problem))
        return FlowList(
            items=[summary(flows, f, agents) for f in loaded],
            broken=[BrokenFlow(id=k, problems=v) for k, v in sorted(broken.items())],
        )

    @get("/{flow_id:str}", operation_id="getFlow", summary="A flow with its source text and graph")
    async def get_flow(self, state: State, db: Db, principal: Caller, flow_id: FromPath[str]) -> FlowDetail:
        flows = registry(state, principal)
        loaded = flows.get(flow_id)
        if loaded is None:
            raise NotFound(f"No flow {flow_id!r} is loaded; GET /v1/flows lists them (and broken files).")
        return FlowDetail(
            **msgspec.structs.asdict(summary(flows, loaded, await agent_names(db, principal.project_id))),
            text=loaded.text,
            graph=flows.graph(flow_id),
        )

    @put(
        "/{flow_id:str}",
        operation_id="putFlow",
        opt={"role": Role.admin},
        summary="Write a flow file (YAML body): validated with every other flow first, then saved atomically",
    )
    async def put_flow(
        self, state: State, db: Db, principal: Caller, flow_id: FromPath[str], body: RawBody
    ) -> FlowSummary:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("The flow must be UTF-8 text (YAML).", field="body") from None
        flows = registry(state, principal)
        project = await db.get(Project, principal.project_id)
        assert project is not None
        secrets = await secret_names(db, principal.project_id)
        services(state).flow_library().set_secret_names(principal.project_id, secrets)
        policy = DestinationPolicy.for_project(
            project.settings, project.default_region, capped=is_tenant(project)
        )
        candidate = load_flow_text(
            text,
            flow_id,
            path=flows.flows_dir / f"{flow_id}.yaml",
            base_dir=flows.flows_dir,
            others={flow.id: flow for flow in flows.all()},
            secrets=secrets,
        )
        refuse_forbidden_transfers(candidate, policy)
        before = flows.get(flow_id)
        after = {"version": candidate.version, "file": candidate.path.name}
        await _append_audit(db, principal, "flow.update" if before else "flow.create", flow_id, before, after)
        loaded = flows.write(flow_id, text)
        try:
            await db.commit()
        except BaseException:
            _restore(flows, flow_id, before)
            raise
        return summary(flows, loaded)

    @delete(
        "/{flow_id:str}",
        operation_id="deleteFlow",
        opt={"role": Role.admin},
        summary="Delete a flow file (refused while a route or another flow sends calls to it)",
    )
    async def delete_flow(self, state: State, db: Db, principal: Caller, flow_id: FromPath[str]) -> None:
        flows = registry(state, principal)
        users = await routes_using(db, principal.project_id, flow_id)
        if users:
            raise FlowInUse(
                f"flow '{flow_id}' is the target of: {'; '.join(users)}. Point them elsewhere (PATCH "
                "/v1/routes/{id}) or delete them first.",
                field="flow_id",
                extra={"routes": users},
            )
        before = flows.get(flow_id)
        if before is None:
            flows.delete(flow_id)  # a broken file with nothing served, or 404
            await _append_audit(db, principal, "flow.delete", flow_id, None, None)
            await db.commit()
            return
        await _append_audit(db, principal, "flow.delete", flow_id, before, None)
        flows.delete(flow_id)
        try:
            await db.commit()
        except BaseException:
            _restore(flows, flow_id, before)
            raise
