"""The gateway's one facade over LiveKit's server API (`LiveKit`), its errors, and LiveKit webhooks."""

from .errors import LiveKitError, LiveKitUnavailable, SipOutcome, sip_outcome
from .facade import DTMF_TOPIC, LiveKit
from .receiver import LiveKitWebhookRejected, verify_webhook
from .types import AgentDispatchInfo, AgentSpec, EgressSummary, RoomInfo, SipParticipant, TransferResult
from .webhooks import LiveKitEvent, parse_event

__all__ = [
    "DTMF_TOPIC",
    "AgentDispatchInfo",
    "AgentSpec",
    "EgressSummary",
    "LiveKit",
    "LiveKitError",
    "LiveKitEvent",
    "LiveKitUnavailable",
    "LiveKitWebhookRejected",
    "RoomInfo",
    "SipOutcome",
    "SipParticipant",
    "TransferResult",
    "parse_event",
    "sip_outcome",
    "verify_webhook",
]
