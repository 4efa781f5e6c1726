"""LiveKit webhooks verified as livekit-api's `WebhookReceiver` does, and decoded without protobuf.

The JWT in `Authorization` must be signed with the project's API secret (livekit-api's `TokenVerifier`: HS256,
issuer, expiry) and its `sha256` claim must be the body's digest; only then is the body decoded
(`webhook_json.decode_event`, which gives what the receiver's protobuf parse and `parse_event` give, faster).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from livekit import api

from gateway.errors import Unauthorized

from .webhook_json import MalformedEvent, decode_event
from .webhooks import LiveKitEvent

_SECRET_HINT = "check the project's LiveKit API secret"  # noqa: S105 (advice, not a secret)


class LiveKitWebhookRejected(Unauthorized):
    """A webhook that is unsigned, signed with another secret, tampered with, or not a LiveKit event."""

    title = "LiveKit webhook rejected"


def verify_webhook(
    body: str | bytes, authorization: str | None, *, api_key: str, api_secret: str
) -> LiveKitEvent:
    """Check a webhook's signature and body digest, then decode it; `LiveKitWebhookRejected` if anything is off."""
    if not authorization:
        raise LiveKitWebhookRejected(
            "LiveKit webhook without Authorization header; only LiveKit may post here"
        )
    raw = body.encode() if isinstance(body, str) else body
    token = authorization.removeprefix("Bearer ").strip()
    try:
        claims = api.TokenVerifier(api_key, api_secret).verify(token)
    except Exception as exc:  # PyJWT's errors and livekit-api's ValueError alike
        raise LiveKitWebhookRejected(
            f"LiveKit webhook failed verification ({type(exc).__name__}); {_SECRET_HINT}"
        ) from exc
    try:
        signed_digest = base64.b64decode(claims.sha256 or "", validate=True)
    except (binascii.Error, ValueError):
        signed_digest = b""
    if not signed_digest:
        raise LiveKitWebhookRejected(
            "LiveKit webhook token carries no sha256 of the body; only LiveKit may post here"
        )
    if not hmac.compare_digest(hashlib.sha256(raw).digest(), signed_digest):
        raise LiveKitWebhookRejected(
            "LiveKit webhook body does not match the digest it was signed with (changed on the way?)"
        )
    try:
        return decode_event(raw)
    except MalformedEvent as exc:
        raise LiveKitWebhookRejected(f"LiveKit webhook is signed but not a LiveKit event: {exc}") from None
