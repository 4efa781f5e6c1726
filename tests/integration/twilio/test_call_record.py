"""A call record you can debug from: what the caller heard, turn by turn from 1, why a target was unavailable,
routes by name, the voicemail's recording; and /metrics counting calls, IVR steps, lookups and webhooks."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.twilio.harness import CALLER, NUMBER, FakeCrm, Gateway, run, running_gateway
from tests.support.twilio import Conversation, DialOutcome

pytestmark = pytest.mark.db

OPERATOR = "+442079460123"
ACCOUNT_NUMBER = "12345678"
CRM = {ACCOUNT_NUMBER: {"name": "Ada Lovelace", "plan": {"tier": "premium"}, "tickets": []}}


def events_of(record: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [event["data"] for event in record["events"] if event["kind"] == kind]


def sample(text: str, name: str, **labels: str) -> float:
    """One series' value in Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.rindex("}")]))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def scrape(gw: Gateway) -> str:
    answer = gw.http.get("/metrics")
    assert answer.status_code == 200
    return answer.text


def call(gw: Gateway, *inputs: str, **options: Any) -> Conversation:
    async def play() -> Conversation:
        async with gw.simulator() as twilio:
            conversation = await twilio.call(CALLER, NUMBER, **options)
            for digits in inputs:
                await conversation.press(digits)
            return conversation

    return run(play())


def test_prompts_are_on_the_record_turn_by_turn_from_1_with_numbers_masked(
    database_url: str, tmp_path: Path
) -> None:
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "readback.yaml").write_text(
        "start: ask\n"
        "steps:\n"
        "  ask:\n"
        "    type: gather\n"
        "    prompt: Please key your PIN. Press 1 for help.\n"
        "    num_digits: 4\n"
        "    sensitive: true\n"
        "    into: pin\n"
        "    next: readback\n"
        "  readback:\n"
        "    type: say\n"
        "    text: You entered {{ pin }}, calling from {{ caller }}.\n"
        "    next: bye\n"
        "  bye:\n"
        "    type: hangup\n"
    )
    with running_gateway(database_url, tmp_path) as gw:
        gw.route("PIN line", {"type": "flow", "flow": "readback"})
        conversation = call(gw, "4321")
        assert "You entered 4321, calling from +447700900123." in conversation.prompts

        record = gw.call_by_sid(conversation.call_sid)
        prompts = events_of(record, "ivr.prompt")
        assert prompts == [
            {"turn": 1, "text": "Please key your PIN. Press 1 for help."},
            {"turn": 2, "text": "You entered ****, calling from +************."},
        ]
        assert "4321" not in json.dumps(record["events"])
        (voice,) = events_of(record, "twilio.voice")
        (entered,) = events_of(record, "twilio.input")
        assert voice["turn"] == 1
        assert (entered["turn"], entered["reply_to"], entered["digits"]) == (2, 1, "****")
        assert [step["turn"] for step in events_of(record, "ivr.step")] == [1, 2]
        assert events_of(record, "ivr.step")[-1]["steps_run"] == ["say", "hangup"]


def test_an_agent_that_cannot_take_the_call_is_not_announced_and_the_record_says_why(
    database_url: str, tmp_path: Path
) -> None:
    with running_gateway(database_url, tmp_path, livekit=False) as gw:
        gw.route("Main line", {"type": "flow", "flow": "main_menu"})
        conversation = call(gw, "1", dial_outcome=DialOutcome("completed", 20))
        assert "Connecting you to our sales assistant." not in conversation.prompts
        (dialed,) = conversation.dialed
        assert (dialed.kind, dialed.address) == ("number", OPERATOR)

        record = gw.call_by_sid(conversation.call_sid)
        (unavailable,) = events_of(record, "target.unavailable")
        assert unavailable == {
            "target": "agent:sales-assistant",
            "reason": "agent 'sales-assistant' not found in this project",
        }
        texts = [prompt["text"] for prompt in events_of(record, "ivr.prompt")]
        assert not any("Connecting you" in text for text in texts)


def test_a_route_to_an_agent_without_livekit_records_the_reason_and_names_routes(
    database_url: str, tmp_path: Path
) -> None:
    with running_gateway(database_url, tmp_path, livekit=False) as gw:
        gw.agent("sales-assistant", instructions="Sell")
        route = gw.route(
            "Sales line",
            {"type": "agent", "agent": "sales-assistant"},
            fallback={"type": "forward", "number": OPERATOR},
        )
        conversation = call(gw, dial_outcome=DialOutcome("completed", 20))
        assert [(d.kind, d.address) for d in conversation.dialed] == [("number", OPERATOR)]

        record = gw.call_by_sid(conversation.call_sid)
        (unavailable,) = events_of(record, "target.unavailable")
        assert unavailable == {
            "target": "agent:sales-assistant",
            "reason": "LiveKit is not configured",
            "route_id": route["id"],
        }
        (decided,) = events_of(record, "routing.decided")
        assert decided["route_name"] == "Sales line"
        assert decided["reason"].startswith(f"route 'Sales line' ({route['id']}) matched")
        assert record["routing"]["route_name"] == "Sales line"
        assert [entry["route_name"] for entry in record["routing"]["trace"]] == ["Sales line"]

        explained = gw.http.post("/v1/routes/resolve", json={"to": NUMBER, "from": CALLER})
        assert explained.status_code == 200, explained.text
        assert explained.json()["route_name"] == "Sales line"


def test_a_voicemail_leaves_its_recording_on_the_call(database_url: str, tmp_path: Path) -> None:
    with running_gateway(database_url, tmp_path) as gw:
        gw.route("Voicemail", {"type": "flow", "flow": "voicemail"})

        async def play() -> tuple[Conversation, str]:
            async with gw.simulator() as twilio:
                conversation = await twilio.call(CALLER, NUMBER)
                sid = await conversation.record(7, finish_key="#")
                return conversation, sid

        conversation, recording_sid = run(play())
        record = gw.call_by_sid(conversation.call_sid)
        (recording,) = record["recordings"]
        assert (recording["external_id"], recording["source"], recording["duration_s"]) == (
            recording_sid,
            "twilio",
            7,
        )
        assert recording["url"].endswith(f"/Recordings/{recording_sid}")
        (left,) = [e for e in events_of(record, "twilio.input") if e["input"] == "recording"]
        assert left["recording_url"] == recording["url"]
        assert left["recording_sid"] == recording_sid


def test_metrics_count_calls_ivr_steps_lookups_and_webhooks(database_url: str, tmp_path: Path) -> None:
    with FakeCrm(CRM) as crm, running_gateway(database_url, tmp_path, crm_url=crm.url) as gw:
        gw.route("Main line", {"type": "flow", "flow": "main_menu"})
        before = scrape(gw)
        conversation = call(gw, "2", ACCOUNT_NUMBER, dial_outcome=DialOutcome("completed", 42))
        assert conversation.hung_up
        refused = gw.http.post("/carriers/twilio/voice", data={"CallSid": "CA" + "0" * 32})
        assert refused.status_code in (401, 403)
        after = scrape(gw)
        deadline = time.monotonic() + 5  # a request is counted once its answer is sent: the last may lag
        while time.monotonic() < deadline and sample(
            after, "trunkline_webhooks_total", outcome="refused"
        ) == sample(before, "trunkline_webhooks_total", outcome="refused"):
            time.sleep(0.05)
            after = scrape(gw)

        def delta(name: str, **labels: str) -> float:
            return sample(after, name, **labels) - sample(before, name, **labels)

        ended = {"carrier": "twilio", "direction": "inbound", "status": "completed"}
        assert delta("trunkline_calls_total", **ended) == 1
        assert delta("trunkline_call_duration_seconds_count", carrier="twilio", direction="inbound") == 1
        assert delta("trunkline_ivr_steps_total", step_type="menu") == 1
        assert delta("trunkline_ivr_steps_total", step_type="http") == 1
        assert delta("trunkline_ivr_steps_total", step_type="transfer") == 1
        assert delta("trunkline_ivr_lookups_total", outcome="ok") == 1
        assert delta("trunkline_webhooks_total", carrier="twilio", outcome="accepted") >= 4
        assert delta("trunkline_webhooks_total", carrier="twilio", outcome="refused") == 1
        for line in after.splitlines():  # label values are bounded: no numbers, no ids
            if line.startswith(("trunkline_calls", "trunkline_ivr", "trunkline_webhooks", "trunkline_call_")):
                labels = re.sub(r'le="[^"]*"', "", line[line.find("{") : line.rfind("}") + 1])
                assert not re.search(r"\d{3,}|CA[0-9a-f]{6}|call_", labels), line
