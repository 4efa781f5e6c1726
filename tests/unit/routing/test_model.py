from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest

from routing.model import (
    SIP_REJECT_STATUS,
    AgentTarget,
    ForwardTarget,
    RejectTarget,
    Route,
    RouteDecodeError,
    RouteQuery,
    route_from_json,
    routing_from_json,
    to_json,
)

FULL_ROUTE: dict[str, Any] = {
    "id": "sales-hours",
    "name": "Sales in office hours",
    "priority": 10,
    "enabled": True,
    "match": {
        "numbers": ["+442079460000", "+4420794601*"],
        "number_ranges": [["+442079460200", "+442079460299"]],
        "caller": {"prefixes": ["+44*"], "countries": ["GB"], "allow": [], "deny": ["+441614960000"]},
        "trunks": ["ST_main"],
        "headers": {"X-Campaign": "spring-*"},
        "schedule": {
            "schedule": {
                "timezone": "Europe/London",
                "weekly": [{"days": ["mon", "tue"], "open": "09:00", "close": "17:30"}],
                "holidays": ["2025-12-25"],
                "exceptions": [{"date": "2025-12-24", "open": "09:00", "close": "12:00"}],
            },
            "when": "open",
        },
    },
    "target": {"type": "agent", "agent": "sales", "overrides": {"voice": {"speed": 1.1}}},
    "fallback": {"type": "voicemail", "box": "sales"},
    "dispatch": {"kind": "callee", "room_prefix": "sales-"},
}


def test_a_full_route_round_trips_through_json() -> None:
    route = route_from_json(json.dumps(FULL_ROUTE))
    assert route.target == AgentTarget(agent="sales", overrides={"voice": {"speed": 1.1}})
    assert route_from_json(to_json(route)) == route
    assert route_from_json(FULL_ROUTE) == route


@pytest.mark.parametrize(
    ("patch", "path", "fragment"),
    [
        ({"target": {"type": "agent"}}, "$.target", "missing required field `agent`"),
        ({"target": {"type": "teleport"}}, "$.target.type", "Invalid value 'teleport'"),
        ({"target": {"type": "reject", "reason": "maybe"}}, "$.target.reason", "Invalid enum value"),
        ({"target": {"type": "forward"}}, "$.target", "exactly one of `number` or `sip_uri`"),
        ({"target": {"type": "forward", "sip_uri": "not a uri"}}, "$.target", "sip:user@host"),
        ({"priority": "high"}, "$.priority", "Expected `int`"),
        ({"colour": "red"}, "$", "unknown field `colour`"),
        ({"match": {"numbers": ["020 7946 0000"]}}, "$.match.numbers[0]", "matching regex"),
        ({"match": {"number_ranges": [["+442079460299", "+442079460200"]]}}, "$.match", "start is after end"),
        (
            {"match": {"number_ranges": [["+4420794602", "+442079460299"]]}},
            "$.match",
            "same number of digits",
        ),
        ({"match": {"caller": {"withheld": "sometimes"}}}, "$.match.caller.withheld", "Invalid enum"),
        ({"match": {"caller": {"countries": ["uk"]}}}, "$.match.caller.countries[0]", "matching regex"),
        (
            {"match": {"schedule": {"schedule": {"timezone": "Europe/Atlantis"}}}},
            "$.match.schedule.schedule",
            "unknown time zone 'Europe/Atlantis'",
        ),
        (
            {
                "match": {
                    "schedule": {
                        "schedule": {"timezone": "UTC", "weekly": [{"days": ["mon"], "open": "9am"}]}
                    }
                }
            },
            "$.match.schedule.schedule.weekly[0].open",
            "matching regex",
        ),
        (
            {
                "match": {
                    "schedule": {"schedule": {"timezone": "UTC", "exceptions": [{"date": "2025-01-01"}]}}
                }
            },
            "$.match.schedule.schedule.exceptions[0]",
            "`closed: true` or both `open` and `close`",
        ),
        ({"dispatch": {"kind": "direct"}}, "$.dispatch", "needs `room_name`"),
    ],
)
def test_malformed_routes_fail_with_a_json_path(patch: dict[str, Any], path: str, fragment: str) -> None:
    document = {"id": "r1", "target": {"type": "flow", "flow": "main"}} | patch
    with pytest.raises(RouteDecodeError) as error:
        route_from_json(json.dumps(document))
    assert error.value.path == path
    assert fragment in error.value.message


def test_invalid_json_text_is_a_decode_error_too() -> None:
    with pytest.raises(RouteDecodeError) as error:
        route_from_json(b"{not json")
    assert error.value.path == "$"


def test_a_project_table_decodes_with_defaults() -> None:
    table = routing_from_json(b'{"project_id": "p1"}')
    assert (table.default_region, table.routes, table.default_target) == ("US", [], None)
    with pytest.raises(RouteDecodeError) as error:
        routing_from_json(
            {"project_id": "p1", "routes": [{"id": "", "target": {"type": "flow", "flow": "x"}}]}
        )
    assert error.value.path == "$.routes[0].id"


def test_reject_reasons_map_to_sip_statuses() -> None:
    assert RejectTarget(reason="busy").sip_status == 486
    assert RejectTarget(reason="unavailable").sip_status == 480
    assert RejectTarget(reason="declined").sip_status == 603
    assert set(SIP_REJECT_STATUS) == {"busy", "unavailable", "declined"}


def test_forward_accepts_a_number_or_a_sip_uri() -> None:
    assert ForwardTarget(number="+442079460000").sip_uri is None
    assert ForwardTarget(sip_uri="sip:desk@pbx.example").number is None


def test_call_needs_an_aware_time_and_uses_from_on_the_wire() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        RouteQuery(to="+442079460000", at=datetime(2025, 1, 1))
    wire = msgspec.json.decode(to_json(RouteQuery(to="+1", from_="+2", at=datetime(2025, 1, 1, tzinfo=UTC))))
    assert wire["from"] == "+2"


def test_routes_are_immutable() -> None:
    route = route_from_json(FULL_ROUTE)
    with pytest.raises(AttributeError):
        route.priority = 1  # type: ignore[misc]
    assert isinstance(route, Route)
