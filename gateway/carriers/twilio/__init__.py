"""Twilio: the carrier webhooks, outbound calls and call control.

An inbound call's path, module by module:

- `controller`: `POST /carriers/twilio/voice | ivr | status | recording | resume` (signed, no API key);
- `webhook`: read the form (or JSON), find the project by AccountSid (`directory`, cached and compiled), check the
  signature (`signature`, twilio's RequestValidator) against the URL Twilio signed;
- `voice`: the call record (one per CallSid; `draft` + `writer` group-commit new calls), retries answered from the
  stored reply (`conversation`, kept in `Call.ivr_state`), action URLs advancing the call;
- `responder`: routing (`routing.index`), then the target: an IVR turn (`gateway.ivr` engine + TwiML), a forward,
  a voicemail, a reject, or an agent bridge (`bridge`: LiveKit room + dispatch, then `<Dial><Sip>`); `answers`
  holds the TwiML that is not an IVR turn;
- `callbacks`: status and recording callbacks folded into the lifecycle (`recordings` for Recording rows).

Outbound: `placer` (`TwilioPlacer`, `TwilioCallControl`) over `rest` (twilio's REST client). `wiring` registers it
all; `runtime` holds what lives while the service runs. Typed webhook parameters are in `params`.
"""

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
