"""Twilio: webhook signature checks and the typed webhook parameters (controllers and REST client live beside them)."""

from gateway.carriers.twilio.params import (
    DialResult,
    GatherResult,
    RecordingCallback,
    RecordResult,
    StatusCallback,
    TwilioParamsError,
    VoiceRequest,
    parse_form,
)
from gateway.carriers.twilio.signature import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestOrigin,
    SignatureCheck,
    parse_trusted_proxies,
    public_url,
    verify,
)

__all__ = [
    "SIGNATURE_HEADER",
    "SIGNATURE_SETTINGS_HEADER",
    "DialResult",
    "GatherResult",
    "RecordResult",
    "RecordingCallback",
    "RequestOrigin",
    "SignatureCheck",
    "StatusCallback",
    "TwilioParamsError",
    "VoiceRequest",
    "parse_form",
    "parse_trusted_proxies",
    "public_url",
    "verify",
]
