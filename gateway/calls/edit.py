"""A change to one call, as a caller describes it; `gateway.calls.store.CallStore` saves it.

`CallEdit.call` is the call as the caller sees it (an ORM `Call` that belongs to no session). Status reports
(`fold`), events (`event`) and recordings (`recording`) are queued and applied by the store in one transaction;
the columns the caller changed are written as changes (last writer wins per column), those that mirror the
lifecycle are always recomputed from the stored lifecycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from gateway.calls.lifecycle import CallSnapshot, CallState, Outcome, StatusUpdate, transition
from gateway.calls.recordings import RecordingReport
from gateway.db.models import Call
from gateway.db.types import utcnow
from gateway.ids import new_id

COLUMNS = tuple(column.key for column in Call.__table__.columns)
LIFECYCLE_COLUMNS = (
    "status",
    "lifecycle",
    "ringing_at",
    "answered_at",
    "ended_at",
    "duration_s",
    "sip_status",
    "last_sequence",
)
"""Set only from the folded lifecycle, never from a caller's edit."""
_MIRRORED = ("end_reason", "sip_status")
"""Columns a fold sets that callers may also set themselves."""
_JSON_COLUMNS = frozenset({"lifecycle", "ivr_state", "routing", "meta"})
_encode = msgspec.json.Encoder().encode


class NewCall(msgspec.Struct, kw_only=True):
    project_id: str
    direction: str
    """inbound | outbound"""
    carrier: str
    """twilio | livekit"""
    carrier_call_id: str | None
    from_e164: str = ""
    to_e164: str = ""
    trunk_id: str | None = None
    livekit_room: str | None = None
    route_id: str | None = None
    agent_id: str | None = None
    meta: dict[str, Any] = msgspec.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CallRef:
    """How to find a call: by its id, by the carrier's id for it, or as the newest call in a LiveKit room;
    optionally only within one project."""

    call_id: str | None = None
    carrier: str | None = None
    carrier_call_id: str | None = None
    livekit_room: str | None = None
    project_id: str | None = None


@dataclass(slots=True)
class PendingReport:
    update: StatusUpdate
    source: str
    data: dict[str, Any]
    dedupe_key: str | None


@dataclass(slots=True)
class PendingEvent:
    kind: str
    source: str
    data: dict[str, Any]
    at: datetime
    dedupe_key: str | None
    report: PendingReport | None = None


@dataclass(eq=False)
class CallEdit:
    """One call as a caller sees it, and what the caller wants to change; saved by `CallStore`."""

    call: Call
    is_new: bool
    _loaded: dict[str, Any] = field(default_factory=dict, repr=False)
    _events: list[PendingEvent] = field(default_factory=list, repr=False)
    _recordings: list[RecordingReport] = field(default_factory=list, repr=False)
    outcomes: list[Outcome] = field(default_factory=list)
    """What each status report did when the edit was last saved (duplicates dropped)."""
    saved_events: int = 0
    """How many events the last save wrote (0: everything it carried was recorded already)."""
    ended: bool = False
    """Whether the last save gave the call its first final status."""

    @property
    def snapshot(self) -> CallSnapshot:
        return snapshot_of(self.call)

    @property
    def pending(self) -> bool:
        return bool(self._events or self._recordings or self._changed())

    def event(
        self,
        kind: str,
        data: dict[str, Any] | None = None,
        *,
        source: str,
        at: datetime | None = None,
        dedupe_key: str | None = None,
    ) -> dict[str, Any]:
        """Append an event (saved with the edit, in this order); returns its data, still mutable until then."""
        body = data if data is not None else {}
        self._events.append(PendingEvent(kind, source, body, at or utcnow(), dedupe_key))
        return body

    def is_pending(self, body: dict[str, Any]) -> bool:
        """Whether `body` is the data of an event not saved yet."""
        return any(event.data is body for event in self._events)

    def fold(
        self,
        update: StatusUpdate,
        *,
        source: str,
        data: dict[str, Any] | None = None,
        dedupe_key: str | None = None,
    ) -> Outcome:
        """Fold a status report into the call (now, as seen here; again against the stored call when saved) and
        record it as a `status.<state>` event."""
        mirrored = {name: getattr(self.call, name) for name in _MIRRORED}
        outcome = fold_into(self.call, update)
        if (
            not self.is_new
        ):  # what the fold set here is the store's to set again when saving, not a change to write
            for name, value in mirrored.items():
                if getattr(self.call, name) != value and _comparable(name, value) == self._loaded.get(name):
                    self._loaded[name] = _comparable(name, getattr(self.call, name))
        report = PendingReport(update, source, data or {}, dedupe_key)
        event = PendingEvent(f"status.{update.state.value}", source, {}, utcnow(), dedupe_key, report)
        self._events.append(event)
        return outcome

    def recording(self, report: RecordingReport) -> None:
        """Link a recording to the call (created, or moved forward, by its external id)."""
        self._recordings.append(report)

    def _changed(self) -> dict[str, Any]:
        if self.is_new:
            return {}
        changed = {}
        for name in COLUMNS:
            if name in LIFECYCLE_COLUMNS:
                continue
            value = getattr(self.call, name)
            if _comparable(name, value) != self._loaded.get(name):
                changed[name] = value
        return changed


def snapshot_of(call: Call) -> CallSnapshot:
    return msgspec.convert(call.lifecycle or {}, CallSnapshot, strict=False)


def _comparable(name: str, value: Any) -> Any:
    return _encode(value) if name in _JSON_COLUMNS else value


def remembered(call: Call) -> dict[str, Any]:
    return {name: _comparable(name, getattr(call, name)) for name in COLUMNS}


def fold_into(call: Call, update: StatusUpdate) -> Outcome:
    """Fold a report into the call's lifecycle and the columns that mirror it (no I/O)."""
    before = snapshot_of(call)
    outcome = transition(before, update)
    if outcome.changed:
        _mirror(call, before, outcome.snapshot)
    return outcome


def _mirror(call: Call, before: CallSnapshot, snap: CallSnapshot) -> None:
    call.lifecycle = msgspec.to_builtins(snap)
    call.status = snap.state.value
    call.ringing_at, call.answered_at, call.ended_at = snap.ringing_at, snap.answered_at, snap.end_time
    call.duration_s = snap.connected_seconds
    call.sip_status = snap.sip_code
    call.last_sequence = snap.last_sequence if snap.last_sequence is not None else -1
    if call.end_reason is None or call.end_reason == before.end_reason:  # not set by anyone but the lifecycle
        call.end_reason = snap.end_reason


def new_row(new: NewCall) -> Call:
    now = utcnow()
    return Call(
        id=new_id("call"),
        status=CallState.INITIATED.value,
        created_at=now,
        updated_at=now,
        lifecycle=msgspec.to_builtins(CallSnapshot(initiated_at=now)),
        last_sequence=-1,
        flow_id=None,
        flow_version=None,
        ringing_at=None,
        answered_at=None,
        ended_at=None,
        end_reason=None,
        sip_status=None,
        carrier_status=None,
        duration_s=None,
        ivr_state=None,
        routing=None,
        **msgspec.structs.asdict(new),
    )
