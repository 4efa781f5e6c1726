"""LiveKit promises no delivery order: any order, with any repeats, of a call's webhooks must give the same final
record (status, answer and end times, duration, end reason, SIP code, recordings). Checked on both engines with
realistic event sets: inbound answered, unanswered and transferred, outbound answered, busy and unanswered, with
egress events, and carrier calls whose SIP leg was bridged into an agent's room."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from livekit.protocol import egress as proto_egress
from livekit.protocol import models as proto_models
from livekit.protocol import webhook as proto_webhook
from sqlalchemy import select

from gateway.calls.store import CallStore, NewCall
from gateway.db.database import Database
from gateway.db.models import Call, Project, Recording
from gateway.livekit.events import EventApplier
from gateway.livekit.webhooks import parse_event

pytestmark = pytest.mark.db

Reason = proto_models.DisconnectReason
NOW = 1_790_000_000
_counter = itertools.count()


@dataclass(frozen=True)
class Scenario:
    name: str
    direction: str
    answered: bool
    reason: int
    egress: bool = True
    bridged: bool = False


SCENARIOS = [
    Scenario("inbound answered", "inbound", True, Reason.CLIENT_INITIATED),
    Scenario("inbound unanswered", "inbound", False, Reason.CLIENT_INITIATED, egress=False),
    Scenario("inbound transferred", "inbound", True, Reason.PARTICIPANT_REMOVED),
    Scenario("outbound answered", "outbound", True, Reason.CLIENT_INITIATED),
    Scenario("outbound busy", "outbound", False, Reason.USER_REJECTED, egress=False),
    Scenario("outbound no answer", "outbound", False, Reason.USER_UNAVAILABLE, egress=False),
    Scenario("bridged twilio call", "inbound", True, Reason.CLIENT_INITIATED, bridged=True),
]


def webhooks(scenario: Scenario, tag: str, call_id: str | None) -> list[proto_webhook.WebhookEvent]:
    """The call's webhooks in the order LiveKit would send them, stamped in whole seconds as LiveKit does."""
    room = proto_models.Room(sid=f"RM_{tag}", name=call_id or f"room-{tag}")
    attributes = {
        "sip.callID": f"SCL_{tag}",
        "sip.callStatus": "active" if scenario.answered else "ringing",
        "sip.phoneNumber": "+14155550123",
        "sip.trunkPhoneNumber": "+14155550100",
        "sip.trunkID": "ST_x",
    }
    if call_id is not None:
        attributes["trunkline.call_id"] = call_id
    joined = proto_models.ParticipantInfo(
        identity="caller",
        kind=proto_models.ParticipantInfo.Kind.SIP,
        joined_at=NOW + 2,
        attributes=attributes,
    )
    left = proto_models.ParticipantInfo()
    left.CopyFrom(joined)
    left.attributes["sip.callStatus"] = "hangup"
    left.disconnect_reason = scenario.reason  # type: ignore[assignment]
    events = [event("participant_joined", NOW + 2, room=room, participant=joined)]
    if scenario.egress:
        recording = proto_egress.EgressInfo(
            egress_id=f"EG_{tag}", room_name=room.name, status=proto_egress.EgressStatus.EGRESS_ACTIVE
        )
        events.append(event("egress_started", NOW + 3, room=room, egress=recording))
        done = proto_egress.EgressInfo()
        done.CopyFrom(recording)
        done.status = proto_egress.EgressStatus.EGRESS_COMPLETE
        done.file_results.add(filename=f"{tag}.ogg")
        events.append(event("egress_ended", NOW + 40, room=room, egress=done))
    events.append(event("participant_left", NOW + 32, room=room, participant=left))
    events.append(event("room_finished", NOW + 45, room=room))
    return events


def event(kind: str, at: int, **parts: Any) -> proto_webhook.WebhookEvent:
    message = proto_webhook.WebhookEvent(event=kind, id=f"EV_{next(_counter)}", created_at=at)
    if "room" in parts:
        message.room.CopyFrom(parts["room"])
    if "participant" in parts:
        message.participant.CopyFrom(parts["participant"])
    if "egress" in parts:
        message.egress_info.CopyFrom(parts["egress"])
    return message


async def final_record(database: Database, project_id: str) -> tuple[Any, ...]:
    async with database.session() as db:
        (call,) = (await db.scalars(select(Call).where(Call.project_id == project_id))).all()
        recordings = (await db.scalars(select(Recording).where(Recording.project_id == project_id))).all()
    linked = sorted((r.status, r.url is not None, r.call_id == call.id) for r in recordings)
    return (
        call.carrier,
        call.status,
        call.answered_at,
        call.ended_at,
        call.duration_s,
        call.end_reason,
        call.sip_status,
        linked,
    )


async def run_scenario(database_url: str, scenario: Scenario, order: list[int]) -> tuple[Any, ...]:
    database = Database.at(database_url)
    store = CallStore(database)
    tag = f"{next(_counter)}"
    try:
        async with database.session() as db:
            project = Project(id=f"prj_{tag}", slug=f"p-{tag}", name="p", settings={})
            db.add(project)
            await db.commit()
        call_id = None
        if scenario.direction == "outbound" or scenario.bridged:
            carrier = "twilio" if scenario.bridged else "livekit"
            placed = store.new(
                NewCall(
                    project_id=project.id,
                    direction=scenario.direction,
                    carrier=carrier,
                    carrier_call_id=f"CA{tag}" if scenario.bridged else None,
                )
            )
            placed.call.livekit_room = placed.call.id
            assert await store.create(placed)
            call_id = placed.call.id
        events = webhooks(scenario, tag, call_id)
        applier = EventApplier(store, database)
        for index in order:
            await applier.apply(project.id, parse_event(events[index]), {})
        return await final_record(database, project.id)
    finally:
        await database.dispose()


def deliveries(size: int) -> st.SearchStrategy[list[int]]:
    """Every event at least once, some again, in any order."""
    base = list(range(size))
    return st.lists(st.sampled_from(base), max_size=3).flatmap(lambda extra: st.permutations(base + extra))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), scenario=st.sampled_from(SCENARIOS))
def test_any_order_of_a_calls_webhooks_gives_the_same_record(
    database_url: str, data: st.DataObject, scenario: Scenario
) -> None:
    size = len(webhooks(scenario, "probe", None))
    expected = asyncio.run(run_scenario(database_url, scenario, list(range(size))))
    delivered = data.draw(deliveries(size))
    assert asyncio.run(run_scenario(database_url, scenario, delivered)) == expected


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_in_order_records_say_what_happened(database_url: str, scenario: Scenario) -> None:
    size = len(webhooks(scenario, "probe", None))
    carrier, status, answered_at, ended_at, duration, end_reason, sip, linked = asyncio.run(
        run_scenario(database_url, scenario, list(reversed(range(size))))
    )
    if scenario.bridged:  # the carrier's callbacks own a bridged call's lifecycle: the leg only notes itself
        assert (carrier, status, ended_at) == ("twilio", "initiated", None)
        return
    expected_status = {
        "inbound answered": "completed",
        "inbound unanswered": "canceled",
        "inbound transferred": "completed",
        "outbound answered": "completed",
        "outbound busy": "busy",
        "outbound no answer": "no-answer",
    }[scenario.name]
    assert status == expected_status
    if scenario.answered:
        assert duration == 30
        assert answered_at is not None
        assert ended_at is not None
        assert (
            end_reason
            == {
                Reason.CLIENT_INITIATED: "far end hung up",
                Reason.PARTICIPANT_REMOVED: "removed from the room",
            }[scenario.reason]
        )
    else:
        assert duration is None
    assert sip is None
    if scenario.egress:
        assert linked == [("complete", True, True)]
