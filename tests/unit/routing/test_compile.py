from __future__ import annotations

import msgspec
import pytest
from livekit.protocol import sip as proto_sip

from routing.compile import CompiledRules, compile_dispatch
from routing.dispatch import DispatchMetadata, SIPDispatchRuleInfo, decode_dispatch_metadata
from routing.model import (
    AgentTarget,
    CallerMatch,
    DispatchOptions,
    FlowTarget,
    ForwardTarget,
    OpeningHours,
    ProjectRouting,
    RejectTarget,
    Schedule,
    ScheduleMatch,
    Target,
)
from routing.numbers import InvalidNumber

from .builders import LONDON_DID, route, table

ROUTER = "trunkline-router"
SALES = AgentTarget(agent="sales", overrides={"greeting": "hi"})
OFFICE = Schedule(timezone="Europe/London", weekly=[OpeningHours(days=["mon"], open="09:00", close="17:00")])


def compiled(routing_table: ProjectRouting, numbers: dict[str, list[str]]) -> CompiledRules:
    return compile_dispatch(routing_table, numbers, router_agent=ROUTER)


def only_agent(rule: SIPDispatchRuleInfo) -> tuple[str, DispatchMetadata]:
    assert rule.room_config is not None
    [agent] = rule.room_config.agents
    return agent.agent_name, decode_dispatch_metadata(agent.metadata)


def test_an_agent_route_compiles_to_an_individual_rule_dispatching_that_agent() -> None:
    result = compiled(table(route("sales", SALES, numbers=[LONDON_DID])), {"ST_1": [LONDON_DID]})
    [rule] = result.rules
    assert result.needs_runtime == []
    assert (rule.trunk_ids, rule.numbers, rule.inbound_numbers) == (["ST_1"], [LONDON_DID], [])
    assert rule.rule.dispatch_rule_individual is not None
    assert rule.rule.dispatch_rule_individual.room_prefix == "call-"
    agent_name, metadata = only_agent(rule)
    assert agent_name == "sales"
    assert (metadata.mode, metadata.route_id, metadata.target) == ("target", None, SALES)
    assert rule.name.startswith("trunkline:proj:ST_1:agent:sales:")
    assert result.routes == {rule.name: {LONDON_DID: "sales"}}, "the call finds its route by rule and number"


def test_routes_with_the_same_target_and_options_share_one_rule_per_trunk() -> None:
    numbers = [f"+44207946{n:04d}" for n in range(40)]
    routing_table = table(
        *[route(f"r{n}", SALES, numbers=[number]) for n, number in enumerate(numbers)],
        route("own-room", SALES, numbers=["+441614960000"], dispatch=DispatchOptions(room_prefix="vip-")),
        route("other", AgentTarget(agent="support"), numbers=["+441614960001"]),
    )
    served = [*numbers, "+441614960000", "+441614960001"]
    result = compiled(routing_table, {"ST_1": served, "ST_2": served})
    assert len(result.rules) == 6, "3 (target, options) pairs on 2 trunks"
    shared = [rule for rule in result.rules if rule.numbers == numbers]
    assert [rule.trunk_ids for rule in shared] == [["ST_1"], ["ST_2"]]
    for rule in shared:
        assert "trunkline.route_id" not in rule.attributes
        assert rule.attributes["trunkline.agent"] == "sales"
        assert result.routes[rule.name] == {number: f"r{n}" for n, number in enumerate(numbers)}
    assert len({rule.name for rule in result.rules}) == 6, "each rule keeps a stable name of its own"


@pytest.mark.parametrize(
    ("options", "field", "expected"),
    [
        (
            DispatchOptions(kind="callee", room_prefix="sales-", randomize=False),
            "dispatch_rule_callee",
            {"room_prefix": "sales-"},
        ),
        (
            DispatchOptions(kind="direct", room_name="lobby", pin="1234"),
            "dispatch_rule_direct",
            {"room_name": "lobby", "pin": "1234"},
        ),
        (DispatchOptions(room_prefix="in-"), "dispatch_rule_individual", {"room_prefix": "in-"}),
    ],
)
def test_dispatch_options_choose_the_rule_kind(
    options: DispatchOptions, field: str, expected: object
) -> None:
    result = compiled(table(route("sales", SALES, dispatch=options)), {"ST_1": [LONDON_DID]})
    assert msgspec.to_builtins(result.rules[0].rule) == {field: expected}


def test_call_time_conditions_go_to_the_router_agent_with_the_reason() -> None:
    routing_table = table(
        route("vip", SALES, priority=1, caller=CallerMatch(allow=["+12015550123"])),
        route("hours", FlowTarget(flow="menu"), priority=2, schedule=ScheduleMatch(schedule=OFFICE)),
        route("tier", SALES, priority=3, headers={"X-Tier": "gold"}),
        route("rest", SALES, priority=4),
    )
    result = compiled(routing_table, {"ST_1": [LONDON_DID]})
    [rule] = result.rules
    agent_name, metadata = only_agent(rule)
    assert (agent_name, metadata.mode, metadata.route_ids) == (ROUTER, "resolve", ["vip", "hours", "tier"])
    whys = {need.route_id: need.why for need in result.needs_runtime}
    assert whys == {
        "vip": "caller conditions are checked at call time",
        "hours": "schedule open conditions are checked at call time",
        "tier": "headers conditions are checked at call time "
        "(map the SIP headers to participant attributes on the inbound trunk)",
    }


@pytest.mark.parametrize(
    ("target", "why"),
    [
        (FlowTarget(flow="menu"), "IVR flows run in the gateway's agent"),
        (
            ForwardTarget(number="+441614960000"),
            "a dispatch rule cannot forward; the gateway's agent transfers",
        ),
        (RejectTarget(reason="busy"), "a dispatch rule cannot reject with a chosen SIP status"),
    ],
)
def test_targets_a_dispatch_rule_cannot_carry_out_go_to_the_router(target: Target, why: str) -> None:
    result = compiled(table(route("r", target)), {"ST_1": [LONDON_DID]})
    agent_name, metadata = only_agent(result.rules[0])
    assert (agent_name, metadata.mode, metadata.target) == (ROUTER, "target", target)
    [need] = result.needs_runtime
    assert need.route_id == "r"
    assert need.why.startswith(why)


def test_a_fallback_needs_the_router_to_check_availability() -> None:
    result = compiled(table(route("r", SALES, fallback=FlowTarget(flow="menu"))), {"ST_1": [LONDON_DID]})
    assert only_agent(result.rules[0])[0] == ROUTER
    assert [need.why for need in result.needs_runtime] == ["a fallback needs a call-time availability check"]


def test_trunk_conditions_are_resolved_at_compile_time() -> None:
    routing_table = table(
        route("a-only", SALES, priority=1, trunks=["ST_a"]),
        route("rest", AgentTarget(agent="support"), priority=2),
    )
    result = compiled(routing_table, {"ST_a": [LONDON_DID], "ST_b": [LONDON_DID]})
    assert [(rule.trunk_ids, only_agent(rule)[0]) for rule in result.rules] == [
        (["ST_a"], "sales"),
        (["ST_b"], "support"),
    ]


def test_numbers_with_the_same_outcome_share_a_rule_and_defaults_cover_the_rest() -> None:
    routing_table = table(
        route("london", SALES, numbers=["+4420*"]),
        default=AgentTarget(agent="support"),
    )
    numbers = ["+442079460001", "020 7946 0000", "+441614960000"]
    result = compiled(routing_table, {"ST_1": numbers})
    assert [(rule.numbers, only_agent(rule)[0]) for rule in result.rules] == [
        (["+442079460000", "+442079460001"], "sales"),
        (["+441614960000"], "support"),
    ]
    london_rule, default_rule = result.rules
    assert default_rule.name.startswith("trunkline:proj:ST_1:agent:support:")
    assert london_rule.name.startswith("trunkline:proj:ST_1:agent:sales:")
    assert result.routes == {london_rule.name: {"+442079460000": "london", "+442079460001": "london"}}


def test_unrouted_numbers_without_default_get_the_defined_reject() -> None:
    result = compiled(table(), {"ST_1": [LONDON_DID]})
    _, metadata = only_agent(result.rules[0])
    assert metadata.target == RejectTarget(reason="unavailable")
    assert result.needs_runtime[0].route_id is None


def test_invalid_served_numbers_are_refused() -> None:
    with pytest.raises(InvalidNumber):
        compiled(table(), {"ST_1": ["12"]})


def test_compiled_rules_build_livekit_protocol_messages_field_for_field() -> None:
    routing_table = table(
        route("sales", SALES, numbers=[LONDON_DID], dispatch=DispatchOptions(hide_phone_number=True)),
        route("vip", SALES, numbers=["+4416*"], caller=CallerMatch(prefixes=["+1*"])),
    )
    result = compiled(routing_table, {"ST_1": [LONDON_DID, "+441614960000"]})
    for rule in result.rules:
        message = proto_sip.SIPDispatchRuleInfo(**msgspec.to_builtins(rule))
        request = proto_sip.CreateSIPDispatchRuleRequest(dispatch_rule=message)
        assert list(request.dispatch_rule.numbers) == rule.numbers
        assert list(message.trunk_ids) == rule.trunk_ids
        assert message.hide_phone_number == rule.hide_phone_number
        assert message.name == rule.name
        assert dict(message.attributes) == rule.attributes
        assert rule.attributes["trunkline.project_id"] == "proj"
        assert rule.room_config is not None
        assert message.room_config.agents[0].agent_name == rule.room_config.agents[0].agent_name
        assert message.room_config.agents[0].metadata == rule.room_config.agents[0].metadata
        assert message.rule.WhichOneof("rule") == "dispatch_rule_individual"
    assert [r.hide_phone_number for r in result.rules] == [True, False]
    decided, at_call_time = result.rules
    assert decided.attributes == {"trunkline.project_id": "proj", "trunkline.agent": "sales"}
    assert result.routes == {decided.name: {LONDON_DID: "sales"}}
    assert "trunkline.route_id" not in at_call_time.attributes, "the router decides at call time"
