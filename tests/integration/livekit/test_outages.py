"""LiveKit down at start-up and mid-call: clear errors, retries, nothing lost, the sync catches up."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.integration.livekit.conftest import DID, Gateway, eventually, outbound_setup, serve
from tests.integration.livekit.test_outbound import allow_many_calls, dial
from tests.support.livekit_standin import StandInThread


def readiness(gw: Gateway) -> tuple[int, dict[str, object]]:
    response = httpx.get(f"{gw.url}/health/ready")
    (check,) = [c for c in response.json()["checks"] if c["name"] == "livekit"]
    return response.status_code, {**check, "status": response.json()["status"]}


def test_livekit_down_at_start_up_is_reported_retried_and_caught_up(
    database_url: str, tmp_path: Path, standin: StandInThread, standin_port: int
) -> None:
    standin.set_down("refused")
    with serve(database_url, tmp_path, standin, standin_port) as gw:
        status, check = readiness(gw)
        # Twilio and IVR calls still work through fallbacks: LiveKit down degrades, it does not make unready.
        assert (status, check["ok"], check["critical"], check["status"]) == (200, False, False, "degraded")
        assert str(check["detail"]).startswith(f"LiveKit unreachable at {standin.url}")
        trunk = gw.create("/v1/trunks", {"direction": "inbound", "name": "carrier-in", "numbers": [DID]})
        view = gw.get("/v1/sync").json()
        assert view["status"] == "unreachable"
        assert "LIVEKIT_URL" in view["errors"][0]
        forced = gw.post("/v1/sync")
        assert (forced.status_code, forced.json()["status"]) == (503, "unreachable")
        assert gw.get(f"/v1/trunks/{trunk['id']}").json()["livekit_trunk_id"] is None

        standin.set_down(None)
        eventually(lambda: gw.get(f"/v1/trunks/{trunk['id']}").json()["livekit_trunk_id"], timeout=20)
        with gw.livekit.world.lock:
            numbers = sorted(list(t.numbers) for t in gw.livekit.world.inbound_trunks.values())
        assert numbers == [[], [DID]], "the trunk, and the project's bridge trunk (any number, digest auth)"
        assert eventually(lambda: readiness(gw)[1]["status"] == "ready")
        assert gw.get("/v1/sync").json()["in_sync"] is True


def test_livekit_down_mid_call_gives_clear_errors_and_loses_nothing(gateway: Gateway) -> None:
    outbound_setup(gateway)
    call = dial(gateway, wait=True)
    gateway.thread.set_down("503")
    refused = gateway.post(f"/v1/calls/{call['id']}/hangup")
    assert refused.status_code == 503
    assert "LiveKit failed remove participant with HTTP 503" in refused.json()["detail"]
    assert "retry" in refused.json()["detail"]
    assert gateway.post(f"/v1/calls/{call['id']}/dtmf", json={"digits": "1"}).status_code == 503
    assert gateway.call(call["id"])["status"] == "answered"

    gateway.thread.set_down(None)
    done = gateway.post(f"/v1/calls/{call['id']}/hangup")
    assert (done.status_code, done.json()["status"]) == (200, "completed")


def test_an_outbound_call_while_livekit_is_down_is_refused_and_recorded_as_failed(gateway: Gateway) -> None:
    outbound_setup(gateway)
    allow_many_calls(gateway)
    gateway.thread.set_down("refused")
    response = gateway.post(
        "/v1/calls", json={"carrier": "livekit", "to": "+14155550177", "from": DID, "agent": "caller"}
    )
    assert response.status_code == 503
    problem = response.json()
    assert "retry" in problem["detail"]
    failed = gateway.call(problem["call_id"])
    assert (failed["status"], failed["end_reason"]) == ("failed", "livekit unavailable")
    gateway.thread.set_down(None)
    assert dial(gateway, wait=True)["status"] == "answered"
