"""Whole IVR conversations over real HTTP: the Twilio simulator plays a caller through the sample flows."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from gateway.db.models import Call
from gateway.settings import load_settings
from tests.conftest import run_db
from tests.integration.twilio.harness import (
    AFTER_HOURS,
    CALLER,
    NUMBER,
    FakeCrm,
    run,
    running_gateway,
)
from tests.support.twilio import Conversation

pytestmark = pytest.mark.db

ACCOUNT_NUMBER = "12345678"
CRM = {ACCOUNT_NUMBER: {"name": "Ada Lovelace", "plan": {"tier": "premium"}, "tickets": []}}


def stored_call(database_url: str, call_id: str) -> Call:
    async def fetch(session: Any) -> Call:
        call = await session.get(Call, call_id)
        assert call is not None
        return call

    return run_db(load_settings(env={"DATABASE_URL": database_url}, dotenv=None), fetch)  # type: ignore[no-any-return]


def events_of(call: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [event for event in call["events"] if event["kind"] == kind]


def test_a_caller_keys_an_account_number_and_reaches_the_premium_desk(
    database_url: str, tmp_path: Path
) -> None:
    with FakeCrm(CRM) as crm, running_gateway(database_url, tmp_path, crm_url=crm.url) as gw:
        route = gw.route("main line", {"type": "flow", "flow": "main_menu"})

        async def call() -> Conversation:
            async with gw.simulator() as twilio:
                conversation = await twilio.call(CALLER, NUMBER)
                assert conversation.played == ["https://assets.example.com/acme/chime.mp3"]
                assert conversation.prompts[0] == "Thank you for calling Acme."
                assert conversation.prompts[-1].startswith("For sales, press 1 or say sales.")
                await conversation.press("2")
                assert conversation.prompts[-1] == "Please enter your eight digit account number."
                await conversation.press(ACCOUNT_NUMBER)
                return conversation

        conversation = run(call())
        assert "Hello Ada Lovelace." in conversation.prompts
        (dialed,) = conversation.dialed
        assert dialed.kind == "sip"
        assert dialed.address == f"sip:premium@pbx.example.com?X-Account={ACCOUNT_NUMBER}"
        assert conversation.hung_up
        assert crm.requests == [f"/api/accounts/{ACCOUNT_NUMBER}"]

        record = gw.call_by_sid(conversation.call_sid)
        assert (record["direction"], record["carrier"], record["status"]) == (
            "inbound",
            "twilio",
            "completed",
        )
        assert (record["from_number"], record["to_number"], record["route_id"]) == (
            CALLER,
            NUMBER,
            route["id"],
        )
        assert record["flow_id"] == "main_menu"
        assert len(record["flow_version"]) == 12
        assert record["end_reason"] == "ivr transferred: sip"
        assert record["answered_at"] is not None
        assert record["ended_at"] is not None
        steps = [(e["data"]["flow"], e["data"]["step"]) for e in events_of(record, "ivr.step")]
        assert steps == [
            ("main_menu", "main_menu"),
            ("support", "ask_account"),
            ("support", "premium_desk"),
            ("support", "premium_desk"),
        ]
        inputs = [e["data"] for e in events_of(record, "twilio.input")]
        assert [i.get("digits") for i in inputs[:2]] == ["2", "********"], "a menu choice; a sensitive gather"
        assert ACCOUNT_NUMBER not in json.dumps(record["events"])
        (lookup,) = [e["data"] for e in events_of(record, "ivr.lookup")]
        assert (lookup["method"], lookup["status"], lookup["outcome"]) == ("GET", 200, "ok")
        assert lookup["url"].startswith("http://127.0.0.1:")
        assert lookup["latency_ms"] >= 0
        seqs = [event["seq"] for event in record["events"]]
        assert seqs == list(range(1, len(seqs) + 1))

        stored = stored_call(database_url, record["id"])
        assert stored.ivr_state is not None
        assert stored.ivr_state["ivr"]["flow"] == "support"
        assert stored.ivr_state["ivr"]["wait"] == "done"


def test_a_route_sets_the_flows_variables(database_url: str, tmp_path: Path) -> None:
    flow = (
        "variables: { campaign: none }\nstart: hi\nsteps:\n"
        "  hi: { type: say, text: 'Welcome to the {{ campaign }} offer.', next: bye }\n"
        "  bye: { type: hangup }\n"
    )
    with running_gateway(database_url, tmp_path) as gw:
        assert gw.http.put("/v1/flows/offer", content=flow.encode()).status_code == 200
        refused = gw.http.post(
            "/v1/routes",
            json={"name": "x", "target": {"type": "flow", "flow": "offer", "variables": {"caller": "me"}}},
        )
        assert (refused.status_code, refused.json()["field"]) == (422, "target.variables.caller")
        gw.route("offer line", {"type": "flow", "flow": "offer", "variables": {"campaign": "spring"}})

        async def call() -> Conversation:
            async with gw.simulator() as twilio:
                return await twilio.call(CALLER, NUMBER)

        assert run(call()).prompts == ["Welcome to the spring offer."]


def test_after_hours_the_caller_leaves_a_voicemail(database_url: str, tmp_path: Path) -> None:
    with running_gateway(database_url, tmp_path, clock=lambda: AFTER_HOURS) as gw:
        gw.route("main line", {"type": "flow", "flow": "main_menu"})

        async def call() -> Conversation:
            async with gw.simulator() as twilio:
                conversation = await twilio.call(CALLER, NUMBER)
                assert conversation.prompts[-1].startswith("Acme is closed.")
                await conversation.press("1")
                assert conversation.prompts[-1].startswith("Please leave your message after the tone")
                await conversation.record(12, finish_key="#")
                return conversation

        conversation = run(call())
        assert conversation.prompts[-1] == "Thank you, your message has been saved."
        assert conversation.hung_up
        record = gw.call_by_sid(conversation.call_sid)
        assert record["status"] == "completed"
        assert record["end_reason"] == "ivr hangup: completed"
        (recorded,) = [
            e for e in record["events"] if e["kind"] == "twilio.input" and e["data"]["input"] == "recording"
        ]
        assert recorded["data"]["recording_sid"] == conversation.recordings[0]


def test_a_call_continues_on_another_replica(database_url: str, tmp_path: Path) -> None:
    """Nothing about a call lives in memory: a gateway restarted mid-call (same URL) carries on where it was."""
    with asyncio.Runner() as runner:
        with running_gateway(database_url, tmp_path) as gw:
            gw.route("main line", {"type": "flow", "flow": "main_menu"})
            twilio = gw.simulator()
            conversation = runner.run(twilio.call(CALLER, NUMBER))
            runner.run(conversation.press("2"))
            port, token = int(gw.url.rsplit(":", 1)[1]), gw.token
        assert conversation.prompts[-1] == "Please enter your eight digit account number."

        with running_gateway(database_url, tmp_path, port=port, token=token) as gw:
            runner.run(conversation.press("1234"))
            assert conversation.prompts[-2:] == [
                "Sorry, account numbers have eight digits.",
                "Please enter your eight digit account number.",
            ]
            runner.run(conversation.hangup())
            runner.run(twilio.aclose())
            record = gw.call_by_sid(conversation.call_sid)
    assert record["status"] == "completed"
    steps = [e["data"]["step"] for e in events_of(record, "ivr.step")]
    assert steps == ["main_menu", "ask_account", "ask_account"]


def test_a_lookup_to_a_refused_address_takes_the_error_branch_with_a_reason(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="gateway.ivr")
    with (
        FakeCrm(CRM) as crm,
        running_gateway(database_url, tmp_path, crm_url=crm.url, env={"TRUNKLINE_OUTBOUND_ALLOW": ""}) as gw,
    ):
        gw.route("main line", {"type": "flow", "flow": "main_menu"})

        async def call() -> Conversation:
            async with gw.simulator() as twilio:
                conversation = await twilio.call(CALLER, NUMBER)
                await conversation.press("2")
                await conversation.press(ACCOUNT_NUMBER)
                return conversation

        conversation = run(call())
        assert crm.requests == []  # the loopback CRM was never contacted
        assert "Sorry, I could not find that account." in conversation.prompts  # the step's on_error branch
    reasons = [
        getattr(r, "reason", "") for r in caplog.records if r.getMessage() == "ivr http lookup refused"
    ]
    assert reasons == ["127.0.0.1 is a loopback address"]
