"""A faithful loopback stand-in for LiveKit's server API (Twirp), auth, SIP and webhooks.

Built from LiveKit's protocol descriptors and server behaviour, never from the gateway: the real `livekit-api`
client talks to it exactly as to LiveKit.

- `LiveKitStandIn`: async context manager; `.url`, `.api_key`, `.api_secret`; control API for faults
  (`fail_next_call`, `script_call`, `script_transfer`, `set_latency`, `set_down`), the simulated world
  (`simulate_inbound_call`, `hang_up`, `join_participant`, `finish_egress`) and inspection
  (`webhook_events`, `webhook_deliveries`, `calls`, `requests`, `departures`, `data_packets`).
- `StandInThread`: the same on a loop of its own in a background thread (sync tests, fixtures).
- `WebhookSink`: a loopback endpoint collecting webhooks to verify with `livekit.api.WebhookReceiver`.
"""

from .faults import DialOutcome, DownMode, TransferOutcome
from .inbound import InboundCallResult
from .sip_calls import SipCall
from .standin import LiveKitStandIn
from .thread import StandInThread
from .webhooks import ReceivedWebhook, WebhookDelivery, WebhookSink

__all__ = [
    "DialOutcome",
    "DownMode",
    "InboundCallResult",
    "LiveKitStandIn",
    "ReceivedWebhook",
    "SipCall",
    "StandInThread",
    "TransferOutcome",
    "WebhookDelivery",
    "WebhookSink",
]
