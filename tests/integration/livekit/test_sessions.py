"""Web sessions: a room with the agent dispatched and a join token for the browser; listing, tenancy, secrecy."""

from __future__ import annotations

import json

import httpx
import jwt
from livekit import api

from gateway.services import services
from tests.integration.livekit.conftest import Gateway


def start(gw: Gateway, **body: object) -> httpx.Response:
    return gw.post("/v1/sessions/start", json={"agent": "concierge", **body})


def test_a_session_gets_a_room_with_the_agent_and_a_token_that_joins_it(gateway: Gateway) -> None:
    gateway.create("/v1/agents", {"name": "concierge", "instructions": "Help.", "config": {"voice": "a"}})
    response = start(
        gateway, identity="visitor-1", name="Ada", metadata={"page": "/pricing"}, overrides={"lang": "fr"}
    )
    assert response.status_code == 201, response.text
    session = response.json()
    assert (session["identity"], session["agent"], session["status"]) == ("visitor-1", "concierge", "active")
    assert session["url"] == gateway.livekit.url.replace("http://", "ws://")

    claims = api.TokenVerifier(gateway.livekit.api_key, gateway.livekit.api_secret).verify(session["token"])
    assert (claims.identity, claims.name, claims.video.room, claims.video.room_join) == (
        "visitor-1",
        "Ada",
        session["room"],
        True,
    )
    assert json.loads(claims.metadata) == {"page": "/pricing"}
    assert claims.attributes["trunkline.session_id"] == session["id"]
    raw = jwt.decode(session["token"], gateway.livekit.api_secret, algorithms=["HS256"])
    assert raw["exp"] - raw["nbf"] == services(gateway.app).settings.session_token_ttl == 3600

    with gateway.livekit.world.lock:
        room = gateway.livekit.world.room(session["room"])
        assert room is not None
        (dispatch,) = room.dispatches.values()
    assert dispatch.agent_name == "concierge"
    assert json.loads(dispatch.metadata) == {"instructions": "Help.", "config": {"voice": "a"}, "lang": "fr"}


def test_the_token_is_shown_once_and_never_again(gateway: Gateway) -> None:
    gateway.create("/v1/agents", {"name": "concierge"})
    session = start(gateway).json()
    token = session["token"]
    for path in (f"/v1/sessions/{session['id']}", "/v1/sessions", "/v1/audit-logs"):
        text = gateway.get(path).text
        assert token not in text, path
        assert '"token"' not in text, path


def test_sessions_list_with_filters_and_pages(gateway: Gateway) -> None:
    agents = [gateway.create("/v1/agents", {"name": name}) for name in ("concierge", "sales")]
    made = [start(gateway, identity=f"v{i}").json()["id"] for i in range(3)]
    made.append(start(gateway, agent="sales", identity="buyer").json()["id"])
    first = gateway.get("/v1/sessions", params={"limit": 2}).json()
    assert [s["id"] for s in first["items"]] == made[:2]
    rest = gateway.get("/v1/sessions", params={"limit": 2, "after": first["next_after"]}).json()
    assert [s["id"] for s in rest["items"]] == made[2:]
    assert rest["next_after"] is None
    by_agent = gateway.get("/v1/sessions", params={"agent_id": agents[1]["id"]}).json()["items"]
    assert [s["identity"] for s in by_agent] == ["buyer"]
    assert [s["id"] for s in gateway.get("/v1/sessions", params={"identity": "v1"}).json()["items"]] == [
        made[1]
    ]
    assert gateway.get("/v1/sessions", params={"status": "ended"}).json()["items"] == []
    assert gateway.get("/v1/sessions", params={"limit": 0}).status_code == 422


def test_bad_starts_are_clear_and_leave_nothing_behind(gateway: Gateway) -> None:
    missing = start(gateway, agent="ghost")
    assert (missing.status_code, missing.json()["field"]) == (422, "agent")
    gateway.create("/v1/agents", {"name": "concierge"})
    assert start(gateway, identity="no spaces allowed").status_code == 400
    assert start(gateway, surprise=1).status_code == 400
    assert gateway.get("/v1/sessions").json()["items"] == []
    with gateway.livekit.world.lock:
        assert gateway.livekit.world.rooms == {}


def test_another_projects_session_is_not_found_and_unconfigured_projects_are_told_why(
    gateway: Gateway,
) -> None:
    gateway.create("/v1/agents", {"name": "concierge"})
    mine = start(gateway).json()
    created = gateway.create("/v1/projects", {"slug": "other", "name": "Other"})
    with gateway.as_(created["admin_key"]) as other:
        assert other.get(f"/v1/sessions/{mine['id']}").status_code == 404
        assert other.get("/v1/sessions").json()["items"] == []
        other.post("/v1/agents", json={"name": "concierge"})
        refused = other.post("/v1/sessions/start", json={"agent": "concierge"})
        assert refused.status_code == 409
        assert "LiveKit is not configured" in refused.json()["detail"]
