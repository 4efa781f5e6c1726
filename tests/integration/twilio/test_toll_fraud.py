"""The toll-fraud guard on every way a call leaves: routes that forward where the project may not call are refused
when saved; a forward or a flow transfer that became refused since (the policy was tightened) is never dialled at
call time, and the caller hears an apology or the flow's failure branch instead of silence."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.twilio.harness import CALLER, NUMBER, Gateway, run, running_gateway

pytestmark = pytest.mark.db

PREMIUM = "+19005550100"
SATELLITE = "+870776123456"
CUBA = "+5372123456"


def project_id(gw: Gateway) -> str:
    (project,) = gw.get("/v1/projects")["items"]
    return str(project["id"])


@pytest.mark.parametrize("to", [PREMIUM, SATELLITE, CUBA, "sip:+88234000000@203.0.113.9"])
def test_a_route_forwarding_to_a_refused_destination_is_refused(
    database_url: str, tmp_path: Path, to: str
) -> None:
    with running_gateway(database_url, tmp_path, allow_destinations=False) as gw:
        key = "sip_uri" if to.startswith("sip:") else "number"
        for part in ("target", "fallback"):
            body = {"name": "out", "match": {"numbers": [NUMBER]}, "target": {"type": "voicemail"}}
            body[part] = {"type": "forward", key: to}
            response = gw.http.post("/v1/routes", json=body)
            assert response.status_code == 403, response.text
            assert response.json()["field"] == f"{part}.{key}"
        assert gw.get("/v1/routes")["items"] == []


def test_a_forward_refused_since_it_was_saved_is_never_dialled(database_url: str, tmp_path: Path) -> None:
    with running_gateway(database_url, tmp_path) as gw:
        patch = {"outbound": {"allowed_destination_countries": ["US", "GB"]}}
        assert gw.http.patch(f"/v1/projects/{project_id(gw)}", json=patch).status_code == 200
        gw.route("london", {"type": "forward", "number": "+442079460018"})
        tightened = {"outbound": {"allowed_destination_countries": ["US"]}}
        assert gw.http.patch(f"/v1/projects/{project_id(gw)}", json=tightened).status_code == 200

        async def call() -> tuple[list[str], list[object], str]:
            async with gw.simulator() as twilio:
                conversation = await twilio.call(CALLER, NUMBER)
                return conversation.prompts, conversation.dialed, conversation.call_sid

        prompts, dialed, sid = run(call())
        assert dialed == []
        assert prompts
        assert "cannot connect your call" in prompts[-1]
        record = gw.call_by_sid(sid)
        kinds = [event["kind"] for event in record["events"]]
        assert "transfer.refused" in kinds
        assert record["end_reason"] == "forward refused by the destination policy"


def test_a_sip_transfer_needs_an_allowed_host(database_url: str, tmp_path: Path) -> None:
    with running_gateway(database_url, tmp_path, allow_destinations=False) as gw:
        response = gw.http.post(
            "/v1/routes",
            json={
                "name": "pbx",
                "match": {"numbers": [NUMBER]},
                "target": {"type": "forward", "sip_uri": "sip:desk@pbx.example.com"},
            },
        )
        assert response.status_code == 403, response.text
        assert "outbound.allowed_sip_hosts" in response.json()["detail"]
        patch = {"outbound": {"allowed_sip_hosts": ["pbx.example.com"]}}
        assert gw.http.patch(f"/v1/projects/{project_id(gw)}", json=patch).status_code == 200
        gw.route("pbx", {"type": "forward", "sip_uri": "sip:desk@pbx.example.com"})

        async def call() -> list[object]:
            async with gw.simulator() as twilio:
                conversation = await twilio.call(CALLER, NUMBER)
                return conversation.dialed

        (dialed,) = run(call())
        assert "pbx.example.com" in str(dialed)
