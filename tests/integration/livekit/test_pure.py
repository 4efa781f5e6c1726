"""Pure parts of the LiveKit integration, alone: the sync planner, marks, and what webhooks mean for a call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from livekit import api
from livekit.protocol import models as proto_models

from gateway.calls.lifecycle import CallState, StatusUpdate, fold
from gateway.livekit import bridging, desired
from gateway.livekit.call_effects import participant_effect, room_effect, sip_effect
from gateway.livekit.sync_plan import Wanted, digest, plan
from gateway.livekit.webhooks import LiveKitEvent, Participant, parse_event
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
    effect = sip_effect(event, participant, direction="inbound")  # type: ignore[arg-type]
    assert effect.update is not None
    assert (effect.update.state, effect.update.at) == (
        CallState.ANSWERED,
        datetime.fromtimestamp(1_700_000_000, UTC),
    )
    assert effect.watch is None
    event, participant = _sip_event("participant_joined", "ringing")
    ringing = sip_effect(event, participant, direction="inbound")  # type: ignore[arg-type]
    assert ringing.update is not None
    assert ringing.update.state is CallState.RINGING
    assert ringing.watch == ("r", "caller")
    outbound = sip_effect(event, participant, direction="outbound")  # type: ignore[arg-type]
    assert outbound.watch is None, "outbound calls learn their answer from the dial"


def test_how_a_leaving_participant_ends_the_call() -> None:
    answered_at = datetime.fromtimestamp(1_700_000_005, UTC)
    event, participant = _sip_event(
        "participant_left", "active", proto_models.DisconnectReason.CLIENT_INITIATED
    )
    done = sip_effect(event, participant, direction="inbound")  # type: ignore[arg-type]
    assert done.update is not None
    ended = fold([StatusUpdate(state=CallState.ANSWERED, at=answered_at), done.update])
    assert (ended.state, ended.connected_seconds, ended.end_reason) == (
        CallState.COMPLETED,
        5,
        "far end hung up",
    )
    assert fold([done.update, StatusUpdate(state=CallState.ANSWERED, at=answered_at)]) == ended
    event, participant = _sip_event(
        "participant_left", "ringing", proto_models.DisconnectReason.USER_REJECTED
    )
    busy = sip_effect(event, participant, direction="outbound")  # type: ignore[arg-type]
    assert busy.update is not None
    assert (busy.update.state, fold([busy.update]).end_reason) == (CallState.BUSY, None), (
        "the dial's SIP status explains it"
    )
    gave_up = sip_effect(event, participant, direction="inbound")  # type: ignore[arg-type]
    assert gave_up.update is not None
    assert gave_up.update.state is CallState.CANCELED


def test_a_finished_room_completes_answered_calls_and_cancels_the_rest() -> None:
    event = parse_event(build_event("room_finished", room=proto_models.Room(name="r")))
    update = room_effect(event).update
    assert update is not None
    assert fold([update]).state is CallState.CANCELED
    answered = StatusUpdate(state=CallState.ANSWERED, at=datetime.now(UTC) - timedelta(seconds=5))
    assert fold([update, answered]).state is CallState.COMPLETED


def test_the_bridge_trunk_and_rule_are_marked_derived_and_stable() -> None:
    credentials = bridging.bridge_credentials(PROJECT, "secret-a")
    assert credentials == bridging.bridge_credentials(PROJECT, "secret-a"), "every replica derives the same"
    assert credentials != bridging.bridge_credentials("prj_2", "secret-a")
    assert credentials.password != bridging.bridge_credentials(PROJECT, "secret-b").password
    assert credentials.password not in repr(credentials)
    assert "secret-a" not in credentials.username + credentials.password

    trunk_info = bridging.bridge_trunk(PROJECT, credentials)
    assert desired.mark_of(trunk_info) == desired.Mark(PROJECT, bridging.BRIDGE_KEY)
    assert list(trunk_info.numbers) == [], "any dialled user part (the call id)"
    assert (trunk_info.auth_username, trunk_info.auth_password) == (
        credentials.username,
        credentials.password,
    )
    assert dict(trunk_info.headers_to_attributes) == {
        "X-Trunkline-Call-Id": "trunkline.call_id",
        "X-Trunkline-Agent": "trunkline.agent",
    }
    rule = bridging.bridge_rule(PROJECT, "ST_bridge")
    assert desired.mark_of(rule) == desired.Mark(PROJECT, bridging.BRIDGE_KEY)
    assert list(rule.trunk_ids) == ["ST_bridge"]
    assert rule.rule.WhichOneof("rule") == "dispatch_rule_callee"
    callee = rule.rule.dispatch_rule_callee
    assert (callee.room_prefix, callee.randomize, callee.pin) == ("", False, "")
    assert not rule.HasField("room_config"), "the agent is already in the call's room"
    assert digest(rule) == digest(bridging.bridge_rule(PROJECT, "ST_bridge"))


def test_the_bridge_trunk_is_planned_like_any_marked_object() -> None:
    info = bridging.bridge_trunk(PROJECT, bridging.bridge_credentials(PROJECT, "secret-a"))
    item = Wanted(desired.Desired("inbound_trunk", bridging.BRIDGE_KEY, info, "ST_b"), digest(info))
    assert plan(PROJECT, [item], [held(info, "ST_b")]) == []
    rotated = bridging.bridge_trunk(PROJECT, bridging.bridge_credentials(PROJECT, "secret-b"))
    (update,) = plan(PROJECT, [item], [held(rotated, "ST_b")])
    assert (update.action, update.drift) == ("update", True), "LiveKit's copy differs from the derived one"


def _bridged_event(name: str, reason: int = 0) -> tuple[LiveKitEvent, Participant]:
    participant = proto_models.ParticipantInfo(
        identity="sip_+14155550123",
        kind=proto_models.ParticipantInfo.Kind.SIP,
        joined_at=1_700_000_000,
        disconnect_reason=reason,  # type: ignore[arg-type]
        attributes={
            "sip.callID": "SCL_9",
            "sip.callStatus": "active",
            "trunkline.call_id": "call_1",
            "trunkline.agent": "sales",
        },
    )
    event = build_event(name, room=proto_models.Room(name="call_1"), participant=participant)
    parsed = parse_event(event)
    assert parsed.participant is not None
    return parsed, parsed.participant


def test_a_bridged_leg_is_noted_on_its_carrier_call_and_never_changes_its_status() -> None:
    event, participant = _bridged_event("participant_joined")
    joined = participant_effect(event, participant, carrier="twilio", direction="inbound")
    assert (joined.update, joined.note, joined.room, joined.watch) == (None, "bridge.joined", "call_1", None)
    assert joined.carrier_call_id is None, "the Twilio call keeps its CallSid"
    assert (joined.data["agent"], joined.data["sip_call_id"]) == ("sales", "SCL_9")
    assert "14155550123" not in str(joined.data)

    event, participant = _bridged_event("participant_left", proto_models.DisconnectReason.CLIENT_INITIATED)
    left = participant_effect(event, participant, carrier="twilio", direction="inbound")
    assert (left.update, left.note) == (None, "bridge.left")
    placed = participant_effect(event, participant, carrier="livekit", direction="outbound")
    assert placed.update is not None
    assert placed.update.state is CallState.COMPLETED, "LiveKit's own calls end"

    finished = parse_event(build_event("room_finished", room=proto_models.Room(name="call_1")))
    noted = room_effect(finished, carrier="twilio")
    assert (noted.update, noted.note) == (None, "bridge.room_finished")
