"""The call lifecycle every carrier shares: a pure state machine that tolerates late, repeated and reordered reports.

Carriers report a call's progress in callbacks that arrive out of order and more than once. `transition` treats each
`StatusUpdate` as a fact and joins it into the `CallSnapshot`. Every field of the snapshot is a join of the facts seen
so far, and each join is commutative, associative and idempotent:

- the state comes from the winning fact: the greatest by (rank, sequence, timestamp, precedence), where the rank orders
  initiated < ringing < answered < every terminal state. A terminal state is therefore never left for a non-terminal
  one. Two *different* terminal reports for one call (say `canceled` from our hang-up and `completed` from the carrier)
  resolve to the one with the later sequence number, then the later timestamp, then a fixed precedence;
- `initiated_at`, `ringing_at`, `answered_at` and `ended_at` are the earliest time reported for that phase;
- `duration` is the longest duration reported and `last_sequence` the highest sequence number;
- `sip_code` is the most final SIP code reported: final failures (>= 300) over 2xx over 1xx, then the highest code.

Some reports only say that a call ended, not how: a SIP leg leaving says "completed" when the call was answered and
"canceled" (or busy...) when it was not, but the report that it was answered may arrive after it. Such a report
carries both meanings (`if_answered`); the snapshot keeps the winning report as reported and derives the state
from it and the earliest answer known, so the order the two arrive in does not matter. In the same way the
connected duration is derived from the answer and end times when no report gave it, and the end reason is the
highest-ranked reason reported (`reason_rank`), again chosen by whether the call was answered.

So any permutation, with any number of repeats, of one set of updates reaches the same snapshot: the join of the set.
Updates that lose (a `ringing` after `completed`) leave the state alone but still fill in a phase's missing timestamp,
since the facts they carry are true whatever order they came in. `Outcome.kind` explains each step for logs and events.

SIP 603 is its own terminal state, `declined`, not `failed`: the callee refused the call, which users want to tell apart
from a network failure. Twilio reports such calls as `busy`/`failed` with SipResponseCode 603; `state_from_twilio`
refines them to `declined`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Literal

import msgspec

from gateway.errors import InvalidInput


class CallState(StrEnum):
    INITIATED = "initiated"
    RINGING = "ringing"
    ANSWERED = "answered"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no-answer"
    FAILED = "failed"
    CANCELED = "canceled"
    DECLINED = "declined"


TERMINAL_STATES = frozenset(
    {
        CallState.COMPLETED,
        CallState.BUSY,
        CallState.NO_ANSWER,
        CallState.FAILED,
        CallState.CANCELED,
        CallState.DECLINED,
    }
)
_TERMINAL_RANK = 3
_RANK = {CallState.INITIATED: 0, CallState.RINGING: 1, CallState.ANSWERED: 2}
# Breaks ties between different terminal reports with equal sequence and timestamp; higher wins.
_PRECEDENCE = {
    CallState.INITIATED: 0,
    CallState.RINGING: 0,
    CallState.ANSWERED: 0,
    CallState.FAILED: 1,
    CallState.CANCELED: 2,
    CallState.NO_ANSWER: 3,
    CallState.BUSY: 4,
    CallState.DECLINED: 5,
    CallState.COMPLETED: 6,
}
_NEVER = datetime.min.replace(tzinfo=UTC)

OutcomeKind = Literal["applied", "ignored_stale", "ignored_duplicate", "refused_impossible"]


class UnknownCallStatus(InvalidInput):
    """A carrier reported a call status this gateway does not know."""


class StatusUpdate(msgspec.Struct, frozen=True, kw_only=True):
    """One report of a call's progress, from any carrier or from LiveKit."""

    state: CallState
    at: datetime | None = None
    """When it happened (timezone-aware), e.g. Twilio's `Timestamp`."""
    sequence: int | None = None
    """The carrier's order of its reports for this call, e.g. Twilio's `SequenceNumber`."""
    duration: int | None = None
    """Seconds the call was connected, reported at the end."""
    sip_code: int | None = None
    if_answered: CallState | None = None
    """What this report means once the call is known to have been answered (e.g. a SIP leg leaving reports
    `canceled`, or `completed` if it was answered); None: `state` whatever else is known."""
    reason: str | None = None
    """Why the call ended (ends only), as people read it."""
    reason_if_answered: str | None = None
    """The reason once the call is known to have been answered (defaults to `reason`)."""
    reason_rank: int = 0
    """Which end reason wins when several are reported: the highest rank, then the greatest text."""
    authority: int = 1
    """How directly the report saw what it says: between two ends, a report of the call's own leg (1) wins
    over one inferred from its surroundings (0: the room it was in closed), whatever their order in time."""

    def __post_init__(self) -> None:
        if self.at is not None and self.at.utcoffset() is None:
            raise ValueError("StatusUpdate.at must be timezone-aware (e.g. datetime.now(UTC))")
        if self.if_answered is not None and not (
            self.state in TERMINAL_STATES and self.if_answered in TERMINAL_STATES
        ):
            raise ValueError("StatusUpdate.if_answered reads an end another way: both states must be ends")
        if self.duration is not None and self.duration < 0:
            raise ValueError(f"StatusUpdate.duration must be >= 0, got {self.duration}")


class CallSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """What is known about a call, folded from every update seen. `CallSnapshot()` is a call nothing is known of."""

    state: CallState = CallState.INITIATED
    """The call's state: the winning report's, read in the light of whether the call was answered."""
    reported: CallState | None = None
    """The winning report's own state, when `state` was derived from it (see `StatusUpdate.if_answered`)."""
    if_answered: CallState | None = None
    """The winning report's `if_answered`."""
    state_authority: int = 1
    """`authority` of the report that set `state`."""
    state_sequence: int | None = None
    """Sequence number of the report that set `state` (None when it had none)."""
    state_at: datetime | None = None
    """Timestamp of the report that set `state`."""
    initiated_at: datetime | None = None
    ringing_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration: int | None = None
    """The longest connected duration reported (see `connected_seconds` for the one to show)."""
    sip_code: int | None = None
    last_sequence: int | None = None
    reasons: list[tuple[int, str, str]] = msgspec.field(default_factory=list)
    """The best end reason reported: at most one (rank, reason, reason if answered)."""

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    @property
    def end_time(self) -> datetime | None:
        """When the call ended; never before its answer (some carriers stamp ends in whole seconds)."""
        if self.ended_at is None or self.answered_at is None:
            return self.ended_at
        return max(self.ended_at, self.answered_at)

    @property
    def connected_seconds(self) -> int | None:
        """How long the call was connected: as reported, else from its answer to its end."""
        if self.duration is not None:
            return self.duration
        end = self.end_time
        if self.state is not CallState.COMPLETED or self.answered_at is None or end is None:
            return None
        return round((end - self.answered_at).total_seconds())

    @property
    def end_reason(self) -> str | None:
        if not self.reasons or self.state not in TERMINAL_STATES:
            return None
        _, reason, if_answered = self.reasons[0]
        return (if_answered or reason) if self.answered_at is not None else (reason or None)


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    kind: OutcomeKind
    snapshot: CallSnapshot
    reason: str
    changed: bool
    """Whether `snapshot` differs from the one passed in: a stale update may still fill in a missing timestamp."""


def transition(current: CallSnapshot, update: StatusUpdate) -> Outcome:
    """Fold `update` into `current`; pure and order-independent (see the module docstring)."""
    wins = _key(update.state, update.authority, update.sequence, update.at, update.if_answered) > _key(
        current.reported or current.state,
        current.state_authority,
        current.state_sequence,
        current.state_at,
        current.if_answered,
    )
    new = _join(current, update, wins=wins)
    kind, reason = _classify(current, update, new, wins=wins)
    return Outcome(kind=kind, snapshot=new, reason=reason, changed=new != current)


def fold(updates: list[StatusUpdate], start: CallSnapshot | None = None) -> CallSnapshot:
    """The snapshot after every update in turn (any order gives the same result)."""
    snapshot = start or CallSnapshot()
    for update in updates:
        snapshot = transition(snapshot, update).snapshot
    return snapshot


_TWILIO_STATUSES = {
    "queued": CallState.INITIATED,
    "initiated": CallState.INITIATED,
    "ringing": CallState.RINGING,
    "in-progress": CallState.ANSWERED,
    "answered": CallState.ANSWERED,
    "completed": CallState.COMPLETED,
    "busy": CallState.BUSY,
    "no-answer": CallState.NO_ANSWER,
    "failed": CallState.FAILED,
    "canceled": CallState.CANCELED,
}
_UNANSWERED_ENDS = frozenset({CallState.BUSY, CallState.FAILED, CallState.NO_ANSWER})


def state_from_twilio(call_status: str, sip_response_code: int | None = None) -> CallState:
    """Twilio's CallStatus (plus SipResponseCode when sent) as a lifecycle state; 603 refines to `declined`."""
    try:
        state = _TWILIO_STATUSES[call_status]
    except KeyError:
        known = ", ".join(sorted(_TWILIO_STATUSES))
        raise UnknownCallStatus(
            f"unknown Twilio CallStatus {call_status!r}; expected one of {known}", field="CallStatus"
        ) from None
    if sip_response_code == 603 and state in _UNANSWERED_ENDS:
        return CallState.DECLINED
    return state


def state_from_sip(code: int) -> CallState:
    """A SIP response code (e.g. LiveKit's `sip_status_code`) as a lifecycle state."""
    if not 100 <= code <= 699:
        raise UnknownCallStatus(f"{code} is not a SIP response code (100-699)", field="sip_code")
    if code < 180:
        return CallState.INITIATED
    if code < 200:
        return CallState.RINGING
    if code < 300:
        return CallState.ANSWERED
    return _SIP_FINAL.get(code, CallState.FAILED)


_SIP_FINAL = {
    486: CallState.BUSY,
    600: CallState.BUSY,
    603: CallState.DECLINED,
    480: CallState.NO_ANSWER,
    408: CallState.NO_ANSWER,
    487: CallState.CANCELED,
}


def _rank(state: CallState) -> int:
    return _RANK.get(state, _TERMINAL_RANK)


def _key(
    state: CallState, authority: int, sequence: int | None, at: datetime | None, if_answered: CallState | None
) -> tuple[int, int, int, datetime, int, int, int]:
    conditional = -1 if if_answered is None else _PRECEDENCE[if_answered]
    rank = _rank(state)
    # Authority orders ends only: a live state's progress is never held back by where it was learnt.
    weight = authority if rank == _TERMINAL_RANK else 1
    sequence_key = -1 if sequence is None else sequence
    return (rank, weight, sequence_key, at or _NEVER, _PRECEDENCE[state], conditional, authority)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return min(a, b)


def _largest(a: int | None, b: int | None) -> int | None:
    if a is None or b is None:
        return b if a is None else a
    return max(a, b)


def _sip_finality(code: int) -> tuple[int, int]:
    return (2 if code >= 300 else 1 if code >= 200 else 0, code)


def _most_final(a: int | None, b: int | None) -> int | None:
    if a is None or b is None:
        return b if a is None else a
    return max(a, b, key=_sip_finality)


def _best_reason(current: list[tuple[int, str, str]], update: StatusUpdate) -> list[tuple[int, str, str]]:
    if update.reason is None and update.reason_if_answered is None:
        return current
    offered = (update.reason_rank, update.reason or "", update.reason_if_answered or update.reason or "")
    return [max([*current, offered])] if current else [offered]


def _join(current: CallSnapshot, update: StatusUpdate, *, wins: bool) -> CallSnapshot:
    at = update.at
    state = update.state
    answered_at = _earliest(current.answered_at, at if state is CallState.ANSWERED else None)
    reported = state if wins else (current.reported or current.state)
    if_answered = update.if_answered if wins else current.if_answered
    effective = if_answered if if_answered is not None and answered_at is not None else reported
    return CallSnapshot(
        state=effective,
        reported=reported if reported is not effective else None,
        if_answered=if_answered,
        state_authority=update.authority if wins else current.state_authority,
        state_sequence=update.sequence if wins else current.state_sequence,
        state_at=update.at if wins else current.state_at,
        initiated_at=_earliest(current.initiated_at, at if state is CallState.INITIATED else None),
        ringing_at=_earliest(current.ringing_at, at if state is CallState.RINGING else None),
        answered_at=answered_at,
        ended_at=_earliest(current.ended_at, at if state in TERMINAL_STATES else None),
        duration=_largest(current.duration, update.duration),
        sip_code=_most_final(current.sip_code, update.sip_code),
        last_sequence=_largest(current.last_sequence, update.sequence),
        reasons=_best_reason(current.reasons, update),
    )


_DETAIL_FIELDS = (
    "state",
    "initiated_at",
    "ringing_at",
    "answered_at",
    "ended_at",
    "duration",
    "sip_code",
    "reasons",
)


def _filled(old: CallSnapshot, new: CallSnapshot) -> list[str]:
    return [name for name in _DETAIL_FIELDS if getattr(old, name) != getattr(new, name)]


def _describe(update: StatusUpdate) -> str:
    sequence = "" if update.sequence is None else f" (sequence {update.sequence})"
    return f"{update.state.value}{sequence}"


def _claims_later(update: StatusUpdate, current: CallSnapshot) -> bool:
    if update.sequence is not None and current.state_sequence is not None:
        return update.sequence > current.state_sequence
    if update.at is not None and current.state_at is not None:
        return update.at > current.state_at
    return False


def _classify(
    current: CallSnapshot, update: StatusUpdate, new: CallSnapshot, *, wins: bool
) -> tuple[OutcomeKind, str]:
    filled = _filled(current, new)
    note = f"; filled in {', '.join(filled)}" if filled else ""
    if wins:
        if update.state == current.state:
            return "applied", f"{_describe(update)}: newer report of the same state"
        if current.state in TERMINAL_STATES:
            return "applied", (
                f"{current.state.value} -> {_describe(update)}: two different ends reported; the later report wins"
            )
        return "applied", f"{current.state.value} -> {_describe(update)}"
    if new.state != current.state:
        return "applied", (
            f"{_describe(update)}: the end reported earlier reads {new.state.value} now that the call is known "
            "to have been answered"
        )
    if update.state == current.state:
        if filled:
            return "applied", f"{_describe(update)}: same state{note}"
        return "ignored_duplicate", f"{_describe(update)}: already {current.state.value}"
    both_ended = update.state in TERMINAL_STATES and current.state in TERMINAL_STATES
    if both_ended or _claims_later(update, current):
        return "refused_impossible", f"{_describe(update)} cannot follow {current.state.value}{note}"
    return "ignored_stale", f"{_describe(update)} is older than {current.state.value}{note}"
