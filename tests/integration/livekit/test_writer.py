"""The group-commit webhook writer agrees with the one-event-at-a-time path through `records`, on both engines."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from livekit.protocol import egress as proto_egress
from livekit.protocol import models as proto_models
from livekit.protocol import webhook as proto_webhook
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.calls.records import NewCall, new_call
from gateway.db.engine import create_engine, session_factory
from gateway.db.models import Call, CallEvent, Project, Recording
from gateway.ids import new_id
from gateway.livekit.events import Applied
from gateway.livekit.webhooks import parse_event
from gateway.livekit.writer import EventWriter
from gateway.settings import load_settings
from tests.support.livekit_standin.webhooks import build_event

pytestmark = pytest.mark.anyio

CALLS = 12
Reason = proto_models.DisconnectReason


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(load_settings(env={"DATABASE_URL": database_url}, dotenv=None).async_database_url)
    yield session_factory(engine)
    await engine.dispose()


async def project(sessions: async_sessionmaker[AsyncSession]) -> str:
    async with sessions() as db:
        row = Project(
            id=new_id("prj"), slug=new_id("p").lower().replace("_", "-")[:40], name="p", settings={}
        )
        db.add(row)
        await db.commit()
        return row.id


async def no_trunks(_db: object, _project: str) -> dict[str, str]:
    return {}


async def nothing(_project: str, _applied: Applied) -> None:
    return None


def sip_legs(identity: str, attributes: dict[str, str], now: int) -> tuple[Any, Any]:
    """A SIP participant as it joined, and a copy to mark up as it left."""
    joined = proto_models.ParticipantInfo(
        identity=identity,
        kind=proto_models.ParticipantInfo.Kind.SIP,
        joined_at=now - 30,
        attributes=attributes,
    )
    left = proto_models.ParticipantInfo()
    left.CopyFrom(joined)
    return joined, left


def history(prefix: str, n: int, now: int) -> list[proto_webhook.WebhookEvent]:
    """One call's webhooks: joined ringing or active, maybe a repeat, left for some reason, room finished."""
    rng = random.Random(n)
    room = proto_models.Room(sid=f"RM_{prefix}{n}", name=f"room-{prefix}-{n}")
    status = rng.choice(["ringing", "active", "dialing"])
    attributes = {
        "sip.callID": f"SCL_{prefix}_{n}",
        "sip.callStatus": status,
        "sip.phoneNumber": "+14155550123",
        "sip.trunkPhoneNumber": "+14155550100",
        "sip.trunkID": "ST_x",
    }
    joined, left = sip_legs("caller", attributes, now)
    left.attributes["sip.callStatus"] = rng.choice(["active", status])
    left.disconnect_reason = rng.choice([Reason.CLIENT_INITIATED, Reason.USER_REJECTED, Reason.ROOM_DELETED])
    recording = proto_egress.EgressInfo(
        egress_id=f"EG_{prefix}{n}", room_name=room.name, status=proto_egress.EgressStatus.EGRESS_COMPLETE
    )
    recording.file_results.add(filename=f"call-{n}.ogg")
    events = [
        build_event("participant_joined", room=room, participant=joined),
        build_event("egress_ended", room=room, egress=recording),
        build_event("participant_left", room=room, participant=left),
        build_event("room_finished", room=room),
    ]
    for offset, event in enumerate(events):
        event.created_at = now - 20 + offset * 5
    rng.shuffle(events)
    return events + events[: rng.randint(0, 2)]


async def outcome(sessions: async_sessionmaker[AsyncSession], project_id: str) -> list[tuple[Any, ...]]:
    async with sessions() as db:
        calls = (await db.scalars(select(Call).where(Call.project_id == project_id))).all()
        result = []
        for call in sorted(calls, key=lambda c: c.carrier_call_id or ""):
            rows = (
                await db.scalars(
                    select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.seq)
                )
            ).all()
            steps = [(e.seq, e.kind, {k: v for k, v in e.data.items() if k != "event_id"}) for e in rows]
            result.append(
                (
                    (call.carrier_call_id or "").split("_")[-1],
                    call.status,
                    call.ringing_at,
                    call.answered_at,
                    call.ended_at,
                    call.end_reason,
                    call.duration_s,
                    call.from_e164,
                    steps,
                )
            )
        recordings = (await db.scalars(select(Recording).where(Recording.project_id == project_id))).all()
        by_id = {call.id: (call.carrier_call_id or "").split("_")[-1] for call in calls}
        linked = sorted((r.external_id[4:], r.status, r.url, by_id.get(r.call_id or "")) for r in recordings)
        result.append(("recordings", linked))
        return result


async def test_batched_writes_match_one_by_one_writes(sessions: async_sessionmaker[AsyncSession]) -> None:
    now = 1_790_000_000
    outcomes = []
    for prefix, batched in (("b", True), ("s", False)):
        project_id = await project(sessions)
        writer = EventWriter(sessions, no_trunks, nothing)
        if batched:
            writer.start()
        events = [e for n in range(CALLS) for e in history(prefix, n, now)]
        results = []
        if batched:
            results = await asyncio.gather(*(writer.submit(project_id, e.id, parse_event(e)) for e in events))
            await writer.stop()
            assert writer.batches < len(events), "events arriving together share a transaction"
        else:
            results = [await writer.submit(project_id, e.id, parse_event(e)) for e in events]
        assert results.count("duplicate") == len(events) - 4 * CALLS
        outcomes.append(await outcome(sessions, project_id))
    assert len(outcomes[0]) == CALLS + 1
    assert outcomes[0] == outcomes[1]


def bridged_history(call_id: str, n: int, now: int) -> list[proto_webhook.WebhookEvent]:
    """Webhooks of a carrier call's SIP leg in the agent's room (bridge trunk: `trunkline.call_id` attribute)."""
    rng = random.Random(n)
    room = proto_models.Room(sid=f"RM_bridge{n}", name=call_id)
    attributes = {
        "sip.callID": f"SCL_bridge_{n}",
        "sip.callStatus": rng.choice(["ringing", "active"]),
        "sip.phoneNumber": "+14155550123",
        "sip.trunkPhoneNumber": call_id,
        "trunkline.call_id": call_id,
        "trunkline.agent": "sales",
    }
    joined, left = sip_legs("sip_+14155550123", attributes, now)
    left.disconnect_reason = rng.choice([Reason.CLIENT_INITIATED, Reason.ROOM_DELETED])
    events = [
        build_event("participant_joined", room=room, participant=joined),
        build_event("participant_left", room=room, participant=left),
        build_event("room_finished", room=room),
    ]
    for offset, event in enumerate(events):
        event.created_at = now - 20 + offset * 5
    rng.shuffle(events)
    return events + events[: rng.randint(0, 2)]


async def twilio_calls(sessions: async_sessionmaker[AsyncSession], project_id: str) -> list[str]:
    """Answered Twilio calls bridged to an agent; every other one already knows its room."""
    async with sessions() as db:
        calls = []
        for n in range(CALLS):
            call = new_call(
                NewCall(
                    project_id=project_id,
                    direction="inbound",
                    carrier="twilio",
                    carrier_call_id=f"CA_{project_id}_{n:02}",
                )
            )
            call.status = "answered"
            call.livekit_room = call.id if n % 2 else None
            calls.append(call)
        db.add_all(calls)
        await db.commit()
        return [call.id for call in calls]


async def bridged_outcome(
    sessions: async_sessionmaker[AsyncSession], project_id: str
) -> list[tuple[Any, ...]]:
    async with sessions() as db:
        calls = (await db.scalars(select(Call).where(Call.project_id == project_id))).all()
        result = []
        for call in sorted(calls, key=lambda c: c.carrier_call_id or ""):
            rows = (
                await db.scalars(
                    select(CallEvent).where(CallEvent.call_id == call.id).order_by(CallEvent.seq)
                )
            ).all()
            steps = [
                (e.seq, e.kind, {k: v for k, v in e.data.items() if k not in ("event_id", "room")})
                for e in rows
            ]
            assert all(e.data["room"] == call.id for e in rows)
            result.append(
                (
                    call.carrier,
                    (call.carrier_call_id or "").split("_")[-1],
                    call.status,
                    call.end_reason,
                    call.livekit_room == call.id,
                    steps,
                )
            )
        return result


async def test_bridged_legs_attach_to_their_carrier_calls_alike_in_batches_and_one_by_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = 1_790_000_000
    outcomes = []
    for batched in (True, False):
        project_id = await project(sessions)
        call_ids = await twilio_calls(sessions, project_id)
        writer = EventWriter(sessions, no_trunks, nothing)
        if batched:
            writer.start()
        events = [e for n, call_id in enumerate(call_ids) for e in bridged_history(call_id, n, now)]
        if batched:
            await asyncio.gather(*(writer.submit(project_id, e.id, parse_event(e)) for e in events))
            await writer.stop()
        else:
            for e in events:
                await writer.submit(project_id, e.id, parse_event(e))
        outcomes.append(await bridged_outcome(sessions, project_id))
    assert outcomes[0] == outcomes[1]
    calls = outcomes[0]
    assert len(calls) == CALLS, "no call record is opened for a bridged leg"
    for n, (carrier, _, status, end_reason, room_set, steps) in enumerate(calls):
        assert (carrier, status, end_reason, room_set) == ("twilio", "answered", None, True)
        noted = sorted(kind for _, kind, _ in steps)
        if n % 2:  # the room was known before any webhook, so its end is noted whatever the order
            assert noted == ["bridge.joined", "bridge.left", "bridge.room_finished"]
        else:
            assert {"bridge.joined", "bridge.left"} <= set(noted)


async def test_replays_in_a_later_batch_are_duplicates_and_the_new_events_with_them_still_apply(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    now = 1_790_000_000
    project_id = await project(sessions)
    writer = EventWriter(sessions, no_trunks, nothing)
    writer.start()
    first = [e for n in range(4) for e in history("r", n, now)[:4]]
    await asyncio.gather(*(writer.submit(project_id, e.id, parse_event(e)) for e in first))
    before = await outcome(sessions, project_id)
    later = [e for n in range(4, 8) for e in history("r", n, now)[:4]]
    mixed = [*first[::2], *later, *first[1::2]]
    results = await asyncio.gather(*(writer.submit(project_id, e.id, parse_event(e)) for e in mixed))
    await writer.stop()
    replays = len(first)
    assert sorted(results[: replays // 2] + results[-(replays - replays // 2) :]) == ["duplicate"] * replays
    assert set(results[replays // 2 : -(replays - replays // 2)]) == {"applied"}
    after = await outcome(sessions, project_id)
    assert after[:4] == before[:4], "replayed events changed nothing"
    assert len(after) == 8 + 1
