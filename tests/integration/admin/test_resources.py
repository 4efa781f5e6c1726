"""CRUD of every control-plane resource through the real HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api


def test_numbers_are_normalised_to_e164_and_bound_to_a_trunk(api: Api) -> None:
    trunk = api.create(
        "/v1/trunks", {"direction": "inbound", "name": "carrier-a", "numbers": ["+14155550100"]}
    )
    number = api.create(
        "/v1/numbers", {"number": "(415) 555-0101", "trunk_id": trunk["id"], "label": "sales"}
    )
    assert number["number"] == "+14155550101"
    assert number["region"] == "US"
    assert number["trunk_id"] == trunk["id"]
    uk = api.create("/v1/numbers", {"number": "020 7946 0018", "region": "GB"})
    assert uk["number"] == "+442079460018"


def test_number_list_paginates_and_filters(api: Api) -> None:
    made = [api.create("/v1/numbers", {"number": f"+1415555{i:04d}"})["id"] for i in range(110, 115)]
    first = api.get("/v1/numbers", params={"limit": 2}).json()
    assert [n["id"] for n in first["items"]] == made[:2]
    second = api.get("/v1/numbers", params={"limit": 2, "after": first["next_after"]}).json()
    assert [n["id"] for n in second["items"]] == made[2:4]
    last = api.get("/v1/numbers", params={"limit": 2, "after": second["next_after"]}).json()
    assert [n["id"] for n in last["items"]] == made[4:]
    assert last["next_after"] is None
    prefixed = api.get("/v1/numbers", params={"prefix": "+14155550112"}).json()["items"]
    assert [n["number"] for n in prefixed] == ["+14155550112"]


def test_inbound_and_outbound_trunks(api: Api) -> None:
    inbound = api.create(
        "/v1/trunks",
        {
            "direction": "inbound",
            "name": "twilio-in",
            "numbers": ["+14155550100"],
            "allowed_addresses": ["54.172.60.0/30", "54.244.51.7"],
            "allowed_numbers": ["+442079460018"],
            "auth_username": "pbx",
            "auth_password": "s3cret-pass",
            "headers_to_attributes": {"X-Account": "account"},
            "media_encryption": "require",
        },
    )
    assert inbound["config"]["allowed_addresses"] == ["54.172.60.0/30", "54.244.51.7/32"]
    assert inbound["auth_password_set"] is True
    outbound = api.create(
        "/v1/trunks",
        {
            "direction": "outbound",
            "name": "twilio-out",
            "address": "example.pstn.twilio.com",
            "transport": "tls",
            "numbers": ["+14155550100"],
            "destination_country": "US",
            "auth_username": "u",
            "auth_password": "p4ss",
        },
    )
    assert outbound["config"]["transport"] == "tls"
    listed = api.get("/v1/trunks", params={"direction": "outbound"}).json()["items"]
    assert [t["id"] for t in listed] == [outbound["id"]]
    changed = api.patch(f"/v1/trunks/{inbound['id']}", json={"media_encryption": "disable"}).json()
    assert changed["config"]["media_encryption"] == "disable"
    assert changed["auth_password_set"] is True, "a patch that does not send the password keeps it"
    assert api.delete(f"/v1/trunks/{outbound['id']}").status_code == 204
    assert api.get(f"/v1/trunks/{outbound['id']}").status_code == 404


def test_agents_soft_delete_and_merge_patch(api: Api) -> None:
    agent = api.create(
        "/v1/agents",
        {
            "name": "support",
            "instructions": "Be kind.",
            "tts": {"provider": "cartesia", "voice": "warm"},
            "flags": {"beta": True},
        },
    )
    patched = api.patch(f"/v1/agents/{agent['id']}", json={"tts": {"voice": "calm"}}).json()
    assert patched["tts"] == {"provider": "cartesia", "voice": "calm"}
    assert patched["instructions"] == "Be kind."
    assert api.delete(f"/v1/agents/{agent['id']}").status_code == 204
    assert api.get(f"/v1/agents/{agent['id']}").status_code == 404
    assert api.get("/v1/agents").json()["items"] == []
    again = api.create("/v1/agents", {"name": "support"})
    assert again["id"] != agent["id"], "a deleted agent's name can be reused"


MAIN_FLOW = """
start: hello
steps:
  hello:
    type: say
    text: Hello.
    next: bye
  bye:
    type: hangup
"""


def test_routes_store_the_routing_shape(api: Api) -> None:
    api.create("/v1/agents", {"name": "sales"})
    assert api.put("/v1/flows/main", content=MAIN_FLOW.encode()).status_code == 200
    route = api.create(
        "/v1/routes",
        {
            "name": "sales hours",
            "priority": 10,
            "target": {"type": "agent", "agent": "sales"},
            "fallback": {"type": "flow", "flow": "main"},
            "match": {
                "numbers": ["+14155550100"],
                "schedule": {
                    "schedule": {
                        "timezone": "America/Los_Angeles",
                        "weekly": [{"days": ["mon", "fri"], "open": "09:00", "close": "17:00"}],
                    }
                },
            },
        },
    )
    assert route["target"] == {"type": "agent", "agent": "sales", "overrides": {}}
    bad = api.post(
        "/v1/routes",
        json={
            "name": "x",
            "target": {"type": "flow", "flow": "m"},
            "match": {"schedule": {"schedule": {"timezone": "Mars/Olympus"}}},
        },
    )
    assert bad.status_code == 400
    assert "Mars/Olympus" in bad.json()["detail"]
    patched = api.patch(f"/v1/routes/{route['id']}", json={"enabled": False}).json()
    assert patched["enabled"] is False
    assert patched["priority"] == 10


def test_dispatch_rules_validate_trunks_and_kind(api: Api) -> None:
    trunk = api.create("/v1/trunks", {"direction": "inbound", "name": "in"})
    rule = api.create(
        "/v1/dispatch-rules",
        {
            "name": "per caller",
            "kind": "individual",
            "room_prefix": "call-",
            "trunk_ids": [trunk["id"]],
            "agents": [{"agent_name": "support"}],
        },
    )
    assert rule["source"] == "manual"
    missing_room = api.post("/v1/dispatch-rules", json={"name": "d", "kind": "direct"})
    assert missing_room.status_code == 422
    assert missing_room.json()["field"] == "room_name"
    foreign = api.post(
        "/v1/dispatch-rules", json={"name": "d", "kind": "individual", "trunk_ids": ["trk_nope"]}
    )
    assert foreign.status_code == 422
    assert foreign.json()["field"] == "trunk_ids[0]"


def test_webhook_secret_is_shown_once(api: Api) -> None:
    created = api.create("/v1/webhooks", {"url": "https://example.com/hook", "events": ["call.ended"]})
    assert len(created["secret"]) >= 16
    fetched: dict[str, Any] = api.get(f"/v1/webhooks/{created['id']}").json()
    assert "secret" not in fetched


def test_calls_start_empty_and_outbound_requests_are_validated(api: Api) -> None:
    assert api.get("/v1/calls").json() == {"items": [], "next_after": None}
    empty = api.post("/v1/calls", json={})
    assert empty.status_code == 400
    assert empty.json()["field"] in {"carrier", "to", "from"}
    neither = api.post("/v1/calls", json={"carrier": "twilio", "to": "+14155550123", "from": "+14155550100"})
    assert neither.status_code == 422
    assert neither.json()["field"] == "agent"
    assert api.get("/v1/calls/call_missing").status_code == 404
