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
    joined = proto_models.ParticipantInfo(
        identity="caller",
        kind=proto_models.ParticipantInfo.Kind.SIP,
        joined_at=now - 30,
        attributes=attributes,
    )
    left = proto_models.ParticipantInfo()
    left.CopyFrom(joined)
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
    async def no_trunks(_db: AsyncSession, _project: str) -> dict[str, str]:
        return {}

    async def nothing(_project: str, _applied: Applied) -> None:
        return None

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
