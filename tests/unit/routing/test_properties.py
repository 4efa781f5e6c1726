"""Invariants of `resolve`, over generated tables and calls (hypothesis)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.compile import compile_dispatch
from routing.dispatch import decode_dispatch_metadata
from routing.index import build_index
from routing.model import (
    AgentTarget,
    CallerMatch,
    Decision,
    FlowTarget,
    ForwardTarget,
    Match,
    OpeningHours,
    ProjectRouting,
    RejectTarget,
    Route,
    RouteQuery,
    Schedule,
    ScheduleMatch,
    Target,
    VoicemailTarget,
)
from routing.resolve import explain, resolve
from routing.validate import validate

DIDS = [f"+4420794600{n:02d}" for n in range(0, 40, 7)]
CALLERS = ["+441614960000", "+12015550123", "+33612345678", "+15147654321", "anonymous", "", "junk"]
TRUNKS = ["ST_a", "ST_b"]
SCHEDULE = Schedule(
    timezone="Europe/London",
    weekly=[OpeningHours(days=["mon", "tue", "wed", "thu", "fri"], open="09:00", close="17:30")],
)

targets: st.SearchStrategy[Target] = st.sampled_from(
    [
        AgentTarget(agent="sales"),
        AgentTarget(agent="support", overrides={"lang": "fr"}),
        FlowTarget(flow="menu"),
        ForwardTarget(number="+442079460999"),
        VoicemailTarget(),
        RejectTarget(reason="busy"),
    ]
)
callers = st.none() | st.builds(
    CallerMatch,
    prefixes=st.lists(st.sampled_from(["+44*", "+1*", "+4416*"]), max_size=2),
    countries=st.lists(st.sampled_from(["GB", "FR", "CA"]), max_size=1),
    deny=st.lists(st.sampled_from(["+12015550123", "+33*"]), max_size=1),
    withheld=st.sampled_from(["any", "only", "exclude"]),
)
matches = st.builds(
    Match,
    numbers=st.lists(st.sampled_from([*DIDS, "+4420794600*", "+442079460*", "+1*"]), max_size=3),
    number_ranges=st.lists(st.sampled_from([("+442079460000", "+442079460020")]), max_size=1),
    caller=callers,
    trunks=st.lists(st.sampled_from(TRUNKS), max_size=1),
    headers=st.dictionaries(st.sampled_from(["X-Tier"]), st.sampled_from(["gold", "g*"]), max_size=1),
    schedule=st.none()
    | st.builds(ScheduleMatch, schedule=st.just(SCHEDULE), when=st.sampled_from(["open", "closed"])),
)


@st.composite
def tables(draw: st.DrawFn) -> ProjectRouting:
    count = draw(st.integers(0, 7))
    routes = [
        Route(
            id=f"r{i}",
            priority=draw(st.integers(0, 4)),
            enabled=draw(st.booleans()),
            match=draw(matches),
            target=draw(targets),
            fallback=draw(st.none() | targets),
        )
        for i in range(count)
    ]
    return ProjectRouting(
        project_id="p", default_region="GB", default_target=draw(st.none() | targets), routes=routes
    )


calls = st.builds(
    RouteQuery,
    to=st.sampled_from([*DIDS, "+442079460003", "020 7946 0014", "+12015550123", "12", "not a number"]),
    from_=st.sampled_from(CALLERS),
    trunk=st.none() | st.sampled_from(TRUNKS),
    headers=st.dictionaries(
        st.sampled_from(["X-Tier", "x-tier"]), st.sampled_from(["gold", "green"]), max_size=1
    ),
    at=st.integers(0, 14 * 24 * 60).map(lambda m: datetime(2025, 3, 24, tzinfo=UTC) + timedelta(minutes=m)),
)
unavailable_sets = st.frozensets(
    st.sampled_from(["livekit", "agent:sales", "flow:menu", "voicemail", "forward"])
)


def essence(decision: Decision) -> tuple[object, ...]:
    return (decision.target, decision.route_id, decision.used_fallback, decision.reason)


@settings(max_examples=300, deadline=None)
@given(tables(), calls, unavailable_sets)
def test_resolve_is_deterministic_and_independent_of_storage_order(
    table: ProjectRouting, call: RouteQuery, unavailable: frozenset[str]
) -> None:
    decision = resolve(table, call, unavailable=unavailable)
    assert resolve(table, call, unavailable=unavailable) == decision
    shuffled = list(table.routes)
    random.Random(len(shuffled)).shuffle(shuffled)
    reordered = ProjectRouting(
        project_id="p", default_region="GB", default_target=table.default_target, routes=shuffled
    )
    assert essence(resolve(reordered, call, unavailable=unavailable)) == essence(decision)


@settings(max_examples=300, deadline=None)
@given(tables(), calls, unavailable_sets)
def test_every_call_gets_a_decision_and_the_index_agrees_with_a_full_scan(
    table: ProjectRouting, call: RouteQuery, unavailable: frozenset[str]
) -> None:
    indexed = build_index([table]).resolve("p", call, unavailable=unavailable)
    scanned = explain(table, call, unavailable=unavailable)
    assert essence(indexed) == essence(scanned)
    assert {entry.route_id for entry in indexed.trace} <= {entry.route_id for entry in scanned.trace}
    assert len(scanned.trace) == len(table.routes)


@settings(max_examples=300, deadline=None)
@given(tables(), calls, unavailable_sets)
def test_priority_is_respected(table: ProjectRouting, call: RouteQuery, unavailable: frozenset[str]) -> None:
    decision = explain(table, call, unavailable=unavailable)
    by_id = {route.id: route for route in table.routes}
    outcomes = [entry.outcome for entry in decision.trace]
    if decision.route_id is None:
        assert "matched" not in outcomes
        return
    winner = by_id[decision.route_id]
    position = outcomes.index("matched")
    assert decision.trace[position].route_id == winner.id
    for entry in decision.trace[:position]:
        assert entry.outcome in ("skipped", "disabled", "unavailable")
        assert (by_id[entry.route_id].priority, entry.route_id) <= (winner.priority, winner.id)
    for entry in decision.trace[position + 1 :]:
        assert entry.outcome in ("lost", "disabled")
        assert (by_id[entry.route_id].priority, entry.route_id) >= (winner.priority, winner.id)


@settings(max_examples=300, deadline=None)
@given(tables(), calls, unavailable_sets, matches, targets, st.integers(-1, 5))
def test_an_added_rule_that_does_not_match_never_changes_the_decision(
    table: ProjectRouting,
    call: RouteQuery,
    unavailable: frozenset[str],
    match: Match,
    target: Target,
    priority: int,
) -> None:
    extra = Route(id="extra", priority=priority, match=match, target=target)
    bigger = ProjectRouting(
        project_id="p",
        default_region="GB",
        default_target=table.default_target,
        routes=[*table.routes, extra],
    )
    with_extra = explain(bigger, call, unavailable=unavailable)
    extra_outcome = next(entry.outcome for entry in with_extra.trace if entry.route_id == "extra")
    if extra_outcome in ("skipped", "lost"):
        assert essence(with_extra) == essence(resolve(table, call, unavailable=unavailable))
    else:
        assert extra_outcome in ("matched", "unavailable")


@settings(max_examples=200, deadline=None)
@given(
    tables(),
    st.text(max_size=20),
    st.text(max_size=20),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5)),
)
def test_arbitrary_text_in_a_call_never_raises(
    table: ProjectRouting, to: str, from_: str, headers: dict[str, str]
) -> None:
    call = RouteQuery(to=to, from_=from_, headers=headers, at=datetime(2025, 1, 1, tzinfo=UTC))
    decision = resolve(table, call)
    assert decision.target is not None
    assert decision.reason


@settings(max_examples=300, deadline=None)
@given(matches, matches, calls)
def test_a_route_reported_as_shadowed_never_matches_a_call_its_shadow_misses(
    first: Match, second: Match, call: RouteQuery
) -> None:
    earlier = Route(id="a", priority=1, match=first, target=FlowTarget(flow="menu"))
    later = Route(id="b", priority=2, match=second, target=FlowTarget(flow="menu"))
    table = ProjectRouting(project_id="p", default_region="GB", routes=[earlier, later])
    problems = validate(table, {"menu"}, set())
    if not any(p.route_id == "b" and p.field == "match" for p in problems):
        return
    only_later = ProjectRouting(project_id="p", default_region="GB", routes=[later])
    only_earlier = ProjectRouting(project_id="p", default_region="GB", routes=[earlier])
    if resolve(only_later, call).route_id == "b":
        assert resolve(only_earlier, call).route_id == "a"


@settings(max_examples=200, deadline=None)
@given(tables(), st.lists(st.sampled_from([*DIDS, "+442079460003"]), min_size=1, max_size=4), calls)
def test_rules_decided_at_compile_time_agree_with_resolve(
    table: ProjectRouting, numbers: list[str], call: RouteQuery
) -> None:
    compiled = compile_dispatch(table, {"ST_a": numbers}, router_agent="router")
    for rule in compiled.rules:
        assert rule.room_config is not None
        metadata = decode_dispatch_metadata(rule.room_config.agents[0].metadata)
        if metadata.mode != "target":
            continue
        for number in rule.numbers:
            at_call_time = resolve(
                table, RouteQuery(to=number, from_=call.from_, trunk="ST_a", headers=call.headers, at=call.at)
            )
            decided = compiled.routes.get(rule.name, {}).get(number)
            assert (at_call_time.target, at_call_time.route_id) == (metadata.target, decided)
