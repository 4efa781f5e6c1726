"""A route is saved with warnings when calls cannot reach it as written: numbers not owned, agents without LiveKit."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api


def _route(api: Api, **body: Any) -> dict[str, Any]:
    return api.create("/v1/routes", {"name": "r", "target": {"type": "voicemail"}, **body})


def test_a_route_for_a_number_the_project_does_not_have_warns(api: Api) -> None:
    api.create("/v1/numbers", {"number": "+14155550100"})
    owned = _route(api, match={"numbers": ["+14155550100", "+1415*"]})
    assert not [w for w in owned["warnings"] if "match.number" in w], owned["warnings"]
    stray = _route(
        api,
        match={"numbers": ["+14155550199", "+4420*"], "number_ranges": [["+442079460100", "+442079460199"]]},
    )
    warnings = [w for w in stray["warnings"] if "match.number" in w]
    assert len(warnings) == 3, warnings
    assert "match.numbers[0]: +14155550199 is not one of this project's numbers" in warnings[0]
    assert "POST /v1/numbers" in warnings[0]
    assert "match.numbers[1]: none of this project's numbers starts with +4420" in warnings[1]
    assert "match.number_ranges[0]" in warnings[2]
    api.create("/v1/numbers", {"number": "+14155550199"})
    again = api.patch(
        f"/v1/routes/{stray['id']}", json={"match": {"numbers": ["+14155550199"], "number_ranges": None}}
    ).json()
    assert not [w for w in again["warnings"] if "match.number" in w], "warnings follow the numbers"


def test_a_route_to_an_agent_without_livekit_warns(api: Api) -> None:
    api.create("/v1/agents", {"name": "sales"})
    route = _route(api, target={"type": "agent", "agent": "sales"})
    (warning,) = [w for w in route["warnings"] if "LiveKit" in w]
    assert "target.agent: LiveKit is not configured for this project" in warning
    assert "LIVEKIT_URL" in warning
    project_id = api.get("/v1/projects").json()["items"][0]["id"]
    livekit = {"livekit_url": "https://lk.example.com", "livekit_api_key": "k", "livekit_api_secret": "s"}
    assert api.patch(f"/v1/projects/{project_id}", json=livekit).status_code == 200
    configured = api.patch(f"/v1/routes/{route['id']}", json={"priority": 5}).json()
    assert not [w for w in configured["warnings"] if "LiveKit" in w]
