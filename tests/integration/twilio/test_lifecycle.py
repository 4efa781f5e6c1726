"""The call lifecycle from Twilio's callbacks: any order, any number of repeats, one final state; recordings
become one row per RecordingSid."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from gateway.db.models import Recording
from gateway.settings import load_settings
from tests.conftest import run_db
from tests.integration.twilio.harness import CALLER, NUMBER, Gateway, run, running_gateway
from tests.support.twilio import SimulatedClock
from tests.support.twilio.callbacks import CallParty, recording_callback_params

pytestmark = pytest.mark.db

START = datetime(2025, 3, 4, 9, 30, tzinfo=UTC)
ALL_EVENTS = ("initiated", "ringing", "answered", "completed")
FINAL_FIELDS = (
    "status",
    "ringing_at",
    "answered_at",
    "ended_at",
    "duration_s",
    "sip_status",
    "carrier_status",
    "end_reason",
)


async def voicemail_call(gw: Gateway, seed: int) -> tuple[str, str]:
    """A caller leaves a message; then the status callbacks come, shuffled and repeated per `seed`."""
    async with gw.simulator(clock=SimulatedClock(START), status_callback_events=ALL_EVENTS) as twilio:
        conversation = twilio.conversation(auto_status_callbacks=False)
        await conversation.start(CALLER, NUMBER)
        recording_sid = await conversation.record(7, finish_key="#")
        assert conversation.hung_up
        sent = await conversation.send_status_callbacks(
            shuffle=seed > 0, duplicates=3 * seed, rng=random.Random(seed)
        )
        assert all(delivery.ok for delivery in sent)
        return conversation.call_sid, recording_sid


def test_shuffled_and_duplicated_status_callbacks_reach_one_final_state(
    database_url: str, tmp_path: Path
) -> None:
    with running_gateway(database_url, tmp_path) as gw:
        gw.route("voicemail", {"type": "voicemail"})
        sids = [run(voicemail_call(gw, seed))[0] for seed in range(5)]
        records = [gw.call_by_sid(sid) for sid in sids]

    finals = [{name: record[name] for name in FINAL_FIELDS} for record in records]
    assert all(final == finals[0] for final in finals[1:])
    assert finals[0]["status"] == "completed"
    assert finals[0]["carrier_status"] == "completed"
    assert finals[0]["end_reason"] == "twilio completed"
    assert finals[0]["sip_status"] == 200
    assert finals[0]["duration_s"] is not None
    assert finals[0]["duration_s"] > 0
    assert finals[0]["ringing_at"] < finals[0]["answered_at"] < finals[0]["ended_at"]
    for record in records:
        reported = [
            e["data"]["call_status"]
            for e in record["events"]
            if e["kind"].startswith("status.") and e["data"].get("sequence") is not None
        ]
        assert sorted(reported) == ["completed", "in-progress", "ringing"]
        assert [e["seq"] for e in record["events"]] == list(range(1, len(record["events"]) + 1))


def _recordings(database_url: str) -> list[Recording]:
    async def fetch(session: Any) -> list[Recording]:
        return list((await session.scalars(select(Recording).order_by(Recording.external_id))).all())

    result: list[Recording] = run_db(load_settings(env={"DATABASE_URL": database_url}, dotenv=None), fetch)
    return result


def test_recording_callbacks_in_any_order_make_one_recording(database_url: str, tmp_path: Path) -> None:
    with running_gateway(database_url, tmp_path) as gw:
        gw.route("voicemail", {"type": "voicemail"})
        call_sid, recording_sid = run(voicemail_call(gw, 0))
        record = gw.call_by_sid(call_sid)

        async def callbacks() -> None:
            async with gw.simulator() as twilio:
                party = CallParty(twilio.account_sid, call_sid, CALLER, NUMBER)
                params = [
                    recording_callback_params(
                        party,
                        recording_sid=recording_sid,
                        status=status,
                        duration=duration,
                        started_at=START,
                        source="RecordVerb",
                    )
                    for status, duration in (("in-progress", 0), ("completed", 7), ("completed", 7))
                ]
                batch = params * 3
                random.Random(7).shuffle(batch)
                for item in batch:
                    delivery = await twilio.sender.send(f"{gw.url}/carriers/twilio/recording", item)
                    assert delivery.ok

        run(callbacks())
        events = [e["kind"] for e in gw.get(f"/v1/calls/{record['id']}")["events"]]

    (recording,) = _recordings(database_url)
    assert (recording.external_id, recording.status, recording.duration_s) == (recording_sid, "completed", 7)
    assert recording.call_id == record["id"]
    assert recording.url is not None
    assert recording.url.endswith(recording_sid)
    assert events.count("recording.completed") == 1
    assert events.count("recording.in-progress") == 1
