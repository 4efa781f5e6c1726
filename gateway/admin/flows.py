"""IVR flows as the API sees them: what is loaded (version, problems), the graph, and validated writes.

Flows are the operators' files in TRUNKLINE_FLOWS_DIR, shared by every project of this gateway: any key reads
them; writing or deleting a file needs an admin of the default project.
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

from gateway.auth.keys import Role
from gateway.auth.principal import is_tenant
from gateway.calls.guard import DestinationPolicy, DestinationRefused
from gateway.db.models import Project
from gateway.db.models import Route as RouteRow
from gateway.errors import Forbidden, InvalidInput, NotFound
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


def registry(state: State) -> FlowRegistry:
    return services(state).flow_registry()


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


async def routes_using(db: AsyncSession, flow_id: str) -> list[str]:
    """Routes (of any project: flow files are shared) and project defaults that send calls to `flow_id`."""
    users: list[str] = []
    rows = await db.execute(
        select(RouteRow.id, RouteRow.name, RouteRow.spec, Project.slug).join(
            Project, Project.id == RouteRow.project_id
        )
    )
    for route_id, name, spec, slug in rows.all():
        fields = [f for f in ("target", "fallback") if _is_flow(spec.get(f), flow_id)]
        users.extend(f"route {name!r} ({route_id}, project {slug}) {field}" for field in fields)
    for slug, settings in (await db.execute(select(Project.slug, Project.settings))).all():
        if _is_flow((settings or {}).get("routing_default"), flow_id):
            users.append(f"project {slug}'s routing_default")
    return sorted(users)


def _is_flow(target: Any, flow_id: str) -> bool:
    return isinstance(target, dict) and target.get("type") == "flow" and target.get("flow") == flow_id


def _need_platform_admin(principal: Caller) -> None:
    if not principal.is_platform_admin:
        raise Forbidden(
            "Flow files are shared by every project: only admins of the default project change them."
        )


class FlowController(Controller):
    path = "/flows"
    tags = ["flows"]

    @get(operation_id="listFlows", summary="List loaded flows with their versions and problems")
    async def list_flows(self, state: State, db: Db, principal: Caller) -> FlowList:
        flows = registry(state)
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
        flows = registry(state)
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
        _need_platform_admin(principal)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("The flow must be UTF-8 text (YAML).", field="body") from None
        flows = registry(state)
        project = await db.get(Project, principal.project_id)
        assert project is not None
        await db.commit()
        policy = DestinationPolicy.for_project(
            project.settings, project.default_region, capped=is_tenant(project)
        )
        candidate = load_flow_text(
            text,
            flow_id,
            path=flows.flows_dir / f"{flow_id}.yaml",
            base_dir=flows.flows_dir,
            others={flow.id: flow for flow in flows.all()},
        )
        refuse_forbidden_transfers(candidate, policy)
        return summary(flows, flows.write(flow_id, text))

    @delete(
        "/{flow_id:str}",
        operation_id="deleteFlow",
        opt={"role": Role.admin},
        summary="Delete a flow file (refused while a route or another flow sends calls to it)",
    )
    async def delete_flow(self, state: State, db: Db, principal: Caller, flow_id: FromPath[str]) -> None:
        _need_platform_admin(principal)
        users = await routes_using(db, flow_id)
        if users:
            raise FlowInUse(
                f"flow '{flow_id}' is the target of: {'; '.join(users)}. Point them elsewhere (PATCH "
                "/v1/routes/{id}) or delete them first.",
                field="flow_id",
                extra={"routes": users},
            )
        registry(state).delete(flow_id)
