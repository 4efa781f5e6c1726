"""How large a request body each kind of endpoint reads. Constants, not settings: they follow from what the
senders send, and a limit raised by mistake lets anyone make the server buffer bodies it then throws away.

Litestar refuses a body over its route's limit with 413: before reading anything when `Content-Length` says so,
and as soon as the bytes read pass the limit when the body is chunked.
"""

from __future__ import annotations

TWILIO_WEBHOOK_MAX_BODY = 64 * 1024
"""Twilio's voice and callback form posts are a few KB (30-odd short parameters); 64 KiB leaves room for the
longest SpeechResult and any parameters Twilio adds, and is read before the signature is checked."""

LIVEKIT_WEBHOOK_MAX_BODY = 1024 * 1024
"""LiveKit's webhook events are JSON of a few KB; an egress event lists its files, so allow 1 MiB."""

API_MAX_BODY = 1024 * 1024
"""/v1 JSON bodies (a route, a flow, an agent's configuration) are KBs. Bulk imports, when they come, get their own
limit on their own route."""
