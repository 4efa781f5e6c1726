"""LiveKit's refusals and outages as gateway errors, and what a failed call's SIP status means for the call."""

from __future__ import annotations

from typing import Literal

from livekit import api

from gateway.errors import AppError, UpstreamUnavailable

SipOutcome = Literal["busy", "declined", "no-answer", "failed"]

_BUSY = {486, 600}
_DECLINED = {603, 607, 608}
_NO_ANSWER = {408, 480, 487}

# The HTTP answer the gateway gives when LiveKit refuses a request for this reason; anything else is 502.
_STATUS_FOR_CODE = {
    "invalid_argument": 422,
    "malformed": 422,
    "out_of_range": 422,
    "not_found": 404,
    "already_exists": 409,
    "failed_precondition": 409,
    "aborted": 409,
}


def sip_outcome(sip_status_code: int | None) -> SipOutcome:
    """What a failed call's final SIP response means to a caller: busy, declined, no answer, or failed."""
    if sip_status_code in _BUSY:
        return "busy"
    if sip_status_code in _DECLINED:
        return "declined"
    if sip_status_code in _NO_ANSWER:
        return "no-answer"
    return "failed"


class LiveKitError(AppError):
    """LiveKit answered but refused the request; SIP failures carry the far end's SIP status."""

    status_code = 502
    title = "LiveKit refused the request"

    def __init__(
        self,
        code: str,
        message: str,
        sip_status_code: int | None = None,
        sip_status: str | None = None,
        *,
        http_status: int | None = None,
    ) -> None:
        sip = f" (SIP {sip_status_code} {sip_status or ''})".rstrip() if sip_status_code else ""
        super().__init__(
            f"LiveKit refused the request: {code}: {message}{sip}",
            extra={"livekit_code": code, "sip_status_code": sip_status_code, "sip_status": sip_status},
        )
        self.code = code
        self.message = message
        self.sip_status_code = sip_status_code
        self.sip_status = sip_status
        self.http_status = http_status
        if sip_status_code is None:
            self.status_code = _STATUS_FOR_CODE.get(code, 502)

    @property
    def outcome(self) -> SipOutcome | None:
        """For a failed call or transfer: busy, declined, no-answer or failed; None for other refusals."""
        return sip_outcome(self.sip_status_code) if self.sip_status_code is not None else None


class LiveKitUnavailable(UpstreamUnavailable):
    """LiveKit could not be reached or is failing (connection refused, timeout, HTTP 5xx)."""

    title = "LiveKit unavailable"

    def __init__(self, detail: str) -> None:
        super().__init__(f"{detail}; check LIVEKIT_URL and that the LiveKit server is up, then retry")


def from_server_error(error: api.ServerError, operation: str) -> LiveKitError | LiveKitUnavailable:
    """The gateway error for a LiveKit Twirp error; 5xx and `unavailable` mean LiveKit is down."""
    if error.status >= 500 or error.code == "unavailable":
        return LiveKitUnavailable(f"LiveKit failed {operation} with HTTP {error.status} ({error.code})")
    if error.status == 401 and error.code != "unauthenticated":
        return LiveKitError(
            "unauthenticated",
            "LiveKit rejected the API key or secret; check LIVEKIT_API_KEY and LIVEKIT_API_SECRET",
            http_status=401,
        )
    sip_status_code: int | None = None
    raw_code = error.metadata.get("sip_status_code")
    if raw_code is not None and raw_code.isdigit():
        sip_status_code = int(raw_code)
    return LiveKitError(
        error.code,
        error.message or f"HTTP {error.status}",
        sip_status_code,
        error.metadata.get("sip_status"),
        http_status=error.status,
    )
