"""Twirp errors as LiveKit's server writes them.

Errors raised in LiveKit's Twirp handlers themselves (`twirp.NewError`) keep their message. Errors that come
back over LiveKit's internal psrpc bus (room nodes, the SIP service, egress) pass through the server's
`xtwirp.ServerPassErrorDetails` interceptor, which wraps them as `twirp error unknown: <message>` under the
code the psrpc error carries. A SIP failure also carries its status as Twirp metadata (`sip_status_code`,
`sip_status`) plus `error_details`, a base64 `google.rpc.Status` holding the `livekit.SIPStatus`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from google.protobuf import any_pb2
from livekit.protocol import sip as proto_sip

TWIRP_HTTP_STATUS: dict[str, int] = {
    "canceled": 408,
    "unknown": 500,
    "invalid_argument": 400,
    "malformed": 400,
    "deadline_exceeded": 408,
    "not_found": 404,
    "bad_route": 404,
    "already_exists": 409,
    "permission_denied": 403,
    "unauthenticated": 401,
    "resource_exhausted": 429,
    "failed_precondition": 412,
    "aborted": 409,
    "out_of_range": 400,
    "unimplemented": 501,
    "internal": 500,
    "unavailable": 503,
    "dataloss": 500,
}

_GRPC_NUMBERS: dict[str, int] = {
    "canceled": 1,
    "unknown": 2,
    "invalid_argument": 3,
    "deadline_exceeded": 4,
    "not_found": 5,
    "already_exists": 6,
    "permission_denied": 7,
    "resource_exhausted": 8,
    "failed_precondition": 9,
    "aborted": 10,
    "out_of_range": 11,
    "unimplemented": 12,
    "internal": 13,
    "unavailable": 14,
    "dataloss": 15,
    "unauthenticated": 16,
}

# LiveKit's mapping of a remote SIP final response to an RPC code (protocol: livekit/sip.go).
_SIP_TO_CODE: dict[int, str] = {
    300: "invalid_argument",
    301: "not_found",
    302: "not_found",
    305: "invalid_argument",
    380: "invalid_argument",
    400: "invalid_argument",
    401: "permission_denied",
    402: "permission_denied",
    403: "permission_denied",
    404: "not_found",
    405: "invalid_argument",
    406: "invalid_argument",
    407: "unauthenticated",
    408: "deadline_exceeded",
    409: "failed_precondition",
    410: "not_found",
    411: "invalid_argument",
    412: "failed_precondition",
    413: "invalid_argument",
    414: "invalid_argument",
    415: "invalid_argument",
    416: "out_of_range",
    417: "invalid_argument",
    420: "invalid_argument",
    421: "invalid_argument",
    422: "invalid_argument",
    423: "invalid_argument",
    424: "invalid_argument",
    425: "invalid_argument",
    428: "unauthenticated",
    429: "invalid_argument",
    430: "invalid_argument",
    433: "permission_denied",
    436: "unauthenticated",
    437: "unauthenticated",
    438: "unauthenticated",
    439: "invalid_argument",
    440: "resource_exhausted",
    469: "invalid_argument",
    470: "permission_denied",
    480: "resource_exhausted",
    481: "not_found",
    482: "failed_precondition",
    483: "failed_precondition",
    484: "invalid_argument",
    485: "invalid_argument",
    486: "resource_exhausted",
    487: "aborted",
    488: "invalid_argument",
    489: "invalid_argument",
    491: "aborted",
    493: "invalid_argument",
    494: "unauthenticated",
    500: "failed_precondition",
    501: "failed_precondition",
    502: "failed_precondition",
    503: "failed_precondition",
    504: "deadline_exceeded",
    505: "invalid_argument",
    513: "invalid_argument",
    600: "resource_exhausted",
    603: "permission_denied",
    604: "not_found",
    606: "invalid_argument",
    607: "permission_denied",
    608: "permission_denied",
}


class TwirpFailure(Exception):
    """A Twirp error response: `{"code", "msg", "meta"}` with the HTTP status Twirp assigns to the code."""

    def __init__(self, code: str, msg: str, meta: Mapping[str, str] | None = None) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.meta = dict(meta or {})

    @property
    def http_status(self) -> int:
        return TWIRP_HTTP_STATUS.get(self.code, 500)

    def body(self) -> bytes:
        payload: dict[str, object] = {"code": self.code, "msg": self.msg}
        if self.meta:
            payload["meta"] = self.meta
        return json.dumps(payload).encode()


def twirp_error(code: str, msg: str, **meta: str) -> TwirpFailure:
    """An error raised by a LiveKit Twirp handler itself."""
    return TwirpFailure(code, msg, meta)


def psrpc_error(code: str, msg: str, meta: Mapping[str, str] | None = None) -> TwirpFailure:
    """An error returned over LiveKit's psrpc bus, as the server's error interceptor rewrites it."""
    return TwirpFailure(code, f"twirp error unknown: {msg}", meta)


def invalid_argument_error(argument: str, validation: str) -> TwirpFailure:
    """Twirp's `InvalidArgumentError(argument, validationMsg)`."""
    return TwirpFailure("invalid_argument", f"{argument} {validation}", {"argument": argument})


def permission_denied() -> TwirpFailure:
    """What LiveKit answers when the token lacks the grant a method needs (`twirpAuthError`)."""
    return twirp_error("unauthenticated", "permissions denied")


def no_response_from_servers() -> TwirpFailure:
    """A psrpc call routed to a room no node hosts: the bus times out with nobody answering."""
    return psrpc_error("unavailable", "no response from servers")


def sip_status_name(code: int) -> str:
    """`SIPStatusCode.String()`: the enum name, or the number when the enum has no such value."""
    try:
        return proto_sip.SIPStatusCode.Name(code)
    except ValueError:
        return str(code)


def rpc_code_for_sip_status(code: int) -> str:
    """The RPC code LiveKit gives a failed call's SIP status (`SIPStatus.GRPCStatus`)."""
    if code in _SIP_TO_CODE:
        return _SIP_TO_CODE[code]
    if code < 200:
        return "unknown"
    if code < 500:
        return "invalid_argument"
    if code < 600:
        return "failed_precondition"
    return "invalid_argument"


def sip_status_error_text(code: int, reason: str) -> str:
    """`SIPStatus.Error()`."""
    if reason:
        return f"sip status: {code}: {reason}"
    return f"sip status: {code} ({sip_status_name(code).removeprefix('SIP_STATUS_')})"


def sip_failure(
    code: int, reason: str, *, context: str = "INVITE failed", extra_meta: Mapping[str, str] | None = None
) -> TwirpFailure:
    """A dialing or transfer failure with its SIP status, as LiveKit's SIP service reports it."""
    rpc_code = rpc_code_for_sip_status(code)
    message = f"{context}: {sip_status_error_text(code, reason)}"
    meta = {
        "sip_status_code": str(code),
        "sip_status": reason or sip_status_name(code),
        "error_details": _rpc_status_details(rpc_code, message, code, reason),
    }
    meta.update(extra_meta or {})
    return psrpc_error(rpc_code, message, meta)


def _rpc_status_details(rpc_code: str, message: str, sip_code: int, reason: str) -> str:
    detail = any_pb2.Any()
    detail.Pack(proto_sip.SIPStatus(code=sip_code, status=reason))  # type: ignore[arg-type]
    encoded = (
        _field_varint(1, _GRPC_NUMBERS[rpc_code])
        + _field_bytes(2, message.encode())
        + _field_bytes(3, detail.SerializeToString())
    )
    return base64.b64encode(encoded).decode()


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low = value & 0x7F
        value >>= 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _field_varint(number: int, value: int) -> bytes:
    return _varint(number << 3) + _varint(value)


def _field_bytes(number: int, value: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(value)) + value
