"""Errors that teach: allowed values listed, the unique field named, national numbers explained."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api


def _detail(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    detail: str = response.json()["detail"]
    return detail


@pytest.mark.parametrize(
    ("method", "path", "body", "params", "field", "allowed"),
    [
        ("post", "/v1/trunks", {"direction": "in", "name": "t"}, None, "direction", "'inbound', 'outbound'"),
        (
            "post",
            "/v1/trunks",
            {"direction": "outbound", "name": "t", "address": "sip.example.com", "transport": "sctp"},
            None,
            "transport",
            "'auto', 'tcp', 'tls', 'udp'",
        ),
        (
            "post",
            "/v1/api-keys",
            {"name": "k", "role": "boss"},
            None,
            "role",
            "'admin', 'operator', 'viewer'",
        ),
        ("get", "/v1/calls", None, {"direction": "in"}, "direction", "'inbound', 'outbound'"),
        (
            "post",
            "/v1/routes",
            {"name": "r", "target": {"type": "agnt", "agent": "x"}},
            None,
            "target.type",
            "'flow', 'agent', 'forward', 'voicemail', 'reject'",
        ),
    ],
)
def test_a_value_not_allowed_lists_the_allowed_ones(
    api: Api,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    params: dict[str, str] | None,
    field: str,
    allowed: str,
) -> None:
    response = api.request(method, path, json=body, params=params)
    detail = _detail(response, 400)
    assert response.json()["field"] == field
    assert f"(allowed: {allowed})" in detail


def test_a_patch_with_a_value_not_allowed_lists_the_allowed_ones(api: Api) -> None:
    trunk = api.create("/v1/trunks", {"direction": "inbound", "name": "t"})
    response = api.patch(f"/v1/trunks/{trunk['id']}", json={"media_encryption": "maybe"})
    assert response.json()["field"] == "media_encryption"
    assert "(allowed: 'allow', 'disable', 'require')" in _detail(response, 422)


@pytest.mark.parametrize(
    ("path", "body", "field", "owner"),
    [
        ("/v1/trunks", {"direction": "inbound", "name": "carrier"}, "name", "a trunk in this project"),
        ("/v1/agents", {"name": "sales"}, "name", "an agent in this project"),
        ("/v1/projects", {"slug": "acme", "name": "Acme"}, "slug", "a project"),
    ],
)
def test_a_conflict_names_the_field_that_must_be_unique(
    api: Api, path: str, body: dict[str, Any], field: str, owner: str
) -> None:
    api.create(path, body)
    again = api.post(path, json=body)
    detail = _detail(again, 409)
    assert again.json()["field"] == field
    assert detail.startswith(f"`{field}` must be unique for {owner}")
    assert f"choose another {field}" in detail


def test_a_national_number_that_is_not_valid_in_the_assumed_region_says_so(api: Api) -> None:
    response = api.post("/v1/numbers", json={"number": "0412 345 678"})
    detail = _detail(response, 422)
    assert response.json()["field"] == "number"
    assert detail.startswith("number: 0412 345 678 is not a valid number for region US"), "not masked"
    assert "the project's default_region" in detail
    assert "write it in E.164, e.g. +61412345678 (AU)" in detail
    assert api.get("/v1/numbers").json()["items"] == []


def test_the_region_sent_is_the_one_assumed(api: Api) -> None:
    detail = _detail(api.post("/v1/numbers", json={"number": "0412 345 678", "region": "GB"}), 422)
    assert "not a valid number for region GB" in detail
    assert "the request's `region`" in detail


def test_a_national_number_accepted_is_reported_in_the_response(api: Api) -> None:
    created = api.create("/v1/numbers", {"number": "(415) 555-0100"})
    assert created["number"] == "+14155550100"
    (warning,) = created["warnings"]
    assert "'(415) 555-0100' was read as a national number of US (the project's default_region)" in warning
    assert "stored as +14155550100" in warning
    assert api.create("/v1/numbers", {"number": "+14155550101"})["warnings"] == []
    assert api.get(f"/v1/numbers/{created['id']}").json()["warnings"] == []
    relabelled = api.patch(f"/v1/numbers/{created['id']}", json={"label": "sales"}).json()
    assert relabelled["warnings"] == []
