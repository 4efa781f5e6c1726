"""An inbound call arriving at LiveKit SIP: trunk, dispatch rule, room, SIP participant, webhooks.

No trunk is fine (only rules without trunks can then match); no matching rule means LiveKit drops the call
without answering; conflicting configuration fails the evaluation (the caller gets 503). The participant
joins with `sip.callStatus` "ringing" and turns "active" when the call is answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import msgspec
from livekit.protocol import models as proto_models
from livekit.protocol import sip as proto_sip

from . import errors, ids
from .sip_calls import CALL_STATUS, SipCall, SipCallHandlers
from .sip_match import evaluate_dispatch_rule, match_dispatch_rule, match_trunk
from .world import World

# Headers LiveKit SIP maps to attributes for every call (participant.go `headerToAttr`).
KNOWN_HEADER_ATTRIBUTES: dict[str, str] = {
    "X-Twilio-AccountSid": "sip.twilio.accountSid",
    "X-Twilio-CallSid": "sip.twilio.callSid",
    "X-call_leg_id": "sip.telnyx.callLegID",
    "X-call_session_id": "sip.telnyx.callSessionID",
}


class InboundCallResult(msgspec.Struct, frozen=True):
    """What became of a simulated inbound call; `sip_status` is what the caller's carrier got (0: nothing)."""

    outcome: Literal["accepted", "dropped", "rejected", "pin_required"]
    sip_status: int
    sip_reason: str
    call_id: str = ""
    trunk_id: str = ""
    rule_id: str = ""
    room_name: str = ""
    participant_identity: str = ""
    participant_sid: str = ""
    agents_dispatched: tuple[str, ...] = ()


def _header_attributes(
    headers: Mapping[str, str], trunk: proto_sip.SIPInboundTrunkInfo | None
) -> dict[str, str]:
    by_lower = {name.lower(): (name, value) for name, value in headers.items()}
    attributes: dict[str, str] = {}
    include = trunk.include_headers if trunk is not None else proto_sip.SIPHeaderOptions.SIP_NO_HEADERS
    if include != proto_sip.SIPHeaderOptions.SIP_NO_HEADERS:
        for lower, (_, value) in by_lower.items():
            if include == proto_sip.SIPHeaderOptions.SIP_X_HEADERS and not lower.startswith("x-"):
                continue
            attributes["sip.h." + lower] = value
    mappings = dict(KNOWN_HEADER_ATTRIBUTES)
    if trunk is not None:
        mappings.update(trunk.headers_to_attributes)
    for header, attribute in mappings.items():
        found = by_lower.get(header.lower())
        if found is not None:
            attributes[attribute] = found[1]
    return attributes


def simulate_inbound_call(
    world: World,
    calls: SipCallHandlers,
    *,
    from_number: str,
    to_number: str,
    source_ip: str,
    headers: Mapping[str, str],
    from_host: str = "",
    username: str = "",
    password: str = "",
    pin: str = "",
    answer_after: float = 0.0,
) -> InboundCallResult:
    """Route one INVITE as LiveKit would and carry out the decision (room, participant, webhooks)."""
    with world.lock:
        try:
            trunk = match_trunk(
                world.inbound_trunks.values(),
                calling=from_number,
                called=to_number,
                source_ip=source_ip,
                calling_host=from_host,
            )
            needs_auth = trunk is not None and bool(trunk.auth_username or trunk.auth_password)
            if (
                trunk is not None
                and needs_auth
                and (username, password) != (trunk.auth_username, trunk.auth_password)
            ):
                return InboundCallResult("rejected", 401, "Unauthorized", trunk_id=trunk.sip_trunk_id)
            rules = sorted(world.dispatch_rules.values(), key=lambda r: r.sip_dispatch_rule_id)
            rule = match_dispatch_rule(trunk, rules, calling=from_number, called=to_number, pin=pin)
            trunk_id = trunk.sip_trunk_id if trunk is not None else ""
            if rule is None:
                return InboundCallResult("dropped", 0, "", trunk_id=trunk_id)
            call_id = ids.new_id(ids.SIP_CALL)
            decision = evaluate_dispatch_rule(
                trunk,
                rule,
                call_id=call_id,
                calling=from_number,
                called=to_number,
                calling_host=from_host,
                pin=pin,
            )
        except errors.TwirpFailure as failure:
            if failure.code == "permission_denied":
                return InboundCallResult("rejected", 403, "Forbidden")
            return InboundCallResult("rejected", 503, "Try again later")
        if decision.request_pin:
            return InboundCallResult(
                "pin_required", 200, "OK", call_id=call_id, trunk_id=trunk_id, rule_id=decision.rule_id
            )
        attributes = {**decision.attributes, **_header_attributes(headers, trunk), CALL_STATUS: "ringing"}
        record, _ = world.ensure_room(decision.room_name, decision.room_config)
        participant = world.join(
            decision.room_name,
            proto_models.ParticipantInfo(
                identity=decision.participant_identity,
                name=decision.participant_name,
                metadata=decision.participant_metadata,
                kind=proto_models.ParticipantInfo.Kind.SIP,
                attributes=attributes,
            ),
        )
        calls.record(
            SipCall(
                call_id,
                "inbound",
                decision.room_name,
                participant.identity,
                to_number,
                from_number,
                trunk_id,
                "ringing",
            )
        )
        agents = tuple(d.agent_name for d in record.dispatches.values())
    room_name, identity, sid = decision.room_name, participant.identity, participant.sid

    def answer() -> None:
        with world.lock:
            current = world.participant(room_name, identity)
            if current is not None and current.sid == sid:
                world.set_attributes(room_name, identity, {CALL_STATUS: "active"})
                calls.update(call_id, status="active")

    world.schedule(answer_after * world.time_scale, answer)
    return InboundCallResult(
        "accepted",
        200,
        "OK",
        call_id=call_id,
        trunk_id=trunk_id,
        rule_id=decision.rule_id,
        room_name=room_name,
        participant_identity=identity,
        participant_sid=sid,
        agents_dispatched=agents,
    )
