"""The form parameters Twilio documents for voice webhooks, status callbacks and recording callbacks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import phonenumbers

API_VERSION = "2010-04-01"
TERMINAL = ("completed", "busy", "no-answer", "failed", "canceled")
# StatusCallbackEvent names (what you subscribe to) -> the CallStatus values they report.
EVENT_STATUSES = {
    "initiated": ("initiated",),
    "ringing": ("ringing",),
    "answered": ("in-progress",),
    "completed": TERMINAL,
}
DEFAULT_SIP_CODES = {"completed": 200, "busy": 486, "no-answer": 487, "canceled": 487}


class SimulatedClock:
    """Call time that moves only when the call does (prompts spoken, digits pressed, waits), so runs repeat."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = (start or datetime.now(UTC)).replace(microsecond=0)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += timedelta(seconds=seconds)


@dataclass(frozen=True)
class CallEvent:
    """A change of the call's status, as Twilio would report it in a status callback."""

    status: str
    at: datetime
    sip_code: int | None = None


@dataclass(frozen=True)
class CallParty:
    """Who calls whom; the rest of the standard request parameters follow from it."""

    account_sid: str
    call_sid: str
    from_: str
    to: str
    direction: str = "inbound"
    caller_name: str | None = None
    forwarded_from: str | None = None

    def request_params(self, call_status: str) -> list[tuple[str, str]]:
        """The parameters Twilio sends with every voice webhook of this call."""
        params = [
            ("AccountSid", self.account_sid),
            ("ApiVersion", API_VERSION),
            ("CallSid", self.call_sid),
            ("CallStatus", call_status),
            ("Called", self.to),
            ("Caller", self.from_),
            ("Direction", self.direction),
            ("From", self.from_),
            ("To", self.to),
        ]
        for prefix, number in (
            ("From", self.from_),
            ("To", self.to),
            ("Caller", self.from_),
            ("Called", self.to),
        ):
            params += [
                (f"{prefix}City", ""),
                (f"{prefix}State", ""),
                (f"{prefix}Zip", ""),
                (f"{prefix}Country", _country(number)),
            ]
        if self.caller_name is not None:
            params.append(("CallerName", self.caller_name))
        if self.forwarded_from is not None:
            params.append(("ForwardedFrom", self.forwarded_from))
        return params


def rfc2822(moment: datetime) -> str:
    """Twilio's timestamp format: `Tue, 04 Mar 2025 10:00:51 +0000`."""
    return format_datetime(moment.astimezone(UTC))


def subscribed(events: list[CallEvent], subscriptions: tuple[str, ...]) -> list[CallEvent]:
    wanted = {status for name in subscriptions for status in EVENT_STATUSES.get(name, ())}
    return [event for event in events if event.status in wanted]


def status_callback_params(
    party: CallParty,
    event: CallEvent,
    *,
    sequence: int,
    answered_at: datetime | None,
    answered_by: str | None = None,
) -> list[tuple[str, str]]:
    """A call progress event's parameters (Timestamp, SequenceNumber, CallbackSource, CallDuration, ...)."""
    params = party.request_params(event.status)
    params += [
        ("CallbackSource", "call-progress-events"),
        ("SequenceNumber", str(sequence)),
        ("Timestamp", rfc2822(event.at)),
    ]
    if event.status in TERMINAL:
        duration = 0 if answered_at is None else round((event.at - answered_at).total_seconds())
        params.append(("CallDuration", str(duration)))
        sip_code = event.sip_code or DEFAULT_SIP_CODES.get(event.status)
        if sip_code is not None:
            params.append(("SipResponseCode", str(sip_code)))
    if answered_by is not None:
        params.append(("AnsweredBy", answered_by))
    return params


def recording_url(account_sid: str, recording_sid: str) -> str:
    return f"https://api.twilio.com/{API_VERSION}/Accounts/{account_sid}/Recordings/{recording_sid}"


def recording_callback_params(
    party: CallParty, *, recording_sid: str, status: str, duration: int, started_at: datetime, source: str
) -> list[tuple[str, str]]:
    """A recording status callback's parameters."""
    return [
        ("AccountSid", party.account_sid),
        ("CallSid", party.call_sid),
        ("RecordingSid", recording_sid),
        ("RecordingUrl", recording_url(party.account_sid, recording_sid)),
        ("RecordingStatus", status),
        ("RecordingDuration", str(duration)),
        ("RecordingChannels", "1"),
        ("RecordingStartTime", rfc2822(started_at)),
        ("RecordingSource", source),
        ("ErrorCode", "0"),
    ]


def _country(number: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number)) or ""
    except phonenumbers.NumberParseException:
        return ""
