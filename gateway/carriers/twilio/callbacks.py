"""Status and recording callbacks: folded into the call record whatever order and however often they arrive.

Each status callback is a fact (`StatusUpdate` with Twilio's SequenceNumber and Timestamp) joined into the call's
lifecycle by the call store: any permutation of any repeats reaches the same final state. A callback repeated
exactly (same status, sequence and timestamp) adds no event. A callback for a call the gateway never saw opens its
record (a status may outrun the voice webhook); one for an outbound call not yet committed asks Twilio to retry
(503).
"""

from __future__ import annotations

import logging
from typing import Any

from gateway.calls.lifecycle import TERMINAL_STATES, StatusUpdate
from gateway.calls.recordings import RecordingReport
from gateway.calls.store import CallEdit, CallRef, CallStore, NewCall
from gateway.carriers.twilio.params import RecordingCallback, StatusCallback, parse_form
from gateway.carriers.twilio.webhook import SignedWebhook
from gateway.errors import AppError, InvalidInput
from routing.numbers import InvalidNumber, is_withheld, normalize

log = logging.getLogger("trunkline.twilio")
SOURCE = "twilio"
_RECORDING_RANK = {"in-progress": 0, "processing": 0, "completed": 1, "absent": 1, "failed": 1, "deleted": 2}


def recording_rank(status: str) -> int:
    """Where a Twilio recording status stands: a recording's row never moves back."""
    return _RECORDING_RANK.get(status, 0)


class RetryLater(AppError):
    """The call this callback is about is not committed yet; Twilio retries 5xx answers when told to."""

    status_code = 503
    title = "Call not ready"


def _lenient_e164(raw: str, region: str) -> str:
    if is_withheld(raw):
        return ""
    try:
        return normalize(raw, region).e164
    except InvalidNumber:
        return ""


def _won(edit: CallEdit, update: StatusUpdate) -> bool:
    """Whether `update` is the report the call's state now comes from (the same one in any order)."""
    snapshot = edit.snapshot
    return (snapshot.reported or snapshot.state, snapshot.state_sequence, snapshot.state_at) == (
        update.state,
        update.sequence,
        update.at,
    )


def _status_work(cb: StatusCallback) -> Any:
    update = cb.to_status_update()
    key = f"status:{cb.call_status}:{cb.sequence_number}:{cb.timestamp}"
    data = {
        "call_status": cb.call_status,
        "sequence": cb.sequence_number,
        "sip_code": cb.sip_response_code,
        "duration": cb.call_duration,
        "answered_by": cb.answered_by,
    }

    def work(edit: CallEdit) -> None:
        edit.fold(update, source=SOURCE, dedupe_key=key, data=data)
        call = edit.call
        if _won(edit, update):
            call.carrier_status = cb.call_status
        snapshot = edit.snapshot
        if update.state in TERMINAL_STATES and snapshot.state in TERMINAL_STATES:
            carrier_end = f"twilio {snapshot.state.value}"
            if call.end_reason is None or call.end_reason.startswith("twilio "):
                call.end_reason = carrier_end

    return work


async def record_status(store: CallStore, hook: SignedWebhook, hint: str | None) -> None:
    cb = parse_form(StatusCallback, hook.params)
    work = _status_work(cb)
    project_id = hook.account.project_id
    if hint:
        hinted = await store.load(CallRef(call_id=hint))
        if hinted is None:
            raise RetryLater(f"call {hint} is not recorded yet; retry shortly")
        call = hinted.call
        if call.project_id == project_id and call.carrier_call_id in (None, cb.call_sid):
            call.carrier_call_id = call.carrier_call_id or cb.call_sid
            work(hinted)
            await store.save(hinted)
            return
    existing = await store.load(CallRef(carrier="twilio", carrier_call_id=cb.call_sid))
    if existing is not None and existing.call.project_id != project_id:
        raise InvalidInput("CallSid belongs to another account", field="CallSid")
    region = hook.account.default_region
    inbound = cb.direction in ("inbound", "trunking-originating")
    from_e164, to_e164 = _lenient_e164(cb.from_, region), _lenient_e164(cb.to, region)
    new = NewCall(
        project_id=project_id,
        direction="inbound" if inbound else "outbound",
        carrier="twilio",
        carrier_call_id=cb.call_sid,
        from_e164=from_e164,
        to_e164=to_e164,
        trunk_id=hook.account.trunk_by_number.get(to_e164 if inbound else from_e164),
    )
    await store.change_or_open(new, work)


async def record_recording(store: CallStore, hook: SignedWebhook) -> None:
    cb = parse_form(RecordingCallback, hook.params)
    project_id = hook.account.project_id
    report = RecordingReport(
        source=SOURCE,
        external_id=cb.recording_sid,
        status=cb.recording_status,
        rank=recording_rank(cb.recording_status),
        url=cb.recording_url,
        duration=cb.recording_duration,
        meta={
            "source": cb.recording_source,
            "channels": cb.recording_channels,
            "track": cb.recording_track,
            "started": cb.recording_start_time,
            "error_code": cb.error_code or None,
        },
    )

    def work(edit: CallEdit) -> None:
        edit.recording(report)
        edit.event(
            f"recording.{cb.recording_status}",
            {"recording_sid": cb.recording_sid, "duration": cb.recording_duration},
            source=SOURCE,
            dedupe_key=f"recording:{cb.recording_sid}:{cb.recording_status}",
        )

    ref = CallRef(carrier="twilio", carrier_call_id=cb.call_sid, project_id=project_id)
    if await store.change(ref, work) is None:
        await store.record_recording(project_id, report, None)
