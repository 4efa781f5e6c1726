"""The sync at scale, against the LiveKit stand-in: a change touches only what changed (LiveKit calls per change do
not grow with the project), full syncs page through LiveKit's lists, and routes with the same target share a
dispatch rule while each inbound call still learns its own route."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from gateway.livekit import sync_scope
from tests.integration.livekit.conftest import CALLER, Gateway, eventually
from tests.integration.livekit.test_sync import _rules

SIP = "livekit.SIP/"


def _did(n: int) -> str:
    return f"+1415555{n:04d}"


def _routes_to(gw: Gateway, agent: str, first: int, count: int) -> list[dict[str, Any]]:
    return [
        gw.create(
            "/v1/routes",
            {
                "name": f"line {n}",
                "match": {"numbers": [_did(n)]},
                "target": {"type": "agent", "agent": agent},
            },
        )
        for n in range(first, first + count)
    ]


def _setup(gw: Gateway, numbers: int) -> dict[str, Any]:
    trunk = gw.create(
        "/v1/trunks",
        {"direction": "inbound", "name": "carrier-in", "numbers": [_did(n) for n in range(numbers)]},
    )
    gw.create("/v1/agents", {"name": "sales", "instructions": "Sell."})
    gw.create("/v1/agents", {"name": "support", "instructions": "Help."})
    return trunk


def _one_change(gw: Gateway, route: dict[str, Any]) -> tuple[Counter[str], int]:
    """LiveKit calls (per method) and dispatch rules listed for one route moved to another agent."""
    gw.settle()
    before, listed = len(gw.livekit.requests), gw.livekit.listed_items[SIP + "ListSIPDispatchRule"]
    response = gw.http.patch(
        f"/v1/routes/{route['id']}", json={"target": {"type": "agent", "agent": "support"}}
    )
    assert response.status_code == 200, response.text
    gw.settle()
    return gw.livekit.request_counts(before), gw.livekit.listed_items[SIP + "ListSIPDispatchRule"] - listed


def test_one_changed_route_costs_the_same_livekit_calls_at_3_and_at_40_routes(gateway: Gateway) -> None:
    _setup(gateway, 40)
    small = _routes_to(gateway, "sales", 0, 3)
    _one_change(gateway, small[0])  # the support rule now exists: each measured change updates two rules
    assert len(_rules(gateway)) == 3, "3 routes: sales, support and the unrouted numbers' router rule"
    at_3, listed_at_3 = _one_change(gateway, small[1])
    _routes_to(gateway, "sales", 3, 37)
    gateway.settle()
    assert len(_rules(gateway)) == 2, "40 routes to 2 agents: 2 rules (one per target and trunk), not 40"
    large = gateway.get("/v1/routes", params={"limit": 200}).json()["items"]
    at_40, listed_at_40 = _one_change(gateway, next(r for r in large if r["name"] == "line 20"))

    assert at_3 == at_40, (at_3, at_40)
    assert at_40 == Counter({SIP + "ListSIPDispatchRule": 1, SIP + "UpdateSIPDispatchRule": 2}), (
        "the two changed rules fetched by id in one listing, then updated; no trunk listed"
    )
    assert listed_at_3 == listed_at_40 == 2, "only the changed rules are read back, not every rule"
    view = gateway.get("/v1/sync").json()
    assert view["in_sync"] is True, view["drift"]


def test_a_full_sync_pages_through_livekit_and_finds_everything(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync_scope, "PAGE_SIZE", 2)
    for n in range(5):
        gateway.create("/v1/trunks", {"direction": "inbound", "name": f"in-{n}", "numbers": [_did(n)]})
    gateway.settle()
    before = len(gateway.livekit.requests)
    report = gateway.sync()
    assert (report["status"], report["operations"]) == ("ok", []), "every trunk found across the pages"
    counts = gateway.livekit.request_counts(before)
    assert counts[SIP + "ListSIPInboundTrunk"] == 4, "6 trunks (5 and the bridge), 2 a page: 2+2+2+0"
    assert counts[SIP + "ListSIPDispatchRule"] == 1, "one rule (the bridge's, no routes yet): one short page"


def test_routes_sharing_a_rule_still_give_each_inbound_call_its_route_and_agent(gateway: Gateway) -> None:
    trunk = _setup(gateway, 2)
    first, second = _routes_to(gateway, "sales", 0, 2)
    gateway.settle()
    (shared,) = [r for r in _rules(gateway) if r.room_config.agents[0].agent_name == "sales"]
    assert sorted(shared.numbers) == [_did(0), _did(1)]
    assert "trunkline.route_id" not in shared.attributes

    agents = {a["name"]: a["id"] for a in gateway.get("/v1/agents").json()["items"]}
    for route in (second, first):
        number = route["match"]["numbers"][0]
        result = gateway.livekit.simulate_inbound_call(CALLER, number)
        assert result.outcome == "accepted"

        def recorded(sip_call_id: str = result.call_id) -> dict[str, Any]:
            items = gateway.get("/v1/calls", params={"direction": "inbound"}).json()["items"]
            found = [c for c in items if c["carrier_call_id"] == sip_call_id]
            assert len(found) == 1
            return dict(found[0])

        call = eventually(recorded)
        assert (call["to_number"], call["trunk_id"]) == (number, trunk["id"])
        assert (call["route_id"], call["agent_id"]) == (route["id"], agents["sales"])
