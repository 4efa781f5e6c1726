"""The bridge into LiveKit SIP for carrier calls that reach an agent: one managed trunk and rule per project. Pure.

A carrier (Twilio) dials `sip:<room>@<LiveKit SIP host>`, where the room is the gateway's call record id and
already holds the agent. LiveKit matches such a leg to the project's **bridge trunk** (no numbers: any dialled
user part, but only with the bridge's digest credentials; a trunk that lists a number is more specific and wins
for ordinary calls) and then to the **bridge rule** (callee, bound to that trunk only, no prefix, no random
suffix), so the leg joins the room named after the call. The trunk maps the gateway's X- headers to participant
attributes, which is how the webhook ingest attaches the leg to the existing call record.

The credentials are derived from the project's LiveKit API secret, so every replica computes the same pair
without storing it. They are secrets: never log them.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from livekit import api

from routing import dispatch

from .desired import OBJECT_ATTR, PROJECT_ATTR, to_proto, trunk_metadata

BRIDGE_KEY = "bridge"
"""The object id in the marks of the bridge trunk and the bridge rule."""
CALL_ID_HEADER = "X-Trunkline-Call-Id"
ROOM_HEADER = "X-Trunkline-Room"
AGENT_HEADER = "X-Trunkline-Agent"
CALL_ATTR = "trunkline.call_id"
AGENT_ATTR = "trunkline.agent"
HEADER_ATTRIBUTES = {CALL_ID_HEADER: CALL_ATTR, AGENT_HEADER: AGENT_ATTR}


@dataclass(frozen=True)
class BridgeCredentials:
    """Digest credentials of a project's bridge trunk (the password never shows in a repr)."""

    username: str
    password: str = field(repr=False)


def bridge_credentials(project_id: str, api_secret: str) -> BridgeCredentials:
    """The bridge trunk's credentials: HMACs of the project id under the project's LiveKit API secret."""

    def derive(purpose: str) -> str:
        message = f"trunkline-bridge/{purpose}/{project_id}".encode()
        return hmac.new(api_secret.encode(), message, hashlib.sha256).hexdigest()

    return BridgeCredentials(
        username="trunkline-" + derive("username")[:16], password=derive("password")[:40]
    )


def bridge_trunk_name(project_id: str) -> str:
    return f"trunkline:{project_id}:bridge"


def bridge_trunk(project_id: str, credentials: BridgeCredentials) -> api.SIPInboundTrunkInfo:
    """The inbound trunk carrier bridges arrive on: any dialled user part, digest auth only, headers mapped."""
    return api.SIPInboundTrunkInfo(
        name=bridge_trunk_name(project_id),
        metadata=trunk_metadata(project_id, BRIDGE_KEY),
        numbers=[],
        auth_username=credentials.username,
        auth_password=credentials.password,
        headers_to_attributes=dict(HEADER_ATTRIBUTES),
    )


def bridge_rule(project_id: str, bridge_trunk_id: str) -> api.SIPDispatchRuleInfo:
    """The callee rule of the bridge trunk: the leg joins the room named by the dialled user part (the call id)."""
    rule = dispatch.SIPDispatchRuleInfo(
        rule=dispatch.SIPDispatchRule(
            dispatch_rule_callee=dispatch.SIPDispatchRuleCallee(room_prefix="", randomize=False)
        ),
        trunk_ids=[bridge_trunk_id],
        name=bridge_trunk_name(project_id),
        attributes={PROJECT_ATTR: project_id, OBJECT_ATTR: BRIDGE_KEY},
    )
    return to_proto(rule)
