"""Bad input gets a 4xx problem naming the field and what to do, and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api


def _state(api: Api) -> tuple[Any, ...]:
    audit = api.get("/v1/audit-logs", params={"limit": 200}).json()["items"]
    return (
        api.get("/v1/numbers").json(),
        api.get("/v1/trunks").json(),
        api.get("/v1/agents").json(),
        len(audit),
    )


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"number": "+1 415 555"}, "TOO_SHORT"),
        ({"number": "hello"}, "NOT_A_NUMBER"),
        ({"number": "+99912345678"}, "INVALID_COUNTRY_CODE"),
        ({"number": "+1 555 012 3456"}, "NOT_VALID"),
        ({"number": "07946 0018", "region": "ZZ"}, None),
    ],
)
def test_invalid_numbers_say_why(api: Api, body: dict[str, Any], reason: str | None) -> None:
    before = _state(api)
    response = api.post("/v1/numbers", json=body)
    assert 400 <= response.status_code < 500
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    if reason:
        assert problem["reason"] == reason
        assert problem["field"] == "number"
        assert reason in problem["detail"]
    assert _state(api) == before


def test_unknown_fields_and_wrong_types_are_named(api: Api) -> None:
    before = _state(api)
    unknown = api.post("/v1/agents", json={"name": "a", "instructionz": "typo"})
    assert unknown.status_code == 400
    assert unknown.json()["field"] == "instructionz"
    wrong_type = api.post("/v1/numbers", json={"number": 14155550100})
    assert wrong_type.status_code == 400
    assert "number" in wrong_type.json()["detail"]
    not_json = api.post("/v1/agents", content=b"{not json", headers={"content-type": "application/json"})
    assert not_json.status_code == 400
    assert _state(api) == before


def test_bad_cidr_and_bad_trunk_numbers_write_nothing(api: Api) -> None:
    before = _state(api)
    cidr = api.post(
        "/v1/trunks", json={"direction": "inbound", "name": "t", "allowed_addresses": ["10.0.0.0/33"]}
    )
    assert cidr.status_code == 422
    assert cidr.json()["field"] == "allowed_addresses[0]"
    numbers = api.post(
        "/v1/trunks", json={"direction": "inbound", "name": "t", "numbers": ["+14155550100", "12"]}
    )
    assert numbers.status_code == 422
    assert numbers.json()["field"] == "numbers[1]"
    direction = api.post("/v1/trunks", json={"direction": "sideways", "name": "t"})
    assert direction.status_code == 400
    assert _state(api) == before


def test_a_bad_patch_leaves_the_object_as_it_was(api: Api) -> None:
    trunk = api.create("/v1/trunks", {"direction": "inbound", "name": "t", "numbers": ["+14155550100"]})
    before = _state(api)
    for patch in (
        {"numbers": ["nope"]},
        {"allowed_addresses": ["x"]},
        {"direction": "outbound"},
        {"media_encryption": "maybe"},
        {"bogus": 1},
    ):
        response = api.patch(f"/v1/trunks/{trunk['id']}", json=patch)
        assert 400 <= response.status_code < 500, patch
    assert _state(api) == before
    assert api.get(f"/v1/trunks/{trunk['id']}").json() == trunk


def test_duplicate_number_in_the_same_project(api: Api) -> None:
    api.create("/v1/numbers", {"number": "+14155550100"})
    before = _state(api)
    again = api.post("/v1/numbers", json={"number": "(415) 555-0100"})
    assert again.status_code == 409
    assert "already registered" in again.json()["detail"]
    assert _state(api) == before


def test_limits_are_checked(api: Api) -> None:
    assert api.get("/v1/agents", params={"limit": 0}).status_code == 422
    assert api.get("/v1/agents", params={"limit": 100000}).status_code == 422
    assert api.get("/v1/agents", params={"limit": "many"}).status_code == 400
