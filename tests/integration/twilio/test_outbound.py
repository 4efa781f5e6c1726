"""Outbound calls through Twilio's REST API (the stand-in) and live call control on them.

`POST /v1/calls` with carrier twilio places the call with our voice and status URLs; the stand-in then plays the
callee's side through the simulator: when answered, our voice URL runs the flow or bridges the agent.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.integration.twilio.harness import ACCOUNT_SID, AUTH_TOKEN, NUMBER, Gateway, running_gateway
from tests.integration.twilio.test_agent_bridge import rooms
from tests.support.live_server import free_port
from tests.support.twilio import TwilioSimulator
from tests.support.twilio.rest_standin import TwilioRestStandIn

pytestmark = pytest.mark.db

CALLEE = "+442079460555"
TRANSFER_TO = "+442079460777"


@dataclass
class Outbound:
    gw: Gateway
    rest: TwilioRestStandIn
    runner: asyncio.Runner
    simulator: TwilioSimulator

    def place(self, **body: Any) -> dict[str, Any]:
        return self.gw.create("/v1/calls", {"carrier": "twilio", "to": CALLEE, "from": NUMBER, **body})

    def drive(self, sid: str, **options: Any) -> Any:
        return self.runner.run(self.rest.drive(sid, self.simulator, **options))

    def settle(self, sid: str) -> None:
        self.runner.run(self.rest.settle(sid))


@pytest.fixture
def outbound(database_url: str, tmp_path: Path) -> Iterator[Outbound]:
    with (
        TwilioRestStandIn(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, numbers=[NUMBER]) as rest,
        running_gateway(database_url, tmp_path, env={"TWILIO_API_BASE_URL": rest.base_url}) as gw,
        asyncio.Runner() as runner,
    ):
        gw.create("/v1/numbers", {"number": NUMBER})
        (project,) = gw.get("/v1/projects")["items"]
        response = gw.http.patch(
            f"/v1/projects/{project['id']}",
            json={"default_region": "GB", "outbound": {"calls_per_second": 50}},
        )
        assert response.status_code == 200, response.text
        gw.agent("sales-assistant", instructions="Call the lead back")
        simulator = gw.simulator()
        yield Outbound(gw, rest, runner, simulator)
        runner.run(simulator.aclose())


def test_an_outbound_call_bridges_the_agent_when_answered(outbound: Outbound) -> None:
    placed = outbound.place(agent="sales-assistant", overrides={"lead": "L-42"}, dtmf="1w2")
    sid = placed["carrier_call_id"]
    assert placed["status"] == "initiated"
    assert sid.startswith("CA")
    (request,) = outbound.rest.requests
    form = request.params
    assert (form["To"], form["From"], form["Method"]) == (CALLEE, NUMBER, "POST")
    assert urlsplit(form["Url"]).path == "/carriers/twilio/voice"
    assert parse_qs(urlsplit(form["Url"]).query) == {"call": [placed["id"]]}
    assert parse_qs(urlsplit(form["StatusCallback"]).query) == {"call": [placed["id"]]}
    assert [v for k, v in request.form if k == "StatusCallbackEvent"] == [
        "initiated",
        "ringing",
        "answered",
        "completed",
    ]
    assert (form["Timeout"], form["TimeLimit"], form["SendDigits"]) == ("30", "3600", "1w2")

    conversation = outbound.drive(sid)
    (dialed,) = conversation.dialed
    assert dialed.kind == "sip"
    assert dialed.address.startswith(f"sip:{placed['id']}@trunkline-test.sip.livekit.cloud?"), (
        "the call's room"
    )
    record = outbound.gw.get(f"/v1/calls/{placed['id']}")
    assert (record["direction"], record["status"], record["carrier_call_id"]) == (
        "outbound",
        "completed",
        sid,
    )
    assert record["livekit_room"] == placed["id"]
    assert record["answered_at"] is not None
    (dispatch,) = rooms(outbound.gw)[placed["id"]]
    assert dispatch["metadata"]["config"] == {"instructions": "Call the lead back", "lead": "L-42"}
    statuses = [e["data"]["call_status"] for e in record["events"] if e["data"].get("sequence") is not None]
    assert statuses == ["initiated", "ringing", "in-progress", "completed"]


def test_an_outbound_call_runs_the_requested_flow(outbound: Outbound) -> None:
    placed = outbound.place(flow="main_menu")
    conversation = outbound.drive(placed["carrier_call_id"])
    assert conversation.prompts[-1].startswith("For sales, press 1 or say sales.")
    outbound.runner.run(conversation.hangup())
    record = outbound.gw.get(f"/v1/calls/{placed['id']}")
    assert (record["status"], record["flow_id"]) == ("completed", "main_menu")
    assert [e["data"]["step"] for e in record["events"] if e["kind"] == "ivr.step"] == ["main_menu"]


@pytest.mark.parametrize(
    ("outcome", "sip_code", "status"),
    [
        ("busy", None, "busy"),
        ("no-answer", None, "no-answer"),
        ("busy", 603, "declined"),
        ("failed", 404, "failed"),
    ],
)
def test_unanswered_outbound_calls_end_with_the_carrier_status(
    outbound: Outbound, outcome: str, sip_code: int | None, status: str
) -> None:
    placed = outbound.place(agent="sales-assistant")
    conversation = outbound.drive(placed["carrier_call_id"], outcome=outcome, sip_code=sip_code)
    assert conversation.dialed == []
    record = outbound.gw.get(f"/v1/calls/{placed['id']}")
    assert record["status"] == status
    assert record["answered_at"] is None
    assert record["livekit_room"] is None
    assert record["end_reason"] == f"twilio {status}"


def test_twilio_refusing_the_call_is_a_422_and_the_intent_records_why(outbound: Outbound) -> None:
    other = "+442079460888"
    outbound.gw.create("/v1/numbers", {"number": other})
    response = outbound.gw.http.post(
        "/v1/calls", json={"carrier": "twilio", "to": CALLEE, "from": other, "agent": "sales-assistant"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["twilio_code"] == 21210
    (call,) = outbound.gw.calls()  # recorded before Twilio was asked: it says how it ended
    assert call["status"] == "failed"
    assert call["end_reason"].startswith("twilio refused: ")


def test_an_unreachable_twilio_records_a_failed_call(database_url: str, tmp_path: Path) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"
    with running_gateway(database_url, tmp_path, env={"TWILIO_API_BASE_URL": nowhere}) as gw:
        gw.create("/v1/numbers", {"number": NUMBER})
        gw.agent("sales-assistant")
        response = gw.http.post(
            "/v1/calls",
            json={"carrier": "twilio", "to": "+14155550100", "from": NUMBER, "agent": "sales-assistant"},
        )
        assert response.status_code == 503, response.text
        (call,) = gw.calls()
        assert (call["status"], call["end_reason"]) == ("failed", "twilio unavailable")


def test_call_control_hangs_up_transfers_and_sends_dtmf(outbound: Outbound) -> None:
    gw = outbound.gw
    placed = outbound.place(flow="main_menu")
    sid = placed["carrier_call_id"]
    conversation = outbound.drive(sid)
    prompts_before = len(conversation.prompts)

    dtmf = gw.http.post(f"/v1/calls/{placed['id']}/dtmf", json={"digits": "12"})
    assert dtmf.status_code == 200, dtmf.text
    outbound.settle(sid)
    update = outbound.rest.requests[-1]
    assert '<Play digits="12" />' in update.params["Twiml"]
    assert any(d.url.endswith("/carriers/twilio/resume") for d in conversation.deliveries)
    assert conversation.prompts[prompts_before:][-1].startswith("For sales, press 1")
    assert conversation.awaiting is not None

    transfer = gw.http.post(f"/v1/calls/{placed['id']}/transfer", json={"to": TRANSFER_TO})
    assert transfer.status_code == 200, transfer.text
    assert transfer.json()["ok"] is True
    outbound.settle(sid)
    assert [(d.kind, d.address) for d in conversation.dialed] == [("number", TRANSFER_TO)]
    assert conversation.hung_up

    second = outbound.place(agent="sales-assistant")
    outbound.drive(second["carrier_call_id"], outcome="ringing")
    hangup = gw.http.post(f"/v1/calls/{second['id']}/hangup")
    assert hangup.status_code == 200, hangup.text
    outbound.settle(second["carrier_call_id"])
    assert outbound.rest.requests[-1].params == {"Status": "completed"}
    assert outbound.rest.call(second["carrier_call_id"]).status == "canceled"
    record = gw.get(f"/v1/calls/{second['id']}")
    assert record["status"] == "canceled"
