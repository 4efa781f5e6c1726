"""Compile a project's routes into LiveKit SIP dispatch rules, for calls that reach LiveKit over SIP directly.

For every (trunk, number) the gateway serves, the routes that can take a call to that number on that trunk are
walked in order, as `resolve` would:
- the first one without call-time conditions decides statically: an agent target becomes a dispatch of that
  agent (room per the route's `dispatch` options); flows, forwards, voicemail and rejects - which a dispatch
  rule cannot carry out - and routes with a fallback - which needs a call-time availability check - go to
  the gateway's own agent (`router_agent`) with the decided target in the metadata;
- if a route with caller, header or schedule conditions comes first, LiveKit cannot express it: the number
  goes to `router_agent` with mode "resolve", and the agent calls `routing` at job start.
Numbers with the same outcome on the same trunk share one rule: routes with the same target and dispatch options
compile to one rule (per trunk), so 10,000 routes to one agent make one rule per trunk, not 10,000. Such a shared
rule cannot name one route in its attributes, so `routes` maps each rule's numbers to the route decided for them
(the gateway stores it with the rule and links an inbound call to its route by the rule that admitted it and the
number dialled). `needs_runtime` lists every route (None for the project default / no match) sent to
`router_agent`, and why.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

import msgspec

from routing.decide import NO_MATCH_TARGET
from routing.dispatch import (
    DispatchMetadata,
    RoomAgentDispatch,
    RoomConfiguration,
    SIPDispatchRule,
    SIPDispatchRuleCallee,
    SIPDispatchRuleDirect,
    SIPDispatchRuleIndividual,
    SIPDispatchRuleInfo,
)
from routing.index import ProjectIndex
from routing.matching import CompiledRoute
from routing.model import (
    AgentTarget,
    DispatchOptions,
    FlowTarget,
    ForwardTarget,
    ProjectRouting,
    RejectTarget,
    Target,
    VoicemailTarget,
)
from routing.numbers import is_canonical_e164, normalize

__all__ = ["CompiledRules", "RuntimeNeed", "compile_dispatch"]

_DEFAULT_DISPATCH = DispatchOptions()


class RuntimeNeed(msgspec.Struct, frozen=True, kw_only=True):
    route_id: str | None
    """None when the project default (or the no-match answer) is what needs the gateway's agent."""
    why: str


class CompiledRules(msgspec.Struct, frozen=True, kw_only=True):
    rules: list[SIPDispatchRuleInfo]
    needs_runtime: list[RuntimeNeed]
    routes: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)
    """Rule name -> {number: the route decided for it when compiling}; numbers decided at call time (or by the
    project default) are absent."""


class _Plan(msgspec.Struct, frozen=True):
    """What one (trunk, number) compiles to; numbers with equal plans share a rule."""

    agent_name: str
    metadata: str
    options: DispatchOptions
    label: str
    route_id: str | None = None
    """Set only when the rule must be the route's own (a fallback, checked at call time for that route)."""
    agent: str | None = None
    """The agent the route targets, when it targets one."""


def compile_dispatch(
    table: ProjectRouting, numbers_by_trunk: Mapping[str, Sequence[str]], *, router_agent: str
) -> CompiledRules:
    """Dispatch rules for every number in `numbers_by_trunk` (LiveKit trunk id -> numbers it receives).

    Numbers not in E.164 are normalised with the trunk's or project's region (`InvalidNumber` if they fail).
    Rules and needs come out in a deterministic order, with stable names, so a reconciler can diff them.
    """
    index = ProjectIndex(table)
    needs: dict[tuple[str | None, str], None] = {}
    groups: dict[tuple[str, _Plan], dict[str, str | None]] = {}
    for trunk in sorted(numbers_by_trunk):
        region = index.region_for(trunk)
        for raw in numbers_by_trunk[trunk]:
            number = raw if is_canonical_e164(raw) else normalize(raw, region).e164
            plan, route_id = _plan(index, trunk, number, router_agent, needs)
            groups.setdefault((trunk, plan), {})[number] = route_id
    rules: list[SIPDispatchRuleInfo] = []
    routes: dict[str, dict[str, str]] = {}
    for (trunk, plan), decided in sorted(groups.items(), key=lambda item: (item[0][0], item[0][1].label)):
        rule = _rule(table.project_id, trunk, plan, sorted(decided))
        rules.append(rule)
        by_number = {number: route for number, route in sorted(decided.items()) if route is not None}
        if by_number:
            routes[rule.name] = by_number
    return CompiledRules(
        rules=rules,
        needs_runtime=[RuntimeNeed(route_id=route_id, why=why) for route_id, why in needs],
        routes=routes,
    )


def _plan(
    index: ProjectIndex, trunk: str, number: str, router_agent: str, needs: dict[tuple[str | None, str], None]
) -> tuple[_Plan, str | None]:
    """The plan for one (trunk, number), and the route decided for it when compiling (None: at call time)."""
    conditional: list[CompiledRoute] = []
    winner: CompiledRoute | None = None
    for route in index.candidates(number):
        if not route.enabled or (route.trunks is not None and trunk not in route.trunks):
            continue
        if route.caller is not None or route.headers or route.schedule is not None:
            conditional.append(route)
            continue
        winner = route
        break
    project_id = index.project_id
    if conditional:
        for route in conditional:
            kinds = ", ".join(
                kind for kind in route.condition_kinds() if kind not in ("dialled number", "trunk")
            )
            why = f"{kinds} conditions are checked at call time"
            if route.headers:
                why += " (map the SIP headers to participant attributes on the inbound trunk)"
            needs[(route.id, why)] = None
        metadata = DispatchMetadata(
            project_id=project_id,
            mode="resolve",
            route_ids=[route.id for route in conditional],
            reason="call-time conditions",
        )
        label = "resolve:" + ",".join(route.id for route in conditional)
        return _Plan(router_agent, _json(metadata), _DEFAULT_DISPATCH, label), None
    if winner is not None:
        route_id: str | None = winner.id
        target: Target = winner.target
        options = winner.route.dispatch
        if winner.fallback is not None:
            needs[(winner.id, "a fallback needs a call-time availability check")] = None
            metadata = DispatchMetadata(
                project_id=project_id, mode="target", route_id=winner.id, target=target
            )
            agent = target.agent if isinstance(target, AgentTarget) else None
            label = f"fallback:{winner.id}"
            return _Plan(router_agent, _json(metadata), options, label, winner.id, agent), winner.id
    else:
        route_id, options = None, _DEFAULT_DISPATCH
        target = index.default_target if index.default_target is not None else NO_MATCH_TARGET
    # Shared by every route with this target and these options: the metadata names no route.
    metadata = DispatchMetadata(project_id=project_id, mode="target", target=target)
    shape = _fingerprint(metadata, options)
    if isinstance(target, AgentTarget):
        plan = _Plan(
            target.agent, _json(metadata), options, f"agent:{target.agent}:{shape}", None, target.agent
        )
        return plan, route_id
    needs[(route_id, _router_why(target, route_id))] = None
    return _Plan(router_agent, _json(metadata), options, f"target:{shape}"), route_id


def _fingerprint(metadata: DispatchMetadata, options: DispatchOptions) -> str:
    """A short stable name for a (target, dispatch options) pair: part of the shared rule's name."""
    encoded = msgspec.json.encode([metadata, options], order="sorted")
    return hashlib.sha256(encoded).hexdigest()[:10]


def _router_why(target: Target, route_id: str | None) -> str:
    prefix = "" if route_id is not None else "no route matches; "
    match target:
        case FlowTarget():
            return prefix + "IVR flows run in the gateway's agent"
        case ForwardTarget():
            return prefix + "a dispatch rule cannot forward; the gateway's agent transfers the call"
        case VoicemailTarget():
            return prefix + "voicemail is recorded by the gateway's agent"
        case RejectTarget():
            return prefix + "a dispatch rule cannot reject with a chosen SIP status; the gateway's agent does"
        case AgentTarget():
            return prefix + "agent dispatched through the gateway's agent"


def _json(metadata: DispatchMetadata) -> str:
    return msgspec.json.encode(metadata).decode()


def _dispatch_rule(options: DispatchOptions) -> SIPDispatchRule:
    if options.kind == "direct":
        return SIPDispatchRule(
            dispatch_rule_direct=SIPDispatchRuleDirect(room_name=options.room_name, pin=options.pin)
        )
    if options.kind == "callee":
        callee = SIPDispatchRuleCallee(
            room_prefix=options.room_prefix, pin=options.pin, randomize=options.randomize
        )
        return SIPDispatchRule(dispatch_rule_callee=callee)
    return SIPDispatchRule(
        dispatch_rule_individual=SIPDispatchRuleIndividual(room_prefix=options.room_prefix, pin=options.pin)
    )


ROUTE_ATTR = "trunkline.route_id"
AGENT_ATTR = "trunkline.agent"
"""LiveKit copies a rule's attributes onto the SIP participants it admits: the call record learns from them which
agent served the call, and, for a rule that is one route's own (a fallback), which route; a shared rule's calls
find their route in `CompiledRules.routes` (by rule and dialled number)."""


def _rule(project_id: str, trunk: str, plan: _Plan, numbers: list[str]) -> SIPDispatchRuleInfo:
    attributes = {"trunkline.project_id": project_id}
    if plan.route_id is not None:
        attributes[ROUTE_ATTR] = plan.route_id
    if plan.agent is not None:
        attributes[AGENT_ATTR] = plan.agent
    return SIPDispatchRuleInfo(
        rule=_dispatch_rule(plan.options),
        trunk_ids=[trunk],
        hide_phone_number=plan.options.hide_phone_number,
        numbers=numbers,
        name=f"trunkline:{project_id}:{trunk}:{plan.label}",
        attributes=attributes,
        room_config=RoomConfiguration(
            agents=[RoomAgentDispatch(agent_name=plan.agent_name, metadata=plan.metadata)]
        ),
    )
