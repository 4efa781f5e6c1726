"""The `<Dial><Sip>` of an agent bridge, dialled into the LiveKit stand-in after a sync: the SIP leg lands in the
room where the agent was dispatched (bridge trunk + callee rule), and LiveKit's webhooks attach it to the Twilio
call record instead of opening a second one; Twilio's callbacks still own the call's lifecycle."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import pytest
from livekit.protocol.models import ParticipantInfo

from tests.integration.twilio.harness import CALLER, NUMBER, Gateway, run, running_gateway
from tests.support.twilio import Conversation

pytestmark = pytest.mark.db

T = TypeVar("T")
AGENT = "sales-assistant"
SIP_KIND = ParticipantInfo.Kind.SIP


def eventually(check: Callable[[], T | None], *, timeout: float = 10.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        else:
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError("check returned a falsy value")
        time.sleep(0.05)


def kinds(record: dict[str, Any]) -> list[str]:
    return [event["kind"] for event in record["events"]]


def with_event(gw: Gateway, conversation: Conversation, kind: str) -> dict[str, Any] | None:
    record = gw.call_by_sid(conversation.call_sid)
    return record if kind in kinds(record) else None


def setup(gw: Gateway) -> None:
    gw.agent(AGENT, instructions="Sell Acme widgets")
    gw.route("agents", {"type": "agent", "agent": AGENT})
    gw.create("/v1/trunks", {"direction": "inbound", "name": "carrier-in", "numbers": [NUMBER]})
    response = gw.http.post("/v1/sync")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ok", response.text


def test_the_bridged_leg_joins_the_agents_room_and_the_call_keeps_one_record(
    database_url: str, tmp_path: Path
) -> None:
    with running_gateway(database_url, tmp_path, livekit_webhooks=True) as gw:
        setup(gw)
        assert gw.livekit is not None
        livekit = gw.livekit.standin

        async def scenario() -> tuple[Conversation, dict[str, Any], dict[str, Any]]:
            async with gw.simulator() as twilio:
                conversation = await twilio.call(CALLER, NUMBER, auto_status_callbacks=False)
                record = gw.call_by_sid(conversation.call_sid)
                (dialed,) = conversation.dialed
                target = urlsplit(dialed.address)
                user, _, host = target.path.partition("@")
                headers = dict(parse_qsl(target.query))
                username, password = dialed.attributes["username"], dialed.attributes["password"]
                assert (dialed.kind, host, user) == ("sip", "trunkline-test.sip.livekit.cloud", record["id"])

                refused = livekit.simulate_inbound_call(
                    CALLER, user, headers=headers, username=username, password="not-the-password"
                )
                assert (refused.outcome, refused.sip_status) == ("rejected", 401)

                leg = livekit.simulate_inbound_call(
                    CALLER, user, headers=headers, username=username, password=password
                )
                assert leg.outcome == "accepted"
                assert leg.room_name == record["livekit_room"] == record["id"]
                assert leg.agents_dispatched == (AGENT,), (
                    "the leg meets the agent dispatched into the call's room"
                )
                with livekit.world.lock:
                    (participant,) = [
                        p
                        for p in livekit.world.rooms[leg.room_name].participants.values()
                        if p.kind == SIP_KIND
                    ]
                    attributes = dict(participant.attributes)
                assert attributes["trunkline.call_id"] == record["id"]
                assert attributes["trunkline.agent"] == AGENT

                joined = eventually(lambda: with_event(gw, conversation, "bridge.joined"))
                assert livekit.hang_up(leg.room_name, leg.participant_identity)
                left = eventually(lambda: with_event(gw, conversation, "bridge.left"))
                assert left["status"] == record["status"], "the leg's end does not end the Twilio call"
                assert left["end_reason"] == record["end_reason"]
                assert len(gw.calls()) == 1, "one phone call, one record"

                await conversation.send_status_callbacks()
                return conversation, joined, left

        conversation, joined, left = run(scenario())
        (data,) = [e["data"] for e in joined["events"] if e["kind"] == "bridge.joined"]
        assert data["agent"] == AGENT
        assert data["room"] == joined["livekit_room"]
        assert CALLER not in str(data), "the caller's number is masked in call events"
        assert not [k for k in kinds(left) if k.startswith("status.") and "livekit" in k]
        done = eventually(lambda: (c := gw.call_by_sid(conversation.call_sid))["status"] == "completed" and c)
        assert done["carrier"] == "twilio"
        assert len(gw.calls()) == 1


def test_an_ordinary_call_to_the_number_still_takes_the_numbers_trunk_and_rule(
    database_url: str, tmp_path: Path
) -> None:
    """A trunk listing the number is more specific than the any-number bridge trunk (LiveKit: most specific wins)."""
    with running_gateway(database_url, tmp_path) as gw:
        setup(gw)
        assert gw.livekit is not None
        livekit = gw.livekit.standin
        (trunk,) = [t for t in gw.get("/v1/trunks")["items"] if t["name"] == "carrier-in"]
        plain = livekit.simulate_inbound_call(CALLER, NUMBER)
        assert plain.outcome == "accepted"
        assert plain.trunk_id == trunk["livekit_trunk_id"]
        assert plain.agents_dispatched == (AGENT,)
        assert not plain.room_name.startswith("call_")
