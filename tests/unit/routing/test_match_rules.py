"""One rule kind at a time: does a route with only that condition take the call or not?"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from routing.model import (
    CallerMatch,
    FlowTarget,
    OpeningHours,
    RejectTarget,
    RouteQuery,
    Schedule,
    ScheduleMatch,
)
from routing.resolve import explain, resolve

from .builders import FR_CALLER, LONDON_DID, UK_CALLER, US_CALLER, call, route, table

HIT = FlowTarget(flow="hit")
MISS = RejectTarget(reason="declined")


def outcome(rule_options: dict[str, Any], the_call: RouteQuery) -> bool:
    """True when the route with `rule_options` takes the call (the default answers otherwise)."""
    routes = table(route("r", HIT, **rule_options), default=MISS)
    decision = resolve(routes, the_call)
    assert explain(routes, the_call).target == decision.target
    return decision.target == HIT


@pytest.mark.parametrize(
    ("numbers", "to", "expected"),
    [
        (["+442079460000"], "+442079460000", True),
        (["+442079460000"], "+442079460001", False),
        (["+442079460000"], "020 7946 0000", True),
        (["+4420794600*"], "+442079460042", True),
        (["+4420794600*"], "+442079460142", False),
        (["+44*"], "+12015550123", False),
        (["+442079460001", "+4416*"], "+441614960000", True),
    ],
)
def test_dialled_number_exact_and_prefix(numbers: list[str], to: str, expected: bool) -> None:
    assert outcome({"numbers": numbers}, call(to=to)) is expected


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("+442079460200", True),
        ("+442079460250", True),
        ("+442079460299", True),
        ("+442079460300", False),
        ("+442079460199", False),
        ("+44207946025", False),
    ],
)
def test_dialled_number_ranges_are_inclusive_and_length_exact(to: str, expected: bool) -> None:
    ranges = [("+442079460200", "+442079460299")]
    assert outcome({"number_ranges": ranges}, call(to=to)) is expected


def test_national_dialled_numbers_use_the_trunk_region_before_the_project_region() -> None:
    routes = table(route("r", HIT, numbers=["+12015550123"]), region="GB", trunk_regions={"ST_us": "US"})
    assert resolve(routes, call(to="(201) 555-0123", trunk="ST_us")).target == HIT
    uk_reading = resolve(routes, call(to="(201) 555-0123", trunk="ST_uk"))
    assert uk_reading.route_id is None


@pytest.mark.parametrize(
    ("caller", "from_", "expected"),
    [
        (CallerMatch(prefixes=["+44*"]), UK_CALLER, True),
        (CallerMatch(prefixes=["+44*"]), US_CALLER, False),
        (CallerMatch(prefixes=["+44*"]), "0161 496 0000", True),  # national, read in the project region
        (CallerMatch(countries=["FR"]), FR_CALLER, True),
        (CallerMatch(countries=["CA"]), "+15147654321", True),
        (CallerMatch(countries=["CA"]), US_CALLER, False),
        (CallerMatch(allow=[US_CALLER]), US_CALLER, True),
        (CallerMatch(allow=[US_CALLER]), UK_CALLER, False),
        (CallerMatch(deny=[US_CALLER]), US_CALLER, False),
        (CallerMatch(deny=["+1*"]), UK_CALLER, True),
        (CallerMatch(prefixes=["+1*"], deny=[US_CALLER]), US_CALLER, False),
        (CallerMatch(prefixes=["+44*"], countries=["FR"]), FR_CALLER, True),
        (CallerMatch(prefixes=["+44*"]), "garbage", False),
    ],
)
def test_caller_conditions(caller: CallerMatch, from_: str, expected: bool) -> None:
    assert outcome({"caller": caller}, call(from_=from_)) is expected


@pytest.mark.parametrize(
    ("withheld", "prefixes", "from_", "expected"),
    [
        ("any", [], "anonymous", True),
        ("any", ["+44*"], "anonymous", False),
        ("only", [], "anonymous", True),
        ("only", [], "+266696687", True),
        ("only", [], UK_CALLER, False),
        ("exclude", [], "", False),
        ("exclude", [], "restricted", False),
        ("exclude", [], UK_CALLER, True),
    ],
)
def test_withheld_callers(withheld: str, prefixes: list[str], from_: str, expected: bool) -> None:
    caller = CallerMatch(withheld=withheld, prefixes=prefixes)  # type: ignore[arg-type]
    assert outcome({"caller": caller}, call(from_=from_)) is expected


@pytest.mark.parametrize(
    ("trunk", "expected"), [("ST_a", True), ("ST_b", True), ("ST_c", False), (None, False)]
)
def test_trunks(trunk: str | None, expected: bool) -> None:
    assert outcome({"trunks": ["ST_a", "ST_b"]}, call(trunk=trunk)) is expected


@pytest.mark.parametrize(
    ("rule", "headers", "expected"),
    [
        ({"X-Campaign": "spring"}, {"X-Campaign": "spring"}, True),
        ({"X-Campaign": "spring"}, {"x-campaign": "spring"}, True),
        ({"x-campaign": "spring"}, {"X-CAMPAIGN": "spring"}, True),
        ({"X-Campaign": "spring"}, {"X-Campaign": "Spring"}, False),
        ({"X-Campaign": "spring-*"}, {"X-Campaign": "spring-2025"}, True),
        ({"X-Campaign": "spring-*"}, {"X-Campaign": "autumn-2025"}, False),
        ({"X-Tier": "gold", "X-Lang": "en"}, {"X-Tier": "gold"}, False),
        ({"X-Tier": "gold"}, {}, False),
    ],
)
def test_sip_headers(rule: dict[str, str], headers: dict[str, str], expected: bool) -> None:
    assert outcome({"headers": rule}, call(headers=headers)) is expected


def test_schedule_open_and_closed() -> None:
    hours = Schedule(
        timezone="Europe/London", weekly=[OpeningHours(days=["wed"], open="09:00", close="17:00")]
    )
    in_hours = call(at=datetime(2025, 6, 11, 10, 0, tzinfo=UTC))  # Wednesday 11:00 BST
    after_hours = call(at=datetime(2025, 6, 11, 16, 30, tzinfo=UTC))  # 17:30 BST
    assert outcome({"schedule": ScheduleMatch(schedule=hours)}, in_hours)
    assert not outcome({"schedule": ScheduleMatch(schedule=hours)}, after_hours)
    assert outcome({"schedule": ScheduleMatch(schedule=hours, when="closed")}, after_hours)
    assert not outcome({"schedule": ScheduleMatch(schedule=hours, when="closed")}, in_hours)


def test_all_conditions_must_hold() -> None:
    options = {"numbers": [LONDON_DID], "trunks": ["ST_a"], "caller": CallerMatch(prefixes=["+44*"])}
    assert outcome(options, call(trunk="ST_a"))
    assert not outcome(options, call(trunk="ST_a", from_=US_CALLER))
    assert not outcome(options, call(trunk="ST_b"))
    assert not outcome(options, call(to="+442079460001", trunk="ST_a"))


def test_an_empty_match_takes_every_call() -> None:
    assert outcome({}, call())
    assert outcome({}, call(to="not a number", from_=""))
