"""Routes through the API: validation on save, the dry-run resolver with its trace, compiled dispatch rules."""

from __future__ import annotations

import json
import subprocess
import sys

from gateway.settings import Settings
from tests.conftest import Api, env_of

FLOW = b"start: hi\nsteps:\n  hi:\n    type: say\n    text: Hello.\n    next: bye\n  bye:\n    type: hangup\n"
HOURS = {
    "timezone": "Europe/London",
    "weekly": [{"days": ["mon", "tue", "wed", "thu", "fri"], "open": "09:00", "close": "17:00"}],
    "holidays": ["2026-12-25"],
}


def _setup(api: Api) -> dict[str, str]:
    assert api.put("/v1/flows/after_hours", content=FLOW).status_code == 200
    api.create("/v1/agents", {"name": "sales"})
    trunk = api.create(
        "/v1/trunks",
        {"direction": "inbound", "name": "uk", "numbers": ["+442079460018"], "default_region": "GB"},
    )
    open_route = api.create(
        "/v1/routes",
        {
            "name": "open",
            "priority": 10,
            "target": {"type": "agent", "agent": "sales"},
            "fallback": {"type": "flow", "flow": "after_hours"},
            "match": {"numbers": ["+442079460018"], "schedule": {"schedule": HOURS, "when": "open"}},
        },
    )
    closed_route = api.create(
        "/v1/routes",
        {
            "name": "closed",
            "priority": 20,
            "target": {"type": "flow", "flow": "after_hours"},
            "match": {"numbers": ["+442079460018"]},
        },
    )
    return {"trunk": trunk["id"], "open": open_route["id"], "closed": closed_route["id"]}


def test_resolve_explains_the_decision(api: Api) -> None:
    ids = _setup(api)
    weekday = api.post(
        "/v1/routes/resolve",
        json={
            "to": "020 7946 0018",
            "from": "+14155550100",
            "trunk_id": ids["trunk"],
            "at": "2026-11-23T10:00:00Z",
        },
    ).json()
    assert weekday["target"] == {"type": "agent", "agent": "sales", "overrides": {}}
    assert weekday["route_id"] == ids["open"]
    outcomes = {entry["route_id"]: entry["outcome"] for entry in weekday["trace"]}
    assert outcomes == {ids["open"]: "matched", ids["closed"]: "lost"}

    christmas = api.post(
        "/v1/routes/resolve", json={"to": "+442079460018", "at": "2026-12-25T10:00:00Z"}
    ).json()
    assert christmas["target"] == {"type": "flow", "flow": "after_hours"}
    assert christmas["route_id"] == ids["closed"]

    down = api.post(
        "/v1/routes/resolve",
        json={"to": "+442079460018", "at": "2026-11-23T10:00:00Z", "unavailable": ["agent:sales"]},
    ).json()
    assert down["target"] == {"type": "flow", "flow": "after_hours"}
    assert down["used_fallback"] is True


def test_nothing_matches_still_gets_an_answer(api: Api) -> None:
    decision = api.post("/v1/routes/resolve", json={"to": "+14155550199"}).json()
    assert decision["target"]["type"] == "reject"
    assert decision["route_id"] is None
    assert "no route" in decision["reason"]


def test_malformed_dialled_number_is_a_clear_error(api: Api) -> None:
    response = api.post("/v1/routes/resolve", json={"to": "not-a-number", "at": "2026-11-23T10:00:00Z"})
    assert response.status_code == 200
    decision = response.json()
    assert decision["target"] == {"type": "reject", "reason": "unavailable"}
    assert "NOT_A_NUMBER" in decision["reason"]


def test_routes_naming_missing_targets_are_refused(api: Api) -> None:
    before = api.get("/v1/routes").json()
    missing = api.post("/v1/routes", json={"name": "x", "target": {"type": "agent", "agent": "ghost"}})
    assert missing.status_code == 422
    assert missing.json()["field"] == "target.agent"
    assert "ghost" in missing.json()["detail"]
    assert api.get("/v1/routes").json() == before


def test_shadowed_route_is_saved_with_a_warning(api: Api) -> None:
    _setup(api)
    shadowed = api.create(
        "/v1/routes",
        {
            "name": "never",
            "priority": 30,
            "target": {"type": "reject", "reason": "busy"},
            "match": {"numbers": ["+442079460018"]},
        },
    )
    assert shadowed["warnings"], shadowed
    assert any("never" in w or "shadow" in w or "win" in w for w in shadowed["warnings"])


def test_compiled_dispatch_rules_say_what_needs_the_gateway(api: Api) -> None:
    ids = _setup(api)
    compiled = api.get("/v1/routes/compiled").json()
    assert compiled["rules"], compiled
    needs = {need["route_id"] for need in compiled["needs_runtime"]}
    assert ids["open"] in needs, "a schedule cannot be expressed in a LiveKit dispatch rule"


def test_cli_explains_a_call_from_the_database(api: Api, settings: Settings) -> None:
    ids = _setup(api)
    command = [
        sys.executable,
        "-m",
        "gateway",
        "routes",
        "explain",
        "+442079460018",
        "--from",
        "+14155550100",
        "--at",
        "2026-11-23T10:00:00+00:00",
        "--json",
    ]
    env = {**env_of(settings), "TRUNKLINE_FLOWS_DIR": settings.flows_dir}
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    decision = json.loads(done.stdout)
    assert decision["route_id"] == ids["open"], done.stdout
    human = subprocess.run(command[:-1], env=env, capture_output=True, text=True, check=False, timeout=60)
    assert "agent:sales" in human.stdout
    assert "4420" not in human.stdout, "numbers are masked in the CLI's output"


def test_numbers_bound_to_a_trunk_are_in_the_compiled_rules(api: Api) -> None:
    """`/v1/routes/compiled` shows what the LiveKit sync creates: the trunk's own numbers and those bound to it."""
    api.create("/v1/agents", {"name": "sales"})
    trunk = api.create("/v1/trunks", {"direction": "inbound", "name": "uk", "numbers": ["+442079460018"]})
    api.create("/v1/routes", {"name": "all", "target": {"type": "agent", "agent": "sales"}})

    def numbers_of_trunk() -> set[str]:
        rules = api.get("/v1/routes/compiled").json()["rules"]
        return {n for rule in rules if rule.get("trunk_ids") == [trunk["id"]] for n in rule["numbers"]}

    assert numbers_of_trunk() == {"+442079460018"}
    api.create("/v1/numbers", {"number": "+442079460019", "trunk_id": trunk["id"]})
    assert numbers_of_trunk() == {"+442079460018", "+442079460019"}
