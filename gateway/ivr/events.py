"""What happened on the call since the last turn; the adapter feeds one of these to `advance`."""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import msgspec

__all__ = [
    "CallerHangup",
    "Digits",
    "Event",
    "HttpResult",
    "RecordResult",
    "Silence",
    "Speech",
    "TransferResult",
    "TransferStatus",
]

TransferStatus: TypeAlias = Literal["completed", "busy", "no-answer", "failed", "canceled"]


class _Event(msgspec.Struct, frozen=True, gc=False, kw_only=True, tag_field="event"):
    pass


class Digits(_Event, frozen=True, tag="digits"):
    """Keys the caller pressed (the finishing key, e.g. #, already removed)."""

    digits: str


class Speech(_Event, frozen=True, tag="speech"):
    text: str
    confidence: float | None = None


class Silence(_Event, frozen=True, tag="silence"):
    """The caller gave no input before the timeout (or a recording came back empty)."""


class HttpResult(_Event, frozen=True, tag="http_result"):
    """Outcome of an `HttpRequest`: a status and the decoded JSON body, or `error` (timeout, refused...)."""

    status: int | None = None
    body: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


class TransferResult(_Event, frozen=True, tag="transfer_result"):
    """How a transfer ended: `completed` means the caller was connected (and the call is over)."""

    status: TransferStatus


class RecordResult(_Event, frozen=True, tag="record_result"):
    url: str
    duration: float = 0.0


class CallerHangup(_Event, frozen=True, tag="caller_hangup"):
    pass


Event: TypeAlias = Digits | Speech | Silence | HttpResult | TransferResult | RecordResult | CallerHangup
