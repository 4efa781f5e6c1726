"""Plain-data mirrors of LiveKit's SIP dispatch messages (livekit-protocol `sip.proto`, `room.proto`,
`agent_dispatch.proto`), so the gateway maps them 1:1 without `routing` importing livekit.

Field names are LiveKit's. Structs omit default values when converted, so
``livekit.protocol.sip.SIPDispatchRuleInfo(**msgspec.to_builtins(info))`` builds the protobuf message directly.
LiveKit's semantics: ``numbers`` are the dialled numbers a rule accepts, ``inbound_numbers`` the caller numbers
it accepts (empty: any), ``trunk_ids`` the inbound trunks (empty: any).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from routing.model import Target

ROUTER_AGENT = "trunkline-router"
"""The dispatch name of the gateway's own agent, which resolves at call time what LiveKit cannot express."""

__all__ = [
    "ROUTER_AGENT",
    "CreateSIPDispatchRuleRequest",
    "DispatchMetadata",
    "RoomAgentDispatch",
    "RoomConfiguration",
    "SIPDispatchRule",
    "SIPDispatchRuleCallee",
    "SIPDispatchRuleDirect",
    "SIPDispatchRuleIndividual",
    "SIPDispatchRuleInfo",
    "decode_dispatch_metadata",
]


class SIPDispatchRuleDirect(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    room_name: str = ""
    pin: str = ""


class SIPDispatchRuleIndividual(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    room_prefix: str = ""
    pin: str = ""
    no_randomness: bool = False


class SIPDispatchRuleCallee(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    room_prefix: str = ""
    pin: str = ""
    randomize: bool = False


class SIPDispatchRule(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    """A oneof: exactly one field is set."""

    dispatch_rule_direct: SIPDispatchRuleDirect | None = None
    dispatch_rule_individual: SIPDispatchRuleIndividual | None = None
    dispatch_rule_callee: SIPDispatchRuleCallee | None = None


class RoomAgentDispatch(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    agent_name: str
    metadata: str = ""


class RoomConfiguration(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    name: str = ""
    metadata: str = ""
    agents: list[RoomAgentDispatch] = msgspec.field(default_factory=list)


class SIPDispatchRuleInfo(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    """The desired state of one LiveKit dispatch rule (without the server-assigned id and timestamps)."""

    rule: SIPDispatchRule
    trunk_ids: list[str] = msgspec.field(default_factory=list)
    hide_phone_number: bool = False
    inbound_numbers: list[str] = msgspec.field(default_factory=list)
    numbers: list[str] = msgspec.field(default_factory=list)
    name: str = ""
    metadata: str = ""
    attributes: dict[str, str] = msgspec.field(default_factory=dict)
    room_config: RoomConfiguration | None = None


class CreateSIPDispatchRuleRequest(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    dispatch_rule: SIPDispatchRuleInfo


class DispatchMetadata(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, forbid_unknown_fields=True
):
    """What the compiled rule tells the dispatched agent (JSON in `RoomAgentDispatch.metadata`).

    mode "target": the route was decided when compiling; run `target` (an agent's `overrides` travel in it).
    mode "resolve": call `routing` at job start with the call's numbers, headers and time; `route_ids` are
    the routes whose conditions need it.
    """

    v: int = 1
    project_id: str
    mode: Literal["target", "resolve"]
    route_id: str | None = None
    target: Target | None = None
    route_ids: list[str] = msgspec.field(default_factory=list)
    reason: str = ""


def decode_dispatch_metadata(text: str | bytes) -> DispatchMetadata:
    """Decode `RoomAgentDispatch.metadata` written by `routing.compile`; raises msgspec errors if foreign."""
    return msgspec.json.decode(text, type=DispatchMetadata)
