from __future__ import annotations

from datetime import date

from routing.model import (
    AgentTarget,
    CallerMatch,
    DispatchOptions,
    FlowTarget,
    ForwardTarget,
    OpeningHours,
    RejectTarget,
    Schedule,
    ScheduleException,
    ScheduleMatch,
    VoicemailTarget,
    Weekday,
)
from routing.validate import Problem, has_errors, validate

from .builders import LONDON_DID, route, table

FLOWS = {"menu", "after-hours"}
AGENTS = {"sales", "support"}
MENU = FlowTarget(flow="menu")


def problems_of(*routes: object, **options: object) -> list[Problem]:
    routing_table = table(*routes, default=options.pop("default", MENU), **options)  # type: ignore[arg-type]
    return validate(routing_table, FLOWS, AGENTS)


def found(problems: list[Problem]) -> set[tuple[str | None, str, str]]:
    return {(p.route_id, p.field, p.severity) for p in problems}


def test_a_sound_table_has_no_problems() -> None:
    assert problems_of(route("a", AgentTarget(agent="sales"), numbers=[LONDON_DID], fallback=MENU)) == []


def test_targets_that_do_not_exist_are_errors_naming_route_and_field() -> None:
    problems = problems_of(
        route("a", AgentTarget(agent="salse"), numbers=[LONDON_DID], fallback=FlowTarget(flow="gone")),
        default=AgentTarget(agent="nobody"),
    )
    assert found(problems) == {
        ("a", "target.agent", "error"),
        ("a", "fallback.flow", "error"),
        (None, "default_target.agent", "error"),
    }
    message = next(p.message for p in problems if p.field == "target.agent")
    assert message == "route 'a': target.agent: agent 'salse' does not exist (known: sales, support)"
    assert has_errors(problems)


def test_invalid_numbers_are_errors_with_their_index() -> None:
    problems = problems_of(
        route("a", MENU, numbers=[LONDON_DID, "+15555550100", "+4420*"]),
        route("b", ForwardTarget(number="+4420"), number_ranges=[("+441614960000", "+441614969999")]),
    )
    assert found(problems) == {("a", "match.numbers[1]", "error"), ("b", "target.number", "error")}
    assert "NOT_VALID" in problems[0].message
    assert "5555550100" not in problems[0].message


def test_shadowed_routes_are_warned_about() -> None:
    problems = problems_of(
        route("wide", MENU, priority=1, numbers=["+4420*"]),
        route("narrow", AgentTarget(agent="sales"), priority=2, numbers=[LONDON_DID]),
        route(
            "range",
            AgentTarget(agent="sales"),
            priority=3,
            number_ranges=[("+442079460000", "+442079460099")],
        ),
        route("other", AgentTarget(agent="sales"), priority=4, numbers=["+4416*"]),
        route("conditional", MENU, priority=0, numbers=[LONDON_DID], caller=CallerMatch(prefixes=["+1*"])),
    )
    assert found(problems) == {("narrow", "match", "warning"), ("range", "match", "warning")}
    narrow = next(p for p in problems if p.route_id == "narrow")
    assert "shadowed by route 'wide' (priority 1)" in narrow.message
    assert "only runs when 'wide''s target and fallback are unavailable" in narrow.message


def test_a_route_behind_a_catch_all_reject_can_never_win() -> None:
    problems = problems_of(
        route("block", RejectTarget(reason="declined"), priority=1),
        route("sales", AgentTarget(agent="sales"), priority=2, trunks=["ST_a"]),
    )
    assert [p.message.endswith("this route can never win") for p in problems] == [True]


def test_conditions_that_narrow_a_route_prevent_shadowing() -> None:
    problems = problems_of(
        route("gold", AgentTarget(agent="sales"), priority=1, headers={"X-Tier": "gold"}),
        route("rest", MENU, priority=2),
        route("disabled", MENU, priority=0, enabled=False),
        route("trunk-a", MENU, priority=3, trunks=["ST_a"], headers={"x-tier": "gold"}),
    )
    assert found(problems) == {("trunk-a", "match", "warning")}


def test_schedules_that_never_open_or_never_close() -> None:
    closed = Schedule(timezone="UTC", exceptions=[ScheduleException(date=date(2025, 1, 1), closed=True)])
    every_day: list[Weekday] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    always = Schedule(timezone="UTC", weekly=[OpeningHours(days=every_day, open="00:00", close="24:00")])
    problems = problems_of(
        route("never", MENU, schedule=ScheduleMatch(schedule=closed)),
        route(
            "pointless", MENU, numbers=[LONDON_DID], schedule=ScheduleMatch(schedule=closed, when="closed")
        ),
        route("night", MENU, numbers=["+4416*"], schedule=ScheduleMatch(schedule=always, when="closed")),
    )
    assert found(problems) >= {
        ("never", "match.schedule", "warning"),
        ("pointless", "match.schedule", "warning"),
        ("night", "match.schedule", "warning"),
    }
    never = next(p for p in problems if p.route_id == "never")
    assert (
        never.message
        == "route 'never': match.schedule: the schedule never opens, so this route never matches"
    )


def test_duplicate_exception_dates_are_errors() -> None:
    schedule = Schedule(
        timezone="UTC",
        weekly=[OpeningHours(days=["mon"], open="09:00", close="17:00")],
        exceptions=[
            ScheduleException(date=date(2025, 12, 24), closed=True),
            ScheduleException(date=date(2025, 12, 24), open="09:00", close="12:00"),
        ],
    )
    problems = problems_of(route("a", MENU, schedule=ScheduleMatch(schedule=schedule)))
    assert found(problems) == {("a", "match.schedule.schedule.exceptions", "error")}


def test_caller_conditions_that_cannot_hold() -> None:
    problems = problems_of(
        route("a", MENU, caller=CallerMatch(withheld="only", prefixes=["+44*"])),
        route(
            "b", MENU, numbers=[LONDON_DID], caller=CallerMatch(countries=["XX"], allow=["+1*"], deny=["+1*"])
        ),
    )
    assert found(problems) == {
        ("a", "match.caller.withheld", "error"),
        ("b", "match.caller.countries[0]", "error"),
        ("b", "match.caller.deny", "warning"),
    }


def test_project_level_problems() -> None:
    problems = problems_of(
        route("dup", MENU, numbers=[LONDON_DID]),
        route("dup", MENU, numbers=["+4416*"]),
        default=None,
        region="ZZ",
        trunk_regions={"ST_x": "QQ"},
    )
    assert found(problems) == {
        (None, "default_region", "error"),
        (None, "trunk_regions.ST_x", "error"),
        (None, "default_target", "warning"),
        ("dup", "id", "error"),
    }


def test_fallback_and_dispatch_mistakes() -> None:
    problems = problems_of(
        route("same", MENU, numbers=[LONDON_DID], fallback=MENU),
        route("reject", RejectTarget(reason="busy"), numbers=["+4416*"], fallback=VoicemailTarget()),
        route("pin", MENU, numbers=["+4415*"], dispatch=DispatchOptions(pin="12a4")),
    )
    assert found(problems) == {
        ("same", "fallback", "warning"),
        ("reject", "fallback", "warning"),
        ("pin", "dispatch.pin", "error"),
    }
