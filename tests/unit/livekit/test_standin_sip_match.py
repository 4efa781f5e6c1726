"""The stand-in's pure SIP routing: number normalisation, rule priority, trunk selection."""

from __future__ import annotations

import pytest
from livekit import api

from tests.support.livekit_standin.errors import TwirpFailure
from tests.support.livekit_standin.sip_match import (
    evaluate_dispatch_rule,
    match_trunk,
    normalize_number,
    rule_priority,
)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("+1 (555) 010-0100", "+15550100100"),
        ("15550100", "+15550100"),
        ("", ""),
        ("alice", "alice"),
        ("sip:+1555", "sip:+1555"),
    ],
)
def test_normalize_number(raw: str, normalized: str) -> None:
    assert normalize_number(raw) == normalized


def rule(
    kind: str, *, pin: str = "", numbers: tuple[str, ...] = (), callers: tuple[str, ...] = ()
) -> api.SIPDispatchRuleInfo:
    info = api.SIPDispatchRuleInfo(numbers=list(numbers), inbound_numbers=list(callers))
    if kind == "direct":
        info.rule.dispatch_rule_direct.CopyFrom(api.SIPDispatchRuleDirect(room_name="r", pin=pin))
    elif kind == "individual":
        info.rule.dispatch_rule_individual.CopyFrom(api.SIPDispatchRuleIndividual(room_prefix="r", pin=pin))
    else:
        info.rule.dispatch_rule_callee.CopyFrom(api.SIPDispatchRuleCallee(room_prefix="r", pin=pin))
    return info


def test_rule_priority_prefers_pins_then_kinds_then_named_numbers() -> None:
    ordered = [
        rule("direct", pin="1", numbers=("+1",), callers=("+2",)),
        rule("callee", pin="1", numbers=("+1",), callers=("+2",)),
        rule("direct", numbers=("+1",), callers=("+2",)),
        rule("individual", numbers=("+1",), callers=("+2",)),
        rule("direct", numbers=("+1",)),
        rule("direct"),
    ]
    priorities = [rule_priority(r) for r in ordered]
    assert priorities == sorted(priorities)
    assert priorities == [0, 2, 100, 101, 1100, 2100]


def trunk(
    trunk_id: str, numbers: list[str], *, addresses: tuple[str, ...] = (), callers: tuple[str, ...] = ()
) -> api.SIPInboundTrunkInfo:
    return api.SIPInboundTrunkInfo(
        sip_trunk_id=trunk_id,
        numbers=numbers,
        allowed_addresses=list(addresses),
        allowed_numbers=list(callers),
    )


def test_specific_trunk_beats_wildcard_and_filters_apply() -> None:
    trunks = [
        trunk("ST_any", [], addresses=("10.0.0.0/8",)),
        trunk("ST_did", ["+15550100"], callers=("+14155550123",)),
    ]
    chosen = match_trunk(
        trunks, calling="+14155550123", called="+1 555 0100", source_ip="10.1.2.3", calling_host=""
    )
    assert chosen is not None
    assert chosen.sip_trunk_id == "ST_did"
    fallback = match_trunk(
        trunks, calling="+19999999999", called="+15550100", source_ip="10.1.2.3", calling_host=""
    )
    assert fallback is not None
    assert fallback.sip_trunk_id == "ST_any"
    assert (
        match_trunk(trunks, calling="+1999", called="+15550100", source_ip="192.0.2.1", calling_host="")
        is None
    )


def test_two_wildcard_trunks_are_ambiguous() -> None:
    trunks = [
        trunk("ST_a", [], addresses=("10.0.0.1",)),
        trunk("ST_b", [], addresses=("10.0.0.0/24",)),
    ]
    with pytest.raises(TwirpFailure) as caught:
        match_trunk(trunks, calling="+1", called="+15550100", source_ip="10.0.0.1", calling_host="")
    assert caught.value.code == "failed_precondition"


def test_callee_rules_name_the_room_after_the_called_user_part() -> None:
    """LiveKit (protocol `EvaluateDispatchRule`): the called user part, `<prefix>_` before it when a prefix is
    set, `_<random>` after it with `randomize`; a non-number user part is kept as dialled."""

    def room(prefix: str, randomize: bool = False) -> str:
        info = api.SIPDispatchRuleInfo(sip_dispatch_rule_id="SDR_1")
        info.rule.dispatch_rule_callee.CopyFrom(
            api.SIPDispatchRuleCallee(room_prefix=prefix, randomize=randomize)
        )
        decision = evaluate_dispatch_rule(
            None, info, call_id="SCL_1", calling="+14155550123", called="call_01ABC", calling_host=""
        )
        return decision.room_name

    assert room("") == "call_01ABC"
    assert room("number") == "number_call_01ABC"
    assert room("", randomize=True).startswith("call_01ABC_")
