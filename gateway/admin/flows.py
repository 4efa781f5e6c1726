"""IVR flows as the API sees them: what is loaded (version, problems), the graph, and validated writes.

Flows are the operators' files in TRUNKLINE_FLOWS_DIR, shared by every project of this gateway: any key reads
them; writing or deleting a file needs an admin of the default project.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from litestar import Controller, delete, get, put
from litestar.datastructures import State
from litestar.params import FromPath, RawBody

from gateway.auth.keys import Role
from gateway.errors import Forbidden, InvalidInput, NotFound
from gateway.ivr import FlowGraph, FlowRegistry, LoadedFlow
from gateway.services import services
from gateway.web.deps import Caller


class FlowSummary(msgspec.Struct):
    id: str
    version: str
    file: str
    loaded_at: datetime
    description: str
    problems: list[str]
    """Errors of a newer edit that is not served (the version above still is), and warnings."""


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


def summary(flows: FlowRegistry, loaded: LoadedFlow) -> FlowSummary:
    return FlowSummary(
        id=loaded.id,
        version=loaded.version,
        file=loaded.path.name,
        loaded_at=loaded.loaded_at,
        description=loaded.flow.description,
        problems=[str(p) for p in flows.problems_for(loaded.id)],
    )


def _need_platform_admin(principal: Caller) -> None:
    if not principal.is_platform_admin:
        raise Forbidden(
            "Flow files are shared by every project: only admins of the default project change them."
        )


class FlowController(Controller):
    path = "/flows"
    tags = ["flows"]

    @get(operation_id="listFlows", summary="List loaded flows with their versions and problems")
    async def list_flows(self, state: State) -> FlowList:
        flows = registry(state)
        loaded = flows.all()
        served = {f.id for f in loaded}
        broken: dict[str, list[str]] = {}
        for problem in flows.problems:
            flow_id = problem.file.rsplit("/", 1)[-1].removesuffix(".yaml")
            if flow_id not in served:
                broken.setdefault(flow_id, []).append(str(problem))
        return FlowList(
            items=[summary(flows, f) for f in loaded],
            broken=[BrokenFlow(id=k, problems=v) for k, v in sorted(broken.items())],
        )

    @get("/{flow_id:str}", operation_id="getFlow", summary="A flow with its source text and graph")
    async def get_flow(self, state: State, flow_id: FromPath[str]) -> FlowDetail:
        flows = registry(state)
        loaded = flows.get(flow_id)
        if loaded is None:
            raise NotFound(f"No flow {flow_id!r} is loaded; GET /v1/flows lists them (and broken files).")
        return FlowDetail(
            **msgspec.structs.asdict(summary(flows, loaded)), text=loaded.text, graph=flows.graph(flow_id)
        )

    @put(
        "/{flow_id:str}",
        operation_id="putFlow",
        opt={"role": Role.admin},
        summary="Write a flow file (YAML body): validated with every other flow first, then saved atomically",
    )
    async def put_flow(
        self, state: State, principal: Caller, flow_id: FromPath[str], body: RawBody
    ) -> FlowSummary:
        _need_platform_admin(principal)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput("The flow must be UTF-8 text (YAML).", field="body") from None
        flows = registry(state)
        return summary(flows, flows.write(flow_id, text))

    @delete(
        "/{flow_id:str}",
        operation_id="deleteFlow",
        opt={"role": Role.admin},
        summary="Delete a flow file (refused while another flow links to it)",
    )
    async def delete_flow(self, state: State, principal: Caller, flow_id: FromPath[str]) -> None:
        _need_platform_admin(principal)
        registry(state).delete(flow_id)
