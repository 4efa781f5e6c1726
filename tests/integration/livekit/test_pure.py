"""Pure parts of the LiveKit integration, alone: the sync planner, marks, and what webhooks mean for a call."""

from __future__ import annotations

from datetime import UTC, datetime

from livekit import api
from livekit.protocol import models as proto_models

from gateway.calls.lifecycle import CallSnapshot, CallState
from gateway.livekit import desired
from gateway.livekit.call_effects import room_effect, sip_effect
from gateway.livekit.sync_plan import Wanted, digest, plan
from gateway.livekit.webhooks import parse_event
from tests.support.livekit_standin.webhooks import build_event

PROJECT = "prj_1"


def trunk(numbers: list[str], *, trunk_id: str = "trk_1", project: str = PROJECT) -> api.SIPInboundTrunkInfo:
    return desired.inbound_trunk(project, trunk_id, "carrier", {"numbers": numbers}, None, numbers)


def held(info: api.SIPInboundTrunkInfo, livekit_id: str) -> desired.Actual:
    copy = api.SIPInboundTrunkInfo()
    copy.CopyFrom(info)
    copy.sip_trunk_id = livekit_id
    return desired.actual("inbound_trunk", copy)


def want(info: api.SIPInboundTrunkInfo, known: str | None = None, synced: str | None = None) -> Wanted:
    return Wanted(desired.Desired("inbound_trunk", "trk_1", info, known), synced)


def actions(ops: list) -> list[tuple[str, str | None, bool]]:  # type: ignore[type-arg]
    return [(op.action, op.livekit_id, op.drift) for op in ops]


def test_marks_tell_ours_from_theirs() -> None:
    ours = trunk(["+14155550100"])
    assert desired.mark_of(ours) == desired.Mark(PROJECT, "trk_1")
    assert desired.mark_of(api.SIPInboundTrunkInfo(metadata='{"managed_by": "someone"}')) is None
    assert desired.mark_of(api.SIPInboundTrunkInfo(metadata="not json")) is None
    rule = desired.manual_rule(PROJECT, "sdr_1", "r", "direct", {"room_name": "x"}, ["ST_1"])
    assert desired.mark_of(rule) == desired.Mark(PROJECT, "sdr_1")
    assert rule.rule.dispatch_rule_direct.room_name == "x"
    assert list(rule.trunk_ids) == ["ST_1"]


def test_nothing_to_do_when_livekit_holds_what_we_want() -> None:
    info = trunk(["+14155550100"])
    assert plan(PROJECT, [want(info, "ST_1")], [held(info, "ST_1")]) == []


def test_create_update_delete_and_adopt() -> None:
    info = trunk(["+14155550100"])
    assert actions(plan(PROJECT, [want(info)], [])) == [("create", None, False)]
    assert actions(plan(PROJECT, [want(info, "ST_gone")], [])) == [("create", None, True)], (
        "deleted in LiveKit"
    )
    changed = trunk(["+14155550199"])
    assert actions(plan(PROJECT, [want(changed, "ST_1", digest(info))], [held(info, "ST_1")])) == [
        ("update", "ST_1", False)
    ], "changed in Trunkline since the last sync"
    assert actions(plan(PROJECT, [want(info, "ST_1", digest(info))], [held(changed, "ST_1")])) == [
        ("update", "ST_1", True)
    ], "changed in LiveKit behind our back"
    assert actions(plan(PROJECT, [], [held(info, "ST_1")])) == [("delete", "ST_1", False)]
    assert actions(plan(PROJECT, [want(info)], [held(info, "ST_9")])) == [("adopt", "ST_9", False)]


def test_extra_copies_are_deleted_and_others_are_left_alone() -> None:
    info = trunk(["+14155550100"])
    foreign = api.SIPInboundTrunkInfo(name="theirs", numbers=["+1"], sip_trunk_id="ST_theirs")
    other_project = trunk(["+14155550100"], project="prj_2")
    current = [
        held(info, "ST_1"),
        held(info, "ST_2"),
        desired.actual("inbound_trunk", foreign),
        held(other_project, "ST_3"),
    ]
    assert actions(plan(PROJECT, [want(info, "ST_2")], current)) == [("delete", "ST_1", True)]
    assert plan(PROJECT, [], current[:1], keep={"trk_1"}) == [], "kept while its trunk is not synced yet"


def _sip_event(
    name: str, status: str, reason: int = 0, joined_at: int = 1_700_000_000
) -> tuple[object, object]:
    participant = proto_models.ParticipantInfo(
        identity="caller",
        kind=proto_models.ParticipantInfo.Kind.SIP,
        joined_at=joined_at,
        disconnect_reason=reason,  # type: ignore[arg-type]
        attributes={"sip.callID": "SCL_1", "sip.callStatus": status},
    )
    event = build_event(name, room=proto_models.Room(name="r"), participant=participant)
    event.created_at = joined_at + 10
    parsed = parse_event(event)
    return parsed, parsed.participant


def test_answered_comes_from_the_call_status_and_ringing_calls_are_watched() -> None:
    event, participant = _sip_event("participant_joined", "active")
    effect = sip_effect(event, participant, direction="inbound", snapshot=CallSnapshot())  # type: ignore[arg-type]
    assert effect.update is not None
    assert (effect.update.state, effect.update.at) == (
        CallState.ANSWERED,
        datetime.fromtimestamp(1_700_000_000, UTC),
    )
    assert effect.watch is None
    event, participant = _sip_event("participant_joined", "ringing")
    ringing = sip_effect(event, participant, direction="inbound", snapshot=CallSnapshot())  # type: ignore[arg-type]
    assert ringing.update is not None
    assert ringing.update.state is CallState.RINGING
    assert ringing.watch == ("r", "caller")
    outbound = sip_effect(event, participant, direction="outbound", snapshot=CallSnapshot())  # type: ignore[arg-type]
    assert outbound.watch is None, "outbound calls learn their answer from the dial"


def test_how_a_leaving_participant_ends_the_call() -> None:
    answered_at = datetime.fromtimestamp(1_700_000_005, UTC)
    event, participant = _sip_event(
        "participant_left", "active", proto_models.DisconnectReason.CLIENT_INITIATED
    )
    done = sip_effect(event, participant, direction="inbound", snapshot=CallSnapshot(answered_at=answered_at))  # type: ignore[arg-type]
    assert done.update is not None
    assert (done.update.state, done.update.duration, done.end_reason) == (
        CallState.COMPLETED,
        5,
        "far end hung up",
    )
    event, participant = _sip_event(
        "participant_left", "ringing", proto_models.DisconnectReason.USER_REJECTED
    )
    busy = sip_effect(event, participant, direction="outbound", snapshot=CallSnapshot())  # type: ignore[arg-type]
    assert busy.update is not None
    assert (busy.update.state, busy.end_reason) == (CallState.BUSY, None), "the dial's SIP status explains it"
    gave_up = sip_effect(event, participant, direction="inbound", snapshot=CallSnapshot())  # type: ignore[arg-type]
    assert gave_up.update is not None
    assert gave_up.update.state is CallState.CANCELED


def test_a_finished_room_completes_answered_calls_and_cancels_the_rest() -> None:
    event = parse_event(build_event("room_finished", room=proto_models.Room(name="r")))
    assert room_effect(event, snapshot=CallSnapshot()).update.state is CallState.CANCELED  # type: ignore[union-attr]
    answered = CallSnapshot(answered_at=datetime.now(UTC))
    assert room_effect(event, snapshot=answered).update.state is CallState.COMPLETED  # type: ignore[union-attr]
