"""The incremental route check (`check_route`, `shadowed_by`, through `RouteNeighbours`) says exactly what the full,
pairwise check says, over generated tables (hypothesis)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from routing.matching import CompiledRoute
from routing.model import (
    AgentTarget,
    FlowTarget,
    Match,
    OpeningHours,
    ProjectRouting,
    RejectTarget,
    Route,
    Schedule,
    ScheduleMatch,
)
from routing.neighbours import RouteNeighbours
from routing.validate import Problem, _covers, check_route, shadowed_by, validate

FLOWS = {"menu"}
AGENTS = {"sales"}
NUMBERS = [f"+4420794600{n:02d}" for n in (0, 5, 9, 10, 19, 20, 99)] + ["+14155550100", "+14155550199"]
PREFIXES = ["+1*", "+4*", "+44*", "+4420*", "+442079460*", "+4420794600*", "+44207946001*", "+9*", "+99*"]
RANGES = [
    ("+442079460000", "+442079460009"),
    ("+442079460000", "+442079460099"),
    ("+442079460010", "+442079460020"),
    ("+14155550100", "+14155550199"),
]
NEVER_OPEN = Schedule(timezone="Europe/London")
HOURS = Schedule(
    timezone="Europe/London", weekly=[OpeningHours(days=["mon", "tue"], open="09:00", close="17:00")]
)

matches = st.builds(
    Match,
    numbers=st.lists(st.sampled_from([*NUMBERS, *PREFIXES]), max_size=3),
    number_ranges=st.lists(st.sampled_from(RANGES), max_size=2),
    trunks=st.lists(st.sampled_from(["ST_a", "ST_b"]), max_size=1, unique=True),
    headers=st.dictionaries(st.sampled_from(["X-Tier"]), st.sampled_from(["gold"]), max_size=1),
    schedule=st.none()
    | st.builds(
        ScheduleMatch, schedule=st.sampled_from([NEVER_OPEN, HOURS]), when=st.sampled_from(["open", "closed"])
    ),
)
targets = st.sampled_from(
    [
        AgentTarget(agent="sales"),
        AgentTarget(agent="gone"),
        FlowTarget(flow="menu"),
        RejectTarget(reason="busy"),
    ]
)


@st.composite
def routes(draw: st.DrawFn, route_id: str) -> Route:
    return Route(
        id=route_id,
        priority=draw(st.integers(0, 3)),
        enabled=draw(st.booleans()),
        match=draw(matches),
        target=draw(targets),
        fallback=draw(st.none() | targets),
    )


@st.composite
def tables(draw: st.DrawFn) -> ProjectRouting:
    count = draw(st.integers(0, 12))
    return ProjectRouting(project_id="p", routes=[draw(routes(f"r{i:02d}")) for i in range(count)])


def pairwise_shadowing(table: ProjectRouting) -> list[Problem]:
    """The shadowing check as it was: every enabled route against every earlier one."""
    compiled = sorted(
        (CompiledRoute(route, i) for i, route in enumerate(table.routes)), key=lambda r: r.sort_key
    )
    enabled = [route for route in compiled if route.enabled]
    found = []
    for position, later in enumerate(enabled):
        for earlier in enabled[:position]:
            if _covers(earlier, later):
                found.append(later.id)
                break
    return [p for p in validate(table, FLOWS, AGENTS) if p.field == "match" and p.route_id in found]


@settings(max_examples=400, deadline=None)
@given(tables())
def test_full_validation_finds_the_same_shadows_as_comparing_every_pair(table: ProjectRouting) -> None:
    reported = [p for p in validate(table, FLOWS, AGENTS) if p.field == "match" and "shadowed" in p.message]
    expected = pairwise_shadowing(table)
    assert [p.route_id for p in reported] == [p.route_id for p in expected]
    compiled = {r.id: CompiledRoute(r, i) for i, r in enumerate(table.routes)}
    for problem in reported:
        assert problem.route_id is not None
        later = compiled[problem.route_id]
        earlier = [
            other
            for other in sorted(compiled.values(), key=lambda r: r.sort_key)
            if other.enabled and other.sort_key < later.sort_key and _covers(other, later)
        ]
        assert f"route {earlier[0].id!r}" in problem.message


@settings(max_examples=300, deadline=None)
@given(tables(), st.data())
def test_checking_one_route_gives_what_the_whole_table_gives_for_it(
    table: ProjectRouting, data: st.DataObject
) -> None:
    """A save: `route` replaces (or joins) the stored routes; only its own problems come back."""
    route = data.draw(routes(data.draw(st.sampled_from([r.id for r in table.routes] + ["new"]))))
    stored = RouteNeighbours(table.routes)
    saved = [r for r in table.routes if r.id != route.id] + [route]
    full = validate(ProjectRouting(project_id="p", routes=saved), FLOWS, AGENTS)
    assert check_route(route, stored, FLOWS, AGENTS) == [p for p in full if p.route_id == route.id]


@settings(max_examples=300, deadline=None)
@given(tables(), st.data())
def test_the_routes_a_saved_route_shadows_are_found_through_the_index(
    table: ProjectRouting, data: st.DataObject
) -> None:
    route = data.draw(routes(data.draw(st.sampled_from([r.id for r in table.routes] + ["new"]))))
    stored = RouteNeighbours(table.routes)
    mine = stored.compile(route)
    others = sorted(
        (CompiledRoute(r, i) for i, r in enumerate(table.routes) if r.id != route.id),
        key=lambda r: r.sort_key,
    )
    expected = [
        other.id
        for other in others
        if route.enabled and other.enabled and other.sort_key > mine.sort_key and _covers(mine, other)
    ]
    assert shadowed_by(route, stored) == expected


@settings(max_examples=200, deadline=None)
@given(tables(), st.lists(st.tuples(st.booleans(), st.integers(0, 14)), max_size=20), st.data())
def test_an_index_changed_route_by_route_answers_like_one_built_afresh(
    table: ProjectRouting, changes: list[tuple[bool, int]], data: st.DataObject
) -> None:
    changed = RouteNeighbours(table.routes)
    current = {r.id: r for r in table.routes}
    for put, number in changes:
        route_id = f"r{number:02d}"
        if put:
            current[route_id] = data.draw(routes(route_id))
            changed.put(current[route_id])
        else:
            current.pop(route_id, None)
            changed.remove(route_id)
    fresh = RouteNeighbours(current.values())
    assert len(changed) == len(fresh) == len(current)
    probe = data.draw(routes("probe"))
    assert check_route(probe, changed, FLOWS, AGENTS) == check_route(probe, fresh, FLOWS, AGENTS)
    assert shadowed_by(probe, changed) == shadowed_by(probe, fresh)
    compiled = changed.compile(probe)
    assert [r.id for r in changed.covering(compiled)] == [r.id for r in fresh.covering(compiled)]
    assert [r.id for r in changed.covered(compiled)] == [r.id for r in fresh.covered(compiled)]


def test_a_table_of_ten_thousand_routes_checks_a_route_against_its_neighbours_only() -> None:
    stored = RouteNeighbours(
        Route(id=f"r{i:05d}", match=Match(numbers=[f"+1415{i:07d}"]), target=FlowTarget(flow="menu"))
        for i in range(10_000)
    )
    mine = Route(id="new", priority=1, match=Match(numbers=["+14150000042"]), target=FlowTarget(flow="menu"))
    compiled = stored.compile(mine)
    assert [r.id for r in stored.covering(compiled)] == ["r00042"]
    assert shadowed_by(mine, stored) == ["r00042"]
    wide = Route(
        id="wide", priority=1, match=Match(numbers=["+1415000001*"]), target=RejectTarget(reason="busy")
    )
    assert len(shadowed_by(wide, stored)) == 10
