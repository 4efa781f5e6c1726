"""An outbound call survives a crash between Twilio's acceptance and the gateway's next write.

`POST /v1/calls` records the call and commits before it asks Twilio to dial. Here the gateway runs as its own
process and is killed (SIGKILL) the moment Twilio's REST stand-in has created the call, before the gateway could
store the CallSid Twilio answered with. A new gateway on the same database then receives the status callbacks
Twilio sends for that call (to the StatusCallback URL the first gateway gave, carrying our call id): they are
accepted (2xx, not 503), and the record links the CallSid and ends with Twilio's final status.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.conftest import key_env
from tests.integration.twilio.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    NUMBER,
    TEST_DESTINATIONS,
    copy_sample_flows,
)
from tests.support.live_server import free_port
from tests.support.subprocess_server import ServerProcess, gateway_process
from tests.support.twilio import TwilioSimulator
from tests.support.twilio.rest_standin import CallRecord, TwilioRestStandIn

pytestmark = pytest.mark.db

CALLEE = "+442079460555"


def _admin_key(env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "keys", "create", "--project", "default", "--role", "admin"],
        env={**env, "PATH": "/usr/bin:/bin"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def _prepare(http: httpx.Client) -> None:
    response = http.post("/v1/numbers", json={"number": NUMBER})
    assert response.status_code == 201, response.text
    (project,) = http.get("/v1/projects").json()["items"]
    response = http.patch(
        f"/v1/projects/{project['id']}",
        json={"default_region": "GB", "outbound": {"calls_per_second": 50, **TEST_DESTINATIONS}},
    )
    assert response.status_code == 200, response.text


async def _twilio_plays_the_call(url: str, rest: TwilioRestStandIn, sid: str) -> TwilioSimulator:
    simulator = TwilioSimulator(url, auth_token=AUTH_TOKEN, account_sid=ACCOUNT_SID)
    try:
        conversation = await rest.drive(sid, simulator)
        assert conversation.prompts, "the answered call runs the flow the first gateway recorded"
        await conversation.hangup()
    finally:
        await simulator.aclose()
    return simulator


def test_status_callbacks_after_a_crash_link_the_call_sid(database_url: str, tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    copy_sample_flows(flows)
    port = free_port()
    with TwilioRestStandIn(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, numbers=[NUMBER]) as rest:
        env = {
            "DATABASE_URL": database_url,
            "TRUNKLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TWILIO_API_BASE_URL": rest.base_url,
            **key_env(tmp_path),
        }
        with gateway_process(tmp_path, env, port=port) as first:
            token = _admin_key({**env, "TRUNKLINE_FLOWS_DIR": str(flows)}, tmp_path)
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=first.url, headers=headers, timeout=30) as http:
                _prepare(http)

                def crash(_: CallRecord) -> None:
                    _kill(first)

                rest.on_created = crash
                with pytest.raises(httpx.TransportError):
                    http.post(
                        "/v1/calls",
                        json={"carrier": "twilio", "to": CALLEE, "from": NUMBER, "flow": "main_menu"},
                    )
                rest.on_created = None
        assert first.process.returncode == -signal.SIGKILL
        (sid,) = rest.calls
        callback = rest.call(sid).param("StatusCallback")
        assert callback is not None
        (call_id,) = parse_qs(urlsplit(callback).query)["call"]

        with (
            gateway_process(tmp_path, env, port=port) as second,
            httpx.Client(base_url=second.url, headers=headers, timeout=30) as http,
        ):
            before = http.get(f"/v1/calls/{call_id}").json()
            assert (before["status"], before["carrier_call_id"]) == ("initiated", None), (
                "the intent was committed before dialling; the CallSid never was"
            )
            simulator = asyncio.run(_twilio_plays_the_call(second.url, rest, sid))
            statuses = [(attempt.url, attempt.status) for attempt in simulator.sender.attempts]
            assert statuses
            assert all(status is not None and 200 <= status < 300 for _, status in statuses), statuses
            assert any("/carriers/twilio/status" in url for url, _ in statuses)
            after = http.get(f"/v1/calls/{call_id}").json()
        assert (after["status"], after["carrier_call_id"], after["carrier_status"]) == (
            "completed",
            sid,
            "completed",
        )
        reported = [
            e["data"]["call_status"] for e in after["events"] if e["data"].get("sequence") is not None
        ]
        assert reported == ["initiated", "ringing", "in-progress", "completed"]


def _kill(server: ServerProcess) -> None:
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(10)
