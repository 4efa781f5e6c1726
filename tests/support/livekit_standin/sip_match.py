"""Pure SIP routing as LiveKit documents and implements it (protocol `sip` package).

Trunk conflicts and dispatch-rule conflicts are refused when a trunk or rule is stored; an inbound call picks
its trunk (the called number, then the caller's number and source address), then the best dispatch rule
(rules naming the trunk beat wildcard rules; PIN-protected, direct, individual, callee, and rules naming
numbers come first), then the room and participant the rule gives.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from livekit.protocol import room as proto_room
from livekit.protocol import sip as proto_sip

from . import errors, ids

_NUMBER_SHAPE = re.compile(r"^\+?[\d\- ()]+$")
_NEW = "<new>"


def normalize_number(number: str) -> str:
    """E.164-ish form LiveKit compares numbers in: formatting removed, a leading `+`."""
    if not number or not _NUMBER_SHAPE.match(number):
        return number
    stripped = re.sub(r"[ \-()]", "", number)
    return stripped if stripped.startswith("+") else "+" + stripped


def _go_quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _print_numbers(numbers: Sequence[str]) -> str:
    if not numbers:
        return "<any>"
    return "[" + " ".join(_go_quote(n) for n in numbers) + "]"


def _print_id(value: str) -> str:
    return value or _NEW


def _print_name(value: str) -> str:
    return value or "<blank name>"


# --- trunks -------------------------------------------------------------------------------------------


def trunk_listed_for_numbers(trunk: proto_sip.SIPInboundTrunkInfo, numbers: Sequence[str]) -> bool:
    """`ListSIPInboundTrunkRequest` number filter: trunks without numbers always qualify."""
    if not numbers or not trunk.numbers:
        return True
    wanted = {normalize_number(n) for n in numbers}
    return any(n in numbers or normalize_number(n) in wanted for n in trunk.numbers)


def validate_inbound_trunks(trunks: Iterable[proto_sip.SIPInboundTrunkInfo]) -> None:
    """Refuse two inbound trunks that would both claim a call (same number and caller filter)."""
    by_number: dict[str, dict[str, proto_sip.SIPInboundTrunkInfo]] = {}
    for trunk in trunks:
        keys = dict.fromkeys(normalize_number(n) for n in trunk.numbers) if trunk.numbers else {"": None}
        for key in keys:
            _claim_allowed_numbers(by_number.setdefault(key, {}), trunk)


def _claim_allowed_numbers(
    by_caller: dict[str, proto_sip.SIPInboundTrunkInfo], trunk: proto_sip.SIPInboundTrunkInfo
) -> None:
    if not trunk.allowed_numbers:
        other = by_caller.get("")
        if other is not None and other.sip_trunk_id != trunk.sip_trunk_id:
            raise errors.twirp_error(
                "invalid_argument",
                f"Conflicting inbound SIP Trunks: {_go_quote(_print_id(trunk.sip_trunk_id))} and "
                f"{_go_quote(_print_id(other.sip_trunk_id))}, using the same number(s) "
                f"{_print_numbers(trunk.numbers)} without AllowedNumbers set",
            )
        by_caller[""] = trunk
        return
    for allowed in dict.fromkeys(trunk.allowed_numbers):
        key = normalize_number(allowed)
        other = by_caller.get(key)
        if other is not None and other.sip_trunk_id != trunk.sip_trunk_id:
            raise errors.twirp_error(
                "invalid_argument",
                f"Conflicting inbound SIP Trunks: {_go_quote(_print_id(trunk.sip_trunk_id))} and "
                f"{_go_quote(_print_id(other.sip_trunk_id))}, using the same number(s) "
                f"{_print_numbers(trunk.numbers)} and AllowedNumber {_go_quote(allowed)}",
            )
        by_caller[key] = trunk


def _numbers_allow(number: str, allowed: Sequence[str]) -> bool:
    if not allowed:
        return True
    normalized = normalize_number(number)
    return any(number == a or normalized == normalize_number(a) for a in allowed)


def _address_allowed(source_ip: str, source_host: str, masks: Sequence[str]) -> bool:
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return True
    usable = [m for m in masks if not re.search(r"[()+*;, \t\n\r]", m) and "://" not in m]
    if not usable:
        return True
    for mask in usable:
        if mask == source_host:
            return True
        try:
            if "/" in mask:
                if address in ipaddress.ip_network(mask, strict=False):
                    return True
            elif address == ipaddress.ip_address(mask):
                return True
        except ValueError:
            continue
    return False


def match_trunk(
    trunks: Iterable[proto_sip.SIPInboundTrunkInfo],
    *,
    calling: str,
    called: str,
    source_ip: str,
    calling_host: str,
) -> proto_sip.SIPInboundTrunkInfo | None:
    """The inbound trunk of a call: one naming the called number, else the single wildcard trunk."""
    called_normalized = normalize_number(called)
    specific: proto_sip.SIPInboundTrunkInfo | None = None
    wildcards: list[proto_sip.SIPInboundTrunkInfo] = []
    for trunk in trunks:
        if not trunk_listed_for_numbers(trunk, [called]):
            continue
        if not _numbers_allow(calling, trunk.allowed_numbers):
            continue
        if not _address_allowed(source_ip, calling_host, trunk.allowed_addresses):
            continue
        if not trunk.numbers:
            wildcards.append(trunk)
            continue
        if any(n == called or normalize_number(n) == called_normalized for n in trunk.numbers):
            if specific is not None:
                raise errors.twirp_error(
                    "failed_precondition", f"Multiple SIP Trunks matched for {_go_quote(called)}"
                )
            specific = trunk
    if specific is not None:
        return specific
    if len(wildcards) > 1:
        raise errors.twirp_error(
            "failed_precondition", f"Multiple default SIP Trunks matched for {_go_quote(called)}"
        )
    return wildcards[0] if wildcards else None


# --- dispatch rules -----------------------------------------------------------------------------------


def rule_listed_for_trunks(rule: proto_sip.SIPDispatchRuleInfo, trunk_ids: Sequence[str]) -> bool:
    """`ListSIPDispatchRuleRequest` trunk filter: rules without trunks always qualify."""
    return not trunk_ids or not rule.trunk_ids or any(t in trunk_ids for t in rule.trunk_ids)


def rule_room_and_pin(rule: proto_sip.SIPDispatchRuleInfo) -> tuple[str, str]:
    """The room name (direct) or prefix (individual, callee) of a rule, and its PIN."""
    kind = rule.rule.WhichOneof("rule")
    if kind == "dispatch_rule_direct":
        return rule.rule.dispatch_rule_direct.room_name, rule.rule.dispatch_rule_direct.pin
    if kind == "dispatch_rule_individual":
        return rule.rule.dispatch_rule_individual.room_prefix, rule.rule.dispatch_rule_individual.pin
    if kind == "dispatch_rule_callee":
        return rule.rule.dispatch_rule_callee.room_prefix, rule.rule.dispatch_rule_callee.pin
    raise errors.psrpc_error("invalid_argument", "unsupported SIP Dispatch Rule: <nil>")


def rule_priority(rule: proto_sip.SIPDispatchRuleInfo) -> int:
    """Lower is preferred: PIN-protected before open; direct, individual, callee; numbers named."""
    kind = rule.rule.WhichOneof("rule")
    order = {"dispatch_rule_direct": 0, "dispatch_rule_individual": 1, "dispatch_rule_callee": 2}
    if kind not in order:
        return 2**31 - 1
    _, pin = rule_room_and_pin(rule)
    priority = order[kind] + (0 if pin else 100)
    if not rule.inbound_numbers:
        priority += 1000
    if not rule.numbers:
        priority += 1000
    return priority


def _preferred(a: proto_sip.SIPDispatchRuleInfo, b: proto_sip.SIPDispatchRuleInfo) -> bool:
    pa, pb = rule_priority(a), rule_priority(b)
    if pa != pb:
        return pa < pb
    return rule_room_and_pin(a)[0] < rule_room_and_pin(b)[0]


def validate_dispatch_rules(rules: Iterable[proto_sip.SIPDispatchRuleInfo]) -> None:
    """Refuse two rules for the same trunk, caller number, called number and PIN."""
    claimed: dict[tuple[str, str, str, str], proto_sip.SIPDispatchRuleInfo] = {}
    for rule in rules:
        _, pin = rule_room_and_pin(rule)
        for trunk in rule.trunk_ids or [""]:
            for caller in rule.inbound_numbers or [""]:
                for number in rule.numbers or [""]:
                    key = (pin, trunk, normalize_number(caller), normalize_number(number))
                    other = claimed.get(key)
                    if other is not None:
                        raise errors.twirp_error(
                            "invalid_argument",
                            "Dispatch rule for the same trunk, inbound number, number, and PIN combination "
                            f"already exists in dispatch rule {_go_quote(_print_id(other.sip_dispatch_rule_id))} "
                            f"{_go_quote(_print_name(other.name))}",
                        )
                    claimed[key] = rule


def match_dispatch_rule(
    trunk: proto_sip.SIPInboundTrunkInfo | None,
    rules: Sequence[proto_sip.SIPDispatchRuleInfo],
    *,
    calling: str,
    called: str,
    pin: str = "",
    no_pin: bool = False,
) -> proto_sip.SIPDispatchRuleInfo | None:
    """The best rule for a call, or None when no rule applies (LiveKit then drops the call)."""
    trunk_ids = [trunk.sip_trunk_id] if trunk is not None else []
    listed = [r for r in rules if rule_listed_for_trunks(r, trunk_ids)]
    validate_dispatch_rules(listed)
    specific: proto_sip.SIPDispatchRuleInfo | None = None
    default: proto_sip.SIPDispatchRuleInfo | None = None
    for rule in listed:
        if rule.inbound_numbers and calling not in rule.inbound_numbers:
            continue
        if rule.numbers and called not in rule.numbers:
            continue
        _, rule_pin = rule_room_and_pin(rule)
        if no_pin and rule_pin:
            continue
        if pin and rule_pin != pin:
            continue
        if not rule.trunk_ids:
            default = rule if default is None or _preferred(rule, default) else default
        elif trunk is not None and trunk.sip_trunk_id in rule.trunk_ids:
            specific = rule if specific is None or _preferred(rule, specific) else specific
    return specific or default


@dataclass(frozen=True)
class Evaluation:
    """What a matched rule makes of a call: the room to join and the SIP participant to create there."""

    trunk_id: str
    rule_id: str
    request_pin: bool = False
    room_name: str = ""
    participant_identity: str = ""
    participant_name: str = ""
    participant_metadata: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    room_config: proto_room.RoomConfiguration | None = None
    room_preset: str = ""


def evaluate_dispatch_rule(
    trunk: proto_sip.SIPInboundTrunkInfo | None,
    rule: proto_sip.SIPDispatchRuleInfo,
    *,
    call_id: str,
    calling: str,
    called: str,
    calling_host: str,
    pin: str = "",
) -> Evaluation:
    """Room name, participant identity and `sip.*` attributes for a call accepted by `rule`."""
    trunk_id = trunk.sip_trunk_id if trunk is not None else ""
    room, rule_pin = rule_room_and_pin(rule)
    if rule_pin and not pin:
        return Evaluation(trunk_id=trunk_id, rule_id=rule.sip_dispatch_rule_id, request_pin=True)
    if rule_pin and rule_pin != pin:
        raise errors.twirp_error("permission_denied", "Incorrect PIN for SIP room")
    attributes = dict(rule.attributes)
    attributes["sip.callID"] = call_id
    attributes["sip.trunkID"] = trunk_id
    shown = calling
    identity = "sip_" + calling
    if rule.hide_phone_number:
        identity = "sip_" + hashlib.sha256(calling.encode()).hexdigest()[:16]
        shown = calling[-(4 if len(calling) > 4 else 1) :]
    else:
        attributes["sip.phoneNumber"] = calling
        attributes["sip.hostname"] = calling_host
        attributes["sip.trunkPhoneNumber"] = called
    kind = rule.rule.WhichOneof("rule")
    if kind == "dispatch_rule_individual":
        prefix = rule.rule.dispatch_rule_individual.room_prefix
        room = f"{prefix}_{shown}" if prefix else shown
        if not rule.rule.dispatch_rule_individual.no_randomness:
            room += "_" + ids.new_id("")
    elif kind == "dispatch_rule_callee":
        prefix = rule.rule.dispatch_rule_callee.room_prefix
        room = f"{prefix}_{called}" if prefix else called
        if rule.rule.dispatch_rule_callee.randomize:
            room += "_" + ids.new_id("")
    attributes["sip.ruleID"] = rule.sip_dispatch_rule_id
    return Evaluation(
        trunk_id=trunk_id,
        rule_id=rule.sip_dispatch_rule_id,
        room_name=room,
        participant_identity=identity,
        participant_name="Phone " + shown,
        participant_metadata=rule.metadata,
        attributes=attributes,
        room_config=rule.room_config if rule.HasField("room_config") else None,
        room_preset=rule.room_preset,
    )
