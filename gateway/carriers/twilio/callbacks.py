"""Status and recording callbacks: folded into the call record whatever order and however often they arrive.

Each status callback is a fact (`StatusUpdate` with Twilio's SequenceNumber and Timestamp) joined into the call's
lifecycle (`gateway.calls.lifecycle`): any permutation of any repeats reaches the same final state. A callback
repeated exactly (same status, sequence and timestamp) adds no event. A callback for a call the gateway never saw
opens its record (a status may outrun the voice webhook); one for an outbound call not yet committed asks Twilio
to retry (503).
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.calls.lifecycle import TERMINAL_STATES, StatusUpdate
from gateway.calls.records import NewCall, add_event, apply_status, find_call, open_call, snapshot_of
from gateway.carriers.twilio.params import RecordingCallback, StatusCallback, parse_form
from gateway.carriers.twilio.recordings import upsert_recording
from gateway.carriers.twilio.webhook import SignedWebhook
from gateway.db.models import Call
from gateway.errors import AppError, InvalidInput
from routing.numbers import InvalidNumber, is_withheld, normalize

log = logging.getLogger("trunkline.twilio")
SOURCE = "twilio"


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


async def _call_for(db: AsyncSession, hook: SignedWebhook, cb: StatusCallback, hint: str | None) -> Call:
    if hint:
        hinted = await db.get(Call, hint, with_for_update=True)
        if hinted is None:
            raise RetryLater(f"call {hint} is not recorded yet; retry shortly")
        if hinted.project_id == hook.account.project_id and hinted.carrier_call_id in (None, cb.call_sid):
            hinted.carrier_call_id = hinted.carrier_call_id or cb.call_sid
            return hinted
    call = await find_call(db, "twilio", cb.call_sid, lock=True)
    if call is not None:
        if call.project_id != hook.account.project_id:
            raise InvalidInput("CallSid belongs to another account", field="CallSid")
        return call
    region = hook.account.default_region
    inbound = cb.direction in ("inbound", "trunking-originating")
    from_e164, to_e164 = _lenient_e164(cb.from_, region), _lenient_e164(cb.to, region)
    call, _ = await open_call(
        db,
        NewCall(
            project_id=hook.account.project_id,
            direction="inbound" if inbound else "outbound",
            carrier="twilio",
            carrier_call_id=cb.call_sid,
            from_e164=from_e164,
            to_e164=to_e164,
            trunk_id=hook.account.trunk_by_number.get(to_e164 if inbound else from_e164),
        ),
    )
    return call


def _won(call: Call, update: StatusUpdate) -> bool:
    """Whether `update` is the report the call's state now comes from (the same one in any order)."""
    snapshot = snapshot_of(call)
    return (snapshot.state, snapshot.state_sequence, snapshot.state_at) == (
        update.state,
        update.sequence,
        update.at,
    )


async def record_status(db: AsyncSession, hook: SignedWebhook, hint: str | None) -> None:
    cb = parse_form(StatusCallback, hook.params)
    update = cb.to_status_update()
    call = await _call_for(db, hook, cb, hint)
    key = f"status:{cb.call_status}:{cb.sequence_number}:{cb.timestamp}"
    await apply_status(
        db,
        call,
        update,
        source=SOURCE,
        dedupe_key=key,
        data={
            "call_status": cb.call_status,
            "sequence": cb.sequence_number,
            "sip_code": cb.sip_response_code,
            "duration": cb.call_duration,
            "answered_by": cb.answered_by,
        },
    )
    if _won(call, update):
        call.carrier_status = cb.call_status
    if update.state in TERMINAL_STATES and snapshot_of(call).state in TERMINAL_STATES:
        carrier_end = f"twilio {snapshot_of(call).state.value}"
        if call.end_reason is None or call.end_reason.startswith("twilio "):
            call.end_reason = carrier_end
    await db.commit()


async def record_recording(db: AsyncSession, hook: SignedWebhook) -> None:
    cb = parse_form(RecordingCallback, hook.params)
    call = await find_call(db, "twilio", cb.call_sid, lock=True)
    if call is not None and call.project_id != hook.account.project_id:
        call = None
    _, changed = await upsert_recording(
        db,
        project_id=hook.account.project_id,
        call=call,
        recording_sid=cb.recording_sid,
        status=cb.recording_status,
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
    if call is not None:
        await add_event(
            db,
            call,
            f"recording.{cb.recording_status}",
            SOURCE,
            {"recording_sid": cb.recording_sid, "duration": cb.recording_duration, "changed": changed},
            dedupe_key=f"recording:{cb.recording_sid}:{cb.recording_status}",
        )
    await db.commit()
