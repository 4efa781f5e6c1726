"""Twilio's documented webhook parameters as typed structs, and `parse_form` to read them from a form post.

Names follow Twilio's (`CallSid`, `From`, ...) through msgspec's pascal-case renaming. Twilio adds parameters over
time, so unknown ones are ignored; missing required ones are reported together, by their Twilio names. Empty values
count as absent (Twilio sends e.g. `ForwardedFrom=` on calls that were not forwarded).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Literal, TypeVar

import msgspec

from gateway.calls.lifecycle import StatusUpdate, state_from_twilio
from gateway.errors import InvalidInput

ACCOUNT_SID_PATTERN = r"^AC[0-9a-fA-F]{32}$"
"""A Twilio account SID: `AC` and 32 hex digits."""
_ACCOUNT_SID = re.compile(ACCOUNT_SID_PATTERN)


def is_account_sid(value: str) -> bool:
    return _ACCOUNT_SID.match(value) is not None


SID_PREFIXES = {
    "AccountSid": "AC",
    "CallSid": "CA",
    "ParentCallSid": "CA",
    "DialCallSid": "CA",
    "RecordingSid": "RE",
    "ConferenceSid": "CF",
}
"""Twilio's identifier parameters and their type prefix: each is the prefix and 32 hex digits."""
_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")
MAX_LENGTHS = {"RecordingUrl": 1000}
"""Parameters stored in columns of a bounded size (longer values would fail the write on PostgreSQL)."""


def check_values(params: Mapping[str, FormValue]) -> None:
    """Refuse what Twilio never sends and a database would refuse later, where one bad webhook must not fail the
    others written with it: a NUL byte in any value (PostgreSQL's text cannot hold it), an identifier that is not
    a Twilio SID, an over-long value for a bounded column. Raises `TwilioParamsError` (422) naming the parameter."""
    for name, raw in params.items():
        for value in (raw,) if isinstance(raw, str) else raw:
            if "\x00" in value or "\x00" in name:
                raise TwilioParamsError(f"Twilio parameter {name!r} holds a NUL byte", field=name)
    for name, prefix in SID_PREFIXES.items():
        value = _first(params.get(name, ""))
        if value and (_SID.match(value) is None or not value.startswith(prefix)):
            raise TwilioParamsError(
                f"Twilio parameter {name} is not a Twilio SID ({prefix} and 32 hex digits)", field=name
            )
    for name, limit in MAX_LENGTHS.items():
        if len(_first(params.get(name, ""))) > limit:
            raise TwilioParamsError(f"Twilio parameter {name} is longer than {limit} characters", field=name)


CallStatus = Literal[
    "queued", "initiated", "ringing", "in-progress", "completed", "busy", "no-answer", "failed", "canceled"
]
FormValue = str | Sequence[str]


class TwilioParamsError(InvalidInput):
    """A Twilio webhook lacks a documented parameter or carries one of the wrong type."""

    def __init__(self, detail: str, *, missing: Sequence[str] = (), field: str | None = None) -> None:
        super().__init__(
            detail, field=field or (missing[0] if missing else None), extra={"missing": list(missing)}
        )
        self.missing = tuple(missing)


class TwilioForm(msgspec.Struct, frozen=True, kw_only=True, rename="pascal"):
    """Base of every webhook form: pascal-case Twilio names, unknown parameters ignored."""


class VoiceRequest(TwilioForm, frozen=True, kw_only=True):
    """The parameters Twilio sends with every voice webhook (the voice URL, action URLs, status callbacks)."""

    call_sid: str
    account_sid: str
    from_: str = msgspec.field(name="From")
    to: str
    call_status: CallStatus
    api_version: str
    direction: str
    """inbound, outbound-api, outbound-dial, trunking-originating or trunking-terminating."""
    forwarded_from: str | None = None
    caller_name: str | None = None
    parent_call_sid: str | None = None
    call_token: str | None = None
    stir_verstat: str | None = None
    from_city: str | None = None
    from_state: str | None = None
    from_zip: str | None = None
    from_country: str | None = None
    to_city: str | None = None
    to_state: str | None = None
    to_zip: str | None = None
    to_country: str | None = None


class GatherResult(VoiceRequest, frozen=True, kw_only=True):
    """What `<Gather action>` receives: the caller's keys and/or speech."""

    digits: str | None = None
    finished_on_key: str | None = None
    speech_result: str | None = None
    confidence: float | None = None


class RecordResult(VoiceRequest, frozen=True, kw_only=True):
    """What `<Record action>` receives once the caller finished recording."""

    recording_url: str
    recording_sid: str | None = None
    recording_duration: int | None = None
    digits: str | None = None
    """The key that ended the recording, or `hangup`."""


class DialResult(VoiceRequest, frozen=True, kw_only=True):
    """What `<Dial action>` receives when the dialed leg ends."""

    dial_call_status: str
    """completed, answered, busy, no-answer, failed or canceled."""
    dial_call_sid: str | None = None
    dial_call_duration: int | None = None
    dial_bridged: bool | None = None
    dial_sip_response_code: int | None = None
    dial_sip_call_id: str | None = None


class StatusCallback(VoiceRequest, frozen=True, kw_only=True):
    """A call status callback (call progress event)."""

    call_duration: int | None = None
    sequence_number: int | None = None
    timestamp: str | None = None
    """When the event happened, RFC 2822 in UTC (e.g. `Tue, 04 Mar 2025 10:00:51 +0000`)."""
    callback_source: str | None = None
    sip_response_code: int | None = None
    answered_by: str | None = None
    machine_detection_duration: int | None = None
    recording_url: str | None = None
    recording_sid: str | None = None
    recording_duration: int | None = None

    def occurred_at(self) -> datetime | None:
        """`Timestamp` as an aware datetime (None when Twilio sent none)."""
        if self.timestamp is None:
            return None
        try:
            parsed = parsedate_to_datetime(self.timestamp)
        except (TypeError, ValueError):
            parsed = None
        if parsed is None or parsed.utcoffset() is None:
            raise TwilioParamsError(
                f"Timestamp {self.timestamp!r} is not an RFC 2822 date with a zone", field="Timestamp"
            )
        return parsed

    def to_status_update(self) -> StatusUpdate:
        """This callback as a lifecycle update (SipResponseCode 603 refines busy/failed to declined)."""
        return StatusUpdate(
            state=state_from_twilio(self.call_status, self.sip_response_code),
            at=self.occurred_at(),
            sequence=self.sequence_number,
            duration=self.call_duration,
            sip_code=self.sip_response_code,
        )


class RecordingCallback(TwilioForm, frozen=True, kw_only=True):
    """A recording status callback (`recordingStatusCallback`)."""

    account_sid: str
    call_sid: str
    recording_sid: str
    recording_url: str
    recording_status: str
    """in-progress, completed, absent or failed."""
    recording_duration: int | None = None
    recording_channels: int | None = None
    recording_start_time: str | None = None
    recording_source: str | None = None
    """RecordVerb, DialVerb, Conference, OutboundAPI, Trunking, StartCallRecordingAPI, ..."""
    recording_track: str | None = None
    error_code: int | None = None
    conference_sid: str | None = None


FormT = TypeVar("FormT", bound=TwilioForm)


def parse_form(cls: type[FormT], form: Mapping[str, FormValue]) -> FormT:
    """Read `cls` from a webhook's form fields; raise `TwilioParamsError` naming every missing required parameter."""
    required, known = _names(cls)
    values = {name: value for name, raw in form.items() if name in known and (value := _first(raw))}
    missing = [name for name in required if name not in values]
    if missing:
        raise TwilioParamsError(
            f"Twilio request is missing required parameter{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} (reading {cls.__name__})",
            missing=missing,
        )
    try:
        return msgspec.convert(values, cls, strict=False)
    except msgspec.ValidationError as exc:
        parameter = str(exc).rpartition("$.")[2].rstrip("`") or None
        raise TwilioParamsError(f"Twilio parameter {parameter} is invalid: {exc}", field=parameter) from None


@functools.cache
def _names(cls: type[TwilioForm]) -> tuple[tuple[str, ...], frozenset[str]]:
    """The Twilio names of a form's required parameters (in declaration order) and of all its parameters."""
    fields = msgspec.structs.fields(cls)
    return tuple(f.encode_name for f in fields if f.required), frozenset(f.encode_name for f in fields)


def _first(raw: FormValue) -> str:
    if isinstance(raw, str):
        return raw
    return raw[0] if raw else ""
