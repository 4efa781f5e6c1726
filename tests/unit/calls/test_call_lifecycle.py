"""The call lifecycle: order independence, absorbing terminal states, and the carrier mappings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.calls.lifecycle import (
    TERMINAL_STATES,
    CallSnapshot,
    CallState,
    StatusUpdate,
    UnknownCallStatus,
    fold,
    state_from_sip,
    state_from_twilio,
    transition,
)

T0 = datetime(2025, 3, 4, 10, 0, 0, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def twilio(
    status: str, seq: int | None, t: int, *, duration: int | None = None, sip: int | None = None
) -> StatusUpdate:
    """An update as the Twilio adapter builds it from a status callback."""
    return StatusUpdate(
        state=state_from_twilio(status, sip), at=at(t), sequence=seq, duration=duration, sip_code=sip
    )


# Realistic callback sets: what one call's callbacks look like, in the order Twilio emitted them.
ANSWERED = [
    twilio("initiated", 0, 0),
    twilio("ringing", 1, 2),
    twilio("in-progress", 2, 9),
    twilio("completed", 3, 51, duration=42, sip=200),
]
ANSWERED_TWO_SOURCES = [
    twilio("ringing", 0, 2),
    twilio("in-progress", 1, 9),
    StatusUpdate(state=CallState.COMPLETED, at=at(52)),  # e.g. LiveKit saw the BYE first, without a duration
    twilio("completed", 2, 51, duration=42, sip=200),
]
BUSY = [twilio("ringing", 0, 1), twilio("busy", 1, 4, sip=486)]
NO_ANSWER = [twilio("initiated", 0, 0), twilio("ringing", 1, 1), twilio("no-answer", 2, 31, sip=480)]
CANCELED = [twilio("ringing", 0, 1), twilio("canceled", 1, 6, sip=487)]
FAILED = [twilio("initiated", 0, 0), twilio("failed", 1, 1, sip=404)]
DECLINED = [twilio("ringing", 0, 1), twilio("busy", 1, 3, sip=603)]

SCENARIOS = {
    "answered": (ANSWERED, CallState.COMPLETED),
    "answered_two_sources": (ANSWERED_TWO_SOURCES, CallState.COMPLETED),
    "busy": (BUSY, CallState.BUSY),
    "no_answer": (NO_ANSWER, CallState.NO_ANSWER),
    "canceled": (CANCELED, CallState.CANCELED),
    "failed": (FAILED, CallState.FAILED),
    "declined": (DECLINED, CallState.DECLINED),
}


@st.composite
def shuffled_with_repeats(draw: st.DrawFn, updates: list[StatusUpdate]) -> list[StatusUpdate]:
    repeats = draw(st.lists(st.sampled_from(updates), max_size=2 * len(updates)))
    return draw(st.permutations(updates + repeats))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_in_order_scenarios_reach_the_expected_end(name: str) -> None:
    updates, expected = SCENARIOS[name]
    final = fold(updates)
    assert final.state is expected
    assert final.ended_at is not None
    assert final.is_terminal


@settings(max_examples=300, deadline=None)
@given(data=st.data(), name=st.sampled_from(sorted(SCENARIOS)))
def test_any_order_and_any_repeats_reach_the_same_snapshot(data: st.DataObject, name: str) -> None:
    updates, expected = SCENARIOS[name]
    delivered = data.draw(shuffled_with_repeats(updates))
    final = fold(delivered)
    assert final == fold(updates)
    assert final.state is expected


def test_answered_call_keeps_every_timestamp_whatever_the_order() -> None:
    final = fold(list(reversed(ANSWERED_TWO_SOURCES)))
    assert (final.ringing_at, final.answered_at, final.ended_at) == (at(2), at(9), at(51))
    assert final.duration == 42
    assert final.sip_code == 200
    assert final.state_sequence == 2


def test_declined_keeps_its_sip_code() -> None:
    final = fold(list(reversed(DECLINED)))
    assert final.state is CallState.DECLINED
    assert final.sip_code == 603


any_state = st.sampled_from(list(CallState))
any_update = st.builds(
    StatusUpdate,
    state=any_state,
    at=st.none() | st.integers(0, 20).map(at),
    sequence=st.none() | st.integers(0, 6),
    duration=st.none() | st.integers(0, 100),
    sip_code=st.none() | st.sampled_from([180, 183, 200, 404, 408, 480, 486, 487, 500, 603]),
    reason=st.none() | st.sampled_from(["room closed", "far end hung up"]),
    reason_rank=st.integers(0, 2),
    authority=st.integers(0, 1),
).flatmap(
    lambda update: (
        st.just(update)
        if update.state not in TERMINAL_STATES
        else st.sampled_from([update, msgspec.structs.replace(update, if_answered=CallState.COMPLETED)])
    )
)


@settings(max_examples=500, deadline=None)
@given(data=st.data(), updates=st.lists(any_update, min_size=1, max_size=7))
def test_even_contradictory_reports_converge(data: st.DataObject, updates: list[StatusUpdate]) -> None:
    delivered = data.draw(shuffled_with_repeats(updates))
    assert fold(delivered) == fold(updates)


@settings(max_examples=300, deadline=None)
@given(updates=st.lists(any_update, min_size=1, max_size=8))
def test_terminal_states_are_never_left_for_a_live_one(updates: list[StatusUpdate]) -> None:
    snapshot = CallSnapshot()
    for update in updates:
        outcome = transition(snapshot, update)
        if snapshot.is_terminal:
            assert outcome.snapshot.is_terminal
        if update.state not in TERMINAL_STATES and snapshot.is_terminal:
            if update.state is CallState.ANSWERED and outcome.snapshot.state is not snapshot.state:
                # a late answer only re-reads an end that depended on it
                assert snapshot.if_answered is outcome.snapshot.state
            else:
                assert outcome.kind != "applied"
                assert outcome.snapshot.state is snapshot.state
        assert outcome.changed == (outcome.snapshot != snapshot)
        snapshot = outcome.snapshot


def test_ringing_after_completed_is_refused_but_its_time_is_kept() -> None:
    ended = fold(ANSWERED[:1] + ANSWERED[2:])  # the ringing callback is delayed
    late = transition(ended, StatusUpdate(state=CallState.RINGING, at=at(2), sequence=9))
    assert late.kind == "refused_impossible"
    assert late.snapshot.state is CallState.COMPLETED
    assert late.snapshot.ringing_at == at(2)
    assert late.changed
    assert "ringing (sequence 9) cannot follow completed" in late.reason


def test_an_older_report_is_stale() -> None:
    answered = fold(ANSWERED[:3])
    again = transition(answered, ANSWERED[1])
    assert again.kind == "ignored_stale"
    assert not again.changed
    assert again.snapshot == answered


def test_the_same_report_twice_is_a_duplicate() -> None:
    once = transition(CallSnapshot(), ANSWERED[1])
    twice = transition(once.snapshot, ANSWERED[1])
    assert once.kind == "applied"
    assert twice.kind == "ignored_duplicate"
    assert twice.snapshot == once.snapshot


def test_a_later_terminal_report_fills_in_the_duration() -> None:
    ended = fold([ANSWERED[2], StatusUpdate(state=CallState.COMPLETED, at=at(52))])
    assert ended.duration is None
    filled = transition(ended, ANSWERED[3])
    assert filled.kind == "applied"
    assert filled.snapshot.state is CallState.COMPLETED
    assert filled.snapshot.duration == 42
    assert filled.snapshot.ended_at == at(51)


def test_a_different_end_with_an_older_sequence_is_refused() -> None:
    completed = fold(ANSWERED)
    busy = transition(completed, twilio("busy", 1, 4, sip=486))
    assert busy.kind == "refused_impossible"
    assert busy.snapshot.state is CallState.COMPLETED


def test_live_states_only_move_forward() -> None:
    ringing = transition(CallSnapshot(), ANSWERED[1])
    answered = transition(ringing.snapshot, ANSWERED[2])
    assert (ringing.kind, answered.kind) == ("applied", "applied")
    assert answered.reason == "ringing -> answered (sequence 2)"


@pytest.mark.parametrize(
    ("status", "sip", "expected"),
    [
        ("queued", None, CallState.INITIATED),
        ("initiated", None, CallState.INITIATED),
        ("ringing", None, CallState.RINGING),
        ("in-progress", None, CallState.ANSWERED),
        ("completed", 200, CallState.COMPLETED),
        ("busy", 486, CallState.BUSY),
        ("busy", 603, CallState.DECLINED),
        ("failed", 603, CallState.DECLINED),
        ("no-answer", None, CallState.NO_ANSWER),
        ("failed", 404, CallState.FAILED),
        ("canceled", 487, CallState.CANCELED),
        ("completed", 603, CallState.COMPLETED),
    ],
)
def test_twilio_call_status_mapping(status: str, sip: int | None, expected: CallState) -> None:
    assert state_from_twilio(status, sip) is expected


def test_unknown_twilio_status_names_the_known_ones() -> None:
    with pytest.raises(UnknownCallStatus, match=r"'on-hold'.*canceled, completed"):
        state_from_twilio("on-hold")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (100, CallState.INITIATED),
        (180, CallState.RINGING),
        (183, CallState.RINGING),
        (200, CallState.ANSWERED),
        (486, CallState.BUSY),
        (600, CallState.BUSY),
        (603, CallState.DECLINED),
        (480, CallState.NO_ANSWER),
        (408, CallState.NO_ANSWER),
        (487, CallState.CANCELED),
        (404, CallState.FAILED),
        (503, CallState.FAILED),
    ],
)
def test_sip_code_mapping(code: int, expected: CallState) -> None:
    assert state_from_sip(code) is expected


def test_sip_code_out_of_range_is_rejected() -> None:
    with pytest.raises(UnknownCallStatus):
        state_from_sip(42)


def test_naive_timestamps_are_rejected() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        StatusUpdate(state=CallState.RINGING, at=datetime(2025, 1, 1))


def test_a_leg_that_left_reads_completed_whether_its_answer_came_before_or_after() -> None:
    answered = StatusUpdate(state=CallState.ANSWERED, at=at(1))
    left = StatusUpdate(
        state=CallState.CANCELED,
        at=at(9),
        if_answered=CallState.COMPLETED,
        reason="caller hung up before the answer",
        reason_if_answered="far end hung up",
        reason_rank=2,
    )
    finished = StatusUpdate(
        state=CallState.CANCELED,
        at=at(12),
        if_answered=CallState.COMPLETED,
        reason="room closed",
        reason_rank=1,
    )
    for order in ([answered, left, finished], [left, finished, answered], [finished, left, answered, left]):
        final = fold(order)
        assert final.state is CallState.COMPLETED
        assert final.connected_seconds == 8
        assert final.end_time == at(9)
        assert final.end_reason == "far end hung up"
    unanswered = fold([finished, left])
    assert unanswered.state is CallState.CANCELED
    assert unanswered.connected_seconds is None
    assert unanswered.end_reason == "caller hung up before the answer"
