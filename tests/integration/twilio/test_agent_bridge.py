"""Bridging callers to agents through the LiveKit stand-in: room and dispatch first, then `<Dial><Sip>`; when
LiveKit is down or slow the caller gets the route's fallback within two seconds; retries create nothing twice."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest

from tests.integration.twilio.harness import CALLER, NUMBER, Gateway, run, running_gateway
from tests.support.twilio import Conversation, DialOutcome

pytestmark = pytest.mark.db

FALLBACK_NUMBER = "+442079460123"
AGENT_ROUTE = {
    "type": "agent",
    "agent": "sales-assistant",
    "overrides": {"greeting": "Hello from the main line", "tts": {"voice": "alloy"}},
}


def rooms(gw: Gateway) -> dict[str, list[dict[str, Any]]]:
    """Each room of the LiveKit stand-in with its agent dispatches (name and decoded metadata)."""
    assert gw.livekit is not None
    world = gw.livekit.standin.world
    with world.lock:
        return {
            name: [
                {"agent": d.agent_name, "metadata": json.loads(d.metadata)}
                for d in record.dispatches.values()
            ]
            for name, record in world.rooms.items()
        }


def setup(gw: Gateway) -> None:
    gw.agent("sales-assistant", instructions="Sell Acme widgets", tts={"provider": "openai", "voice": "echo"})
    gw.route("agents", AGENT_ROUTE, fallback={"type": "forward", "number": FALLBACK_NUMBER})


class Timed:
    """An httpx client for the simulator that times every request and lets a test look at the world on answer."""

    def __init__(self, on_voice_answer: Any = None) -> None:
        self.durations: dict[str, list[float]] = {}
        self.on_voice_answer = on_voice_answer
        self.client = httpx.AsyncClient(event_hooks={"request": [self._start], "response": [self._done]})

    async def _start(self, request: httpx.Request) -> None:
        request.extensions["started"] = time.perf_counter()

    async def _done(self, response: httpx.Response) -> None:
        request = response.request
        elapsed = time.perf_counter() - request.extensions["started"]
        self.durations.setdefault(request.url.path, []).append(elapsed)
        if request.url.path.endswith("/voice") and self.on_voice_answer is not None:
            self.on_voice_answer()


def test_a_caller_is_bridged_to_the_agent_in_a_prepared_room(database_url: str, tmp_path: Path) -> None:
    with running_gateway(database_url, tmp_path) as gw:
        setup(gw)
        seen_at_answer: list[dict[str, Any]] = []
        timed = Timed(lambda: seen_at_answer.append(rooms(gw)))

        async def call() -> Conversation:
            async with timed.client, gw.simulator(client=timed.client) as twilio:
                return await twilio.call(CALLER, NUMBER)

        conversation = run(call())
        record = gw.call_by_sid(conversation.call_sid)
        room = record["livekit_room"]
        assert room == record["id"]
        (at_answer,) = seen_at_answer
        (dispatch,) = at_answer[room]
        assert dispatch["agent"] == "sales-assistant"
        assert dispatch["metadata"]["call_id"] == record["id"]
        assert dispatch["metadata"]["config"] == {
            "instructions": "Sell Acme widgets",
            "tts": {"provider": "openai", "voice": "alloy"},
            "greeting": "Hello from the main line",
        }

        (dialed,) = conversation.dialed
        target = urlsplit(dialed.address)
        assert dialed.kind == "sip"
        assert f"{target.scheme}:{target.path}" == f"sip:{room}@trunkline-test.sip.livekit.cloud"
        assert dialed.attributes["username"].startswith("trunkline-")
        assert len(dialed.attributes["password"]) >= 32
        assert dict(parse_qsl(target.query)) == {
            "X-Trunkline-Call-Id": record["id"],
            "X-Trunkline-Room": room,
            "X-Trunkline-Agent": "sales-assistant",
        }
        assert record["agent_id"] is not None
        assert record["status"] == "completed"
        kinds = [event["kind"] for event in record["events"]]
        assert "bridge.ready" in kinds
        (answer,) = [e["data"] for e in record["events"] if e["kind"] == "twilio.answer"]
        assert answer == {"turn": 1, "answer": "bridge"}
        assert kinds.index("bridge.ready") < kinds.index("twilio.answer")


@pytest.mark.parametrize("fault", ["down", "slow"])
def test_when_livekit_is_down_or_slow_the_caller_hears_the_fallback_within_2_s(
    database_url: str, tmp_path: Path, fault: str
) -> None:
    with running_gateway(database_url, tmp_path) as gw:
        setup(gw)
        assert gw.livekit is not None
        if fault == "down":
            gw.livekit.set_down("refused")
        else:
            gw.livekit.standin.set_latency(5.0)
        timed = Timed()

        async def call() -> Conversation:
            async with timed.client, gw.simulator(client=timed.client) as twilio:
                return await twilio.call(CALLER, NUMBER, dial_outcome=DialOutcome("completed", 20))

        conversation = run(call())
        (voice_took,) = timed.durations["/carriers/twilio/voice"]
        assert voice_took < 2.0
        (dialed,) = conversation.dialed
        assert (dialed.kind, dialed.address) == ("number", FALLBACK_NUMBER)
        record = gw.call_by_sid(conversation.call_sid)
        assert record["livekit_room"] is None
        decisions = [e["data"] for e in record["events"] if e["kind"] == "routing.decided"]
        assert [d["target"] for d in decisions] == ["agent:sales-assistant", "forward:number"]
        assert decisions[-1]["used_fallback"] is True
        (failed,) = [e["data"] for e in record["events"] if e["kind"] == "bridge.failed"]
        assert failed["agent"] == "sales-assistant"


def test_a_failed_sip_leg_sends_the_caller_to_the_fallback(database_url: str, tmp_path: Path) -> None:
    with running_gateway(database_url, tmp_path) as gw:
        setup(gw)

        async def call() -> Conversation:
            async with gw.simulator() as twilio:
                return await twilio.call(CALLER, NUMBER, dial_outcome=DialOutcome("failed", 0, 503))

        conversation = run(call())
        assert [d.kind for d in conversation.dialed] == ["sip", "number"]
        assert conversation.dialed[1].address == FALLBACK_NUMBER
        record = gw.call_by_sid(conversation.call_sid)
        (fallback,) = [e["data"] for e in record["events"] if e["kind"] == "routing.fallback"]
        assert fallback == {"target": "forward:number"}
