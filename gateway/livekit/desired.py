"""What Trunkline wants LiveKit to hold for a project, as LiveKit's own messages. Pure: no I/O.

Objects Trunkline manages carry a mark, so the reconciler leaves everything else in the LiveKit project alone:
- trunks: `metadata` is `{"managed_by": "trunkline", "project_id": ..., "object_id": <gateway trunk id>}`;
- dispatch rules: attributes `trunkline.project_id` and `trunkline.object_id` (the gateway rule id, or the
  compiled rule's stable name). LiveKit copies rule attributes onto the SIP participants a rule creates, so
  webhooks of inbound calls carry them too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import msgspec
from google.protobuf import json_format
from livekit import api

from routing import dispatch

MANAGED_BY = "trunkline"
PROJECT_ATTR = "trunkline.project_id"
OBJECT_ATTR = "trunkline.object_id"

Kind = Literal["inbound_trunk", "outbound_trunk", "dispatch_rule"]
Info = api.SIPInboundTrunkInfo | api.SIPOutboundTrunkInfo | api.SIPDispatchRuleInfo

_ENCRYPTION = {
    "disable": api.SIPMediaEncryption.SIP_MEDIA_ENCRYPT_DISABLE,
    "allow": api.SIPMediaEncryption.SIP_MEDIA_ENCRYPT_ALLOW,
    "require": api.SIPMediaEncryption.SIP_MEDIA_ENCRYPT_REQUIRE,
}
_TRANSPORT = {
    "auto": api.SIPTransport.SIP_TRANSPORT_AUTO,
    "udp": api.SIPTransport.SIP_TRANSPORT_UDP,
    "tcp": api.SIPTransport.SIP_TRANSPORT_TCP,
    "tls": api.SIPTransport.SIP_TRANSPORT_TLS,
}
_SERVER_FIELDS = ("sip_trunk_id", "sip_dispatch_rule_id", "created_at", "updated_at")


class Mark(msgspec.Struct, frozen=True):
    """Who owns a LiveKit object: this Trunkline project, and which of its objects it mirrors."""

    project_id: str
    object_id: str


@dataclass(frozen=True)
class Desired:
    """One object LiveKit should hold: `key` is its mark's object id; `known_id` the LiveKit id we stored."""

    kind: Kind
    key: str
    info: Info
    known_id: str | None = None
    label: str = ""


@dataclass(frozen=True)
class Actual:
    """One object LiveKit holds, with its mark (None: not Trunkline's)."""

    kind: Kind
    livekit_id: str
    info: Info
    mark: Mark | None


# --- marks ------------------------------------------------------------------------------------------------


def trunk_metadata(project_id: str, trunk_id: str) -> str:
    return json.dumps(
        {"managed_by": MANAGED_BY, "project_id": project_id, "object_id": trunk_id}, separators=(",", ":")
    )


def mark_of(info: Info) -> Mark | None:
    """The Trunkline mark on a LiveKit trunk or rule, or None when Trunkline does not manage it."""
    if isinstance(info, api.SIPDispatchRuleInfo):
        project_id, object_id = info.attributes.get(PROJECT_ATTR), info.attributes.get(OBJECT_ATTR)
        return Mark(project_id, object_id) if project_id and object_id else None
    try:
        meta = json.loads(info.metadata) if info.metadata else None
    except ValueError:
        return None
    if not isinstance(meta, dict) or meta.get("managed_by") != MANAGED_BY:
        return None
    project_id, object_id = meta.get("project_id"), meta.get("object_id")
    if not isinstance(project_id, str) or not isinstance(object_id, str):
        return None
    return Mark(project_id, object_id)


def actual(kind: Kind, info: Info) -> Actual:
    livekit_id = info.sip_dispatch_rule_id if isinstance(info, api.SIPDispatchRuleInfo) else info.sip_trunk_id
    return Actual(kind, livekit_id, info, mark_of(info))


def same(desired: Info, current: Info) -> bool:
    """Whether LiveKit's copy says what we want (server-assigned ids and timestamps aside)."""
    return _comparable(desired) == _comparable(current)


def _comparable(info: Info) -> Info:
    clone = type(info)()
    clone.CopyFrom(info)  # type: ignore[arg-type]
    for name in _SERVER_FIELDS:
        if name in clone.DESCRIPTOR.fields_by_name:
            clone.ClearField(name)
    return clone


# --- trunks -----------------------------------------------------------------------------------------------


def inbound_trunk(
    project_id: str,
    trunk_id: str,
    name: str,
    config: Mapping[str, Any],
    password: str | None,
    numbers: Sequence[str],
) -> api.SIPInboundTrunkInfo:
    return api.SIPInboundTrunkInfo(
        name=name,
        metadata=trunk_metadata(project_id, trunk_id),
        numbers=list(numbers),
        allowed_addresses=list(config.get("allowed_addresses", [])),
        allowed_numbers=list(config.get("allowed_numbers", [])),
        auth_username=config.get("auth_username", ""),
        auth_password=password or "",
        headers=dict(config.get("headers", {})),
        headers_to_attributes=dict(config.get("headers_to_attributes", {})),
        krisp_enabled=bool(config.get("krisp_enabled", False)),
        media_encryption=_ENCRYPTION[config.get("media_encryption", "allow")],
    )


def outbound_trunk(
    project_id: str,
    trunk_id: str,
    name: str,
    config: Mapping[str, Any],
    password: str | None,
    numbers: Sequence[str],
) -> api.SIPOutboundTrunkInfo:
    return api.SIPOutboundTrunkInfo(
        name=name,
        metadata=trunk_metadata(project_id, trunk_id),
        address=config.get("address", ""),
        transport=_TRANSPORT[config.get("transport", "auto")],
        numbers=list(numbers),
        destination_country=config.get("destination_country") or "",
        auth_username=config.get("auth_username", ""),
        auth_password=password or "",
        headers=dict(config.get("headers", {})),
        headers_to_attributes=dict(config.get("headers_to_attributes", {})),
        media_encryption=_ENCRYPTION[config.get("media_encryption", "allow")],
    )


# --- dispatch rules ---------------------------------------------------------------------------------------


def _rule_kind(kind: str, spec: Mapping[str, Any]) -> dispatch.SIPDispatchRule:
    pin = spec.get("pin", "")
    if kind == "direct":
        return dispatch.SIPDispatchRule(
            dispatch_rule_direct=dispatch.SIPDispatchRuleDirect(room_name=spec.get("room_name", ""), pin=pin)
        )
    if kind == "callee":
        return dispatch.SIPDispatchRule(
            dispatch_rule_callee=dispatch.SIPDispatchRuleCallee(
                room_prefix=spec.get("room_prefix", ""), pin=pin, randomize=bool(spec.get("randomize"))
            )
        )
    return dispatch.SIPDispatchRule(
        dispatch_rule_individual=dispatch.SIPDispatchRuleIndividual(
            room_prefix=spec.get("room_prefix", ""), pin=pin
        )
    )


def manual_rule(
    project_id: str, rule_id: str, name: str, kind: str, spec: Mapping[str, Any], trunk_ids: Sequence[str]
) -> api.SIPDispatchRuleInfo:
    """A dispatch rule made through the API; `trunk_ids` are already LiveKit's ids."""
    agents = [
        dispatch.RoomAgentDispatch(agent_name=a["agent_name"], metadata=a.get("metadata", ""))
        for a in spec.get("agents", [])
    ]
    plain = dispatch.SIPDispatchRuleInfo(
        rule=_rule_kind(kind, spec),
        trunk_ids=sorted(trunk_ids),
        hide_phone_number=bool(spec.get("hide_phone_number", False)),
        inbound_numbers=list(spec.get("inbound_numbers", [])),
        name=name,
        metadata=spec.get("metadata", ""),
        attributes={**spec.get("attributes", {}), PROJECT_ATTR: project_id, OBJECT_ATTR: rule_id},
        room_config=dispatch.RoomConfiguration(agents=agents) if agents else None,
    )
    return to_proto(plain)


def compiled_rule(rule: dispatch.SIPDispatchRuleInfo) -> api.SIPDispatchRuleInfo:
    """A rule `routing.compile` made from the routes; its stable name is its object id."""
    marked = msgspec.structs.replace(rule, attributes={**rule.attributes, OBJECT_ATTR: rule.name})
    return to_proto(marked)


def to_proto(rule: dispatch.SIPDispatchRuleInfo) -> api.SIPDispatchRuleInfo:
    return json_format.ParseDict(msgspec.to_builtins(rule), api.SIPDispatchRuleInfo())
