"""Request authentication as LiveKit's API middleware and `Ensure*Permission` checks do it.

The middleware runs before Twirp routing. A malformed header, an unparsable token, an unknown API key or a
token that fails verification (HS256 signature with the key's secret, `exp` required, `exp`/`nbf` checked
with one minute of leeway) is refused with HTTP 401 and a plain-text body, not a Twirp JSON error. A request
without any token passes the middleware with no grants; each method then refuses it for lack of the grant
it needs with Twirp `unauthenticated` / "permissions denied".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from . import errors

TOKEN_LEEWAY_SECONDS = 60
BEARER_PREFIX = "Bearer "


class AuthRejected(Exception):
    """The middleware's 401 answer: `text` is the plain-text body LiveKit writes."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True)
class Grants:
    """The claims of a verified token that LiveKit's permission checks read."""

    api_key: str
    identity: str
    video: Mapping[str, Any]
    sip: Mapping[str, Any]

    def _video_flag(self, name: str) -> bool:
        return bool(self.video.get(name))

    def ensure_create(self) -> None:
        if not self._video_flag("roomCreate"):
            raise errors.permission_denied()

    def ensure_list(self) -> None:
        if not self._video_flag("roomList"):
            raise errors.permission_denied()

    def ensure_record(self) -> None:
        if not self._video_flag("roomRecord"):
            raise errors.permission_denied()

    def ensure_admin(self, room: str) -> None:
        if not self._video_flag("roomAdmin") or self.video.get("room", "") != room:
            raise errors.permission_denied()

    def ensure_sip_admin(self) -> None:
        if not self.sip.get("admin"):
            raise errors.permission_denied()

    def ensure_sip_call(self) -> None:
        if not self.sip.get("call"):
            raise errors.permission_denied()


NO_GRANTS = Grants(api_key="", identity="", video={}, sip={})


def authenticate(authorization: str | None, keys: Mapping[str, str]) -> Grants:
    """Grants of the request's bearer token; `NO_GRANTS` without a token; `AuthRejected` for a bad one."""
    if not authorization:
        return NO_GRANTS
    if not authorization.startswith(BEARER_PREFIX):
        raise AuthRejected("invalid authorization header. Must start with " + BEARER_PREFIX)
    token = authorization[len(BEARER_PREFIX) :]
    try:
        unverified = jwt.decode(token, options={"verify_signature": False}, algorithms=["HS256"])
    except jwt.PyJWTError as exc:
        raise AuthRejected("invalid authorization token") from exc
    api_key = str(unverified.get("iss", ""))
    secret = keys.get(api_key, "")
    if not secret:
        raise AuthRejected("invalid API key")
    try:
        claims = jwt.decode(
            token,
            key=secret,
            algorithms=["HS256"],
            issuer=api_key,
            leeway=TOKEN_LEEWAY_SECONDS,
            options={"require": ["exp"]},
        )
    except jwt.PyJWTError as exc:
        raise AuthRejected(f"invalid authorization token: {_reason(exc)}") from exc
    return Grants(
        api_key=api_key,
        identity=str(claims.get("sub", "")),
        video=_mapping(claims.get("video")),
        sip=_mapping(claims.get("sip")),
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _reason(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.ExpiredSignatureError):
        return "token has invalid claims: token is expired"
    if isinstance(exc, jwt.ImmatureSignatureError):
        return "token has invalid claims: token is not valid yet"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"token has invalid claims: token is missing required claim: {exc.claim} claim is required"
    if isinstance(exc, jwt.InvalidSignatureError):
        return "token signature is invalid: signature is invalid"
    return f"token is malformed: {exc}"
