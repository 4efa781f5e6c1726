from __future__ import annotations

import pytest

from routing.index import UnknownProject, build_index
from routing.matching import requirements
from routing.model import (
    AgentTarget,
    CallerMatch,
    FlowTarget,
    ForwardTarget,
    ProjectRouting,
    RejectTarget,
    VoicemailTarget,
)
from routing.resolve import explain, resolve

from .builders import LONDON_DID, UK_CALLER, US_CALLER, call, route, table

SALES = AgentTarget(agent="sales")
MENU = FlowTarget(flow="menu")
VOICEMAIL = VoicemailTarget(box="sales")


def outcomes(decision_trace: tuple[object, ...]) -> list[tuple[str, str]]:
    return [(entry.route_id, entry.outcome) for entry in decision_trace]  # type: ignore[attr-defined]


def test_lower_priority_number_runs_first() -> None:
    routes = table(route("late", SALES, priority=20), route("early", MENU, priority=10))
    decision = resolve(routes, call())
    assert (decision.target, decision.route_id) == (MENU, "early")
    assert outcomes(decision.trace) == [("early", "matched"), ("late", "lost")]
    assert decision.trace[1].why == "route 'early' (priority 10) won first"


def test_equal_priorities_are_broken_by_id() -> None:
    routes = table(route("b", SALES, priority=5), route("a", MENU, priority=5))
    assert resolve(routes, call()).route_id == "a"


def test_skipped_routes_say_why() -> None:
    routes = table(
        route("uk-only", MENU, priority=1, caller=CallerMatch(prefixes=["+44*"])),
        route("rest", SALES, priority=2),
    )
    decision = resolve(routes, call(from_=US_CALLER))
    assert decision.route_id == "rest"
    assert decision.trace[0].outcome == "skipped"
    assert decision.trace[0].why == "caller not in route's prefixes, countries or allow list"


def test_disabled_routes_are_traced_and_never_win() -> None:
    routes = table(route("off", MENU, priority=1, enabled=False), route("on", SALES, priority=2))
    decision = resolve(routes, call())
    assert decision.route_id == "on"
    assert outcomes(decision.trace) == [("off", "disabled"), ("on", "matched")]


def test_fallback_when_the_target_is_unavailable() -> None:
    routes = table(route("sales", SALES, fallback=VOICEMAIL))
    for missing in ("livekit", "agent:sales"):
        decision = resolve(routes, call(), unavailable=frozenset({missing}))
        assert (decision.target, decision.route_id, decision.used_fallback) == (VOICEMAIL, "sales", True)
        assert "agent:sales unavailable, used fallback" in decision.reason
    assert not resolve(routes, call(), unavailable=frozenset({"agent:support"})).used_fallback


def test_unavailable_route_without_usable_fallback_gives_way_to_the_next() -> None:
    routes = table(
        route("sales", SALES, priority=1, fallback=AgentTarget(agent="backup")),
        route("menu", MENU, priority=2),
    )
    decision = resolve(routes, call(), unavailable=frozenset({"livekit"}))
    assert decision.route_id == "menu"
    assert outcomes(decision.trace) == [("sales", "unavailable"), ("menu", "matched")]
    assert decision.trace[0].why.endswith("fallback agent:backup unavailable")


def test_project_default_when_nothing_matches() -> None:
    routes = table(route("other", SALES, numbers=["+442079460001"]), default=MENU)
    decision = resolve(routes, call())
    assert (decision.target, decision.route_id, decision.reason) == (
        MENU,
        None,
        "no route matched; project default",
    )


def test_no_match_without_default_is_a_defined_reject() -> None:
    decision = resolve(table(route("other", SALES, numbers=["+442079460001"])), call())
    assert decision.target == RejectTarget(reason="unavailable")
    assert (decision.route_id, decision.reason) == (None, "no route matched")


def test_unavailable_default_falls_through_to_the_reject() -> None:
    routes = table(route("sales", SALES), default=AgentTarget(agent="operator"))
    decision = resolve(routes, call(), unavailable=frozenset({"livekit"}))
    assert decision.target == RejectTarget(reason="unavailable")
    assert decision.reason == "no available route matched; project default agent:operator unavailable"


def test_an_empty_table_still_answers() -> None:
    assert resolve(table(), call()).target == RejectTarget(reason="unavailable")


def test_invalid_dialled_number_only_reaches_number_free_routes() -> None:
    routes = table(
        route("did", SALES, numbers=["+44*"]), route("withheld", MENU, caller=CallerMatch(withheld="only"))
    )
    decision = resolve(routes, call(to="12"))
    assert decision.route_id is None
    assert decision.reason == "no route matched (dialled number invalid: TOO_SHORT)"
    assert resolve(routes, call(to="12", from_="anonymous")).route_id == "withheld"


def test_reject_and_forward_targets_are_returned_as_decided() -> None:
    busy = RejectTarget(reason="busy")
    forward = ForwardTarget(sip_uri="sip:desk@pbx.example")
    routes = table(
        route("busy", busy, priority=1, caller=CallerMatch(allow=[US_CALLER])),
        route("fwd", forward, priority=2),
    )
    assert resolve(routes, call(from_=US_CALLER)).target.sip_status == 486  # type: ignore[union-attr]
    assert resolve(routes, call()).target == forward
    assert requirements(busy) == frozenset()


def test_traces_never_contain_phone_numbers_or_header_values() -> None:
    routes = table(
        route("a", SALES, priority=1, headers={"X-Account": "12345"}),
        route("b", MENU, priority=2, caller=CallerMatch(deny=[UK_CALLER])),
        route("c", VOICEMAIL, priority=3, numbers=[LONDON_DID]),
    )
    decision = explain(routes, call(headers={"X-Account": "99999"}))
    text = decision.reason + " ".join(entry.why for entry in decision.trace)
    for secret in ("99999", "12345", UK_CALLER[3:], LONDON_DID[3:]):
        assert secret not in text


def test_explain_traces_every_route_and_agrees_with_resolve() -> None:
    routes = table(
        route("far", SALES, numbers=["+1*"]),
        route("near", MENU, numbers=["+4420*"]),
    )
    resolved, explained = resolve(routes, call()), explain(routes, call())
    assert outcomes(resolved.trace) == [("near", "matched")]
    assert outcomes(explained.trace) == [("far", "skipped"), ("near", "matched")]
    assert (resolved.target, resolved.route_id) == (explained.target, explained.route_id)


def test_index_resolves_per_project_and_can_replace_one() -> None:
    first = table(route("a", SALES))
    second = ProjectRouting(project_id="other", routes=[route("b", MENU)])
    index = build_index([first, second])
    assert index.resolve("proj", call()).route_id == "a"
    assert index.resolve("other", call()).route_id == "b"
    with pytest.raises(UnknownProject):
        index.resolve("nobody", call())
    updated = index.with_project(table(route("c", VOICEMAIL)))
    assert updated.resolve("proj", call()).route_id == "c"
    assert index.resolve("proj", call()).route_id == "a"
    assert "proj" not in updated.without_project("proj")


def test_precomputed_and_evaluated_decisions_are_identical() -> None:
    routes = table(
        route("off", MENU, priority=1, enabled=False, numbers=[LONDON_DID]),
        route("plain", SALES, priority=2, numbers=[LONDON_DID], fallback=VOICEMAIL),
        route("wide", MENU, priority=3, numbers=["+44*"]),
    )
    index = build_index([routes]).project("proj")
    static = index.resolve(call())
    assert index.resolve(call()) is static
    evaluated = index.resolve(call(to="020 7946 0000"))
    assert evaluated == static
    assert outcomes(static.trace) == [("off", "disabled"), ("plain", "matched"), ("wide", "lost")]
    with_outage = index.resolve(call(), frozenset({"livekit"}))
    assert (with_outage.target, with_outage.used_fallback) == (VOICEMAIL, True)
    unrelated_outage = index.resolve(call(), frozenset({"voicemail"}))
    assert unrelated_outage is static
