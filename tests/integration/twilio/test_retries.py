"""Twilio retries: a repeated CallSid or Gather post gets the same answer and creates nothing twice."""

from __future__ import annotations

import asyncio
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.integration.twilio.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALLER,
    NUMBER,
    Gateway,
    run,
    running_gateway,
)
from tests.integration.twilio.test_agent_bridge import rooms, setup
from tests.support.twilio import Delivery, new_call_sid, sign
from tests.support.twilio.callbacks import CallParty

pytestmark = pytest.mark.db


def replay(delivery: Delivery) -> httpx.Response:
    """The same request again: same URL, body, signature and idempotency token, as Twilio retries."""
    attempt = delivery.attempts[-1]
    return httpx.post(attempt.url, content=urlencode(attempt.params), headers=attempt.headers)


def snapshot(gw: Gateway) -> tuple[int, list[tuple[int, str]]]:
    calls = gw.calls()
    events = [(e["seq"], e["kind"]) for c in calls for e in gw.get(f"/v1/calls/{c['id']}")["events"]]
    return len(calls), events


def test_a_retried_voice_webhook_gets_the_same_answer_and_dispatches_once(
    database_url: str, tmp_path: Path
) -> None:
    with running_gateway(database_url, tmp_path) as gw:
        setup(gw)

        async def call() -> Delivery:
            async with gw.simulator() as twilio:
                conversation = twilio.conversation()
                await conversation.start(CALLER, NUMBER)
                return next(d for d in conversation.deliveries if d.url.endswith("/voice"))

        voice = run(call())
        assert voice.response is not None
        before = snapshot(gw), rooms(gw)
        for _ in range(3):
            again = replay(voice)
            assert again.status_code == 200
            assert again.text == voice.response.text
        assert (snapshot(gw), rooms(gw)) == before
        (dispatches,) = rooms(gw).values()
        assert len(dispatches) == 1


def test_a_retried_gather_post_advances_the_flow_once(database_url: str, tmp_path: Path) -> None:
    with running_gateway(database_url, tmp_path) as gw:
        gw.route("main line", {"type": "flow", "flow": "main_menu"})

        async def call() -> tuple[Delivery, list[str]]:
            async with gw.simulator() as twilio:
                conversation = await twilio.call(CALLER, NUMBER)
                await conversation.press("7")
                gather = next(d for d in conversation.deliveries if "/ivr" in d.url)
                return gather, list(conversation.prompts)

        gather, prompts = run(call())
        assert gather.response is not None
        assert prompts[-2:] == [
            "Sorry, that is not one of the options.",
            "Press 1 for sales, 2 for support, or 3 to leave a message.",
        ]
        before = snapshot(gw)
        again = replay(gather)
        assert (again.status_code, again.text) == (200, gather.response.text)
        assert snapshot(gw) == before


def test_concurrent_duplicates_while_livekit_is_slow_share_one_answer(
    database_url: str, tmp_path: Path
) -> None:
    with running_gateway(database_url, tmp_path) as gw:
        setup(gw)
        assert gw.livekit is not None
        gw.livekit.standin.set_latency(0.4)
        url = f"{gw.url}/carriers/twilio/voice"
        party = CallParty(ACCOUNT_SID, new_call_sid(), CALLER, NUMBER)
        params = tuple(party.request_params("ringing"))
        headers = {
            "X-Twilio-Signature": sign(url, params, AUTH_TOKEN),
            "Content-Type": "application/x-www-form-urlencoded",
        }

        async def twice() -> list[httpx.Response]:
            async with httpx.AsyncClient(timeout=10) as client:
                return list(
                    await asyncio.gather(
                        *(client.post(url, content=urlencode(params), headers=headers) for _ in range(3))
                    )
                )

        answers = run(twice())
        assert [a.status_code for a in answers] == [200, 200, 200]
        assert len({a.text for a in answers}) == 1
        assert "<Sip " in answers[0].text
        (record,) = gw.calls()
        (dispatches,) = rooms(gw).values()
        assert len(dispatches) == 1
        detail = gw.get(f"/v1/calls/{record['id']}")
        assert [e["kind"] for e in detail["events"]].count("bridge.requested") == 1
