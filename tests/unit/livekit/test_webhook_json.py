"""`decode_event` against the reference: protobuf's own JSON parser (what livekit-api's `WebhookReceiver` runs)
followed by `parse_event`, on generated events in every JSON spelling protobuf accepts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from livekit import api

from gateway.livekit.webhook_json import MalformedEvent, decode_event
from gateway.livekit.webhooks import LiveKitEvent, parse_event

INT64 = st.integers(-(2**63), 2**63 - 1)
UINT32 = st.integers(0, 2**32 - 1)
TEXT = st.text(max_size=12)
SIP_KEYS = [
    "sip.callID",
    "sip.callStatus",
    "sip.phoneNumber",
    "sip.trunkPhoneNumber",
    "sip.trunkID",
    "sip.ruleID",
]
CALL_STATUSES = ["dialing", "ringing", "automation", "active", "hangup", "weird", ""]


def enum_values(enum: Any) -> st.SearchStrategy[int]:
    """Every value the installed protocol names, and numbers a newer LiveKit might send."""
    return st.sampled_from(list(enum.values())) | st.integers(0, 40)


rooms = st.builds(api.Room, sid=TEXT, name=TEXT, metadata=TEXT, num_participants=UINT32)
attributes = st.dictionaries(
    st.sampled_from(SIP_KEYS) | TEXT, st.sampled_from(CALL_STATUSES) | TEXT, max_size=8
)
participants = st.builds(
    api.ParticipantInfo,
    sid=TEXT,
    identity=TEXT,
    name=TEXT,
    kind=enum_values(api.ParticipantInfo.Kind),
    state=enum_values(api.ParticipantInfo.State),
    metadata=TEXT,
    attributes=attributes,
    joined_at=INT64,
    disconnect_reason=enum_values(api.DisconnectReason),
)
egresses = st.builds(
    api.EgressInfo,
    egress_id=TEXT,
    room_name=TEXT,
    status=enum_values(api.EgressStatus),
    error=TEXT,
    file_results=st.lists(st.builds(api.FileInfo, filename=TEXT, size=INT64), max_size=3),
)


@st.composite
def webhook_events(draw: st.DrawFn) -> api.WebhookEvent:
    event = api.WebhookEvent(
        event=draw(
            st.sampled_from(["room_started", "participant_joined", "participant_left", "egress_ended"]) | TEXT
        ),
        id=draw(TEXT),
        created_at=draw(INT64),
        num_dropped=draw(st.integers(0, 5)),
    )
    if draw(st.booleans()):
        event.room.CopyFrom(draw(rooms))
    if draw(st.booleans()):
        event.participant.CopyFrom(draw(participants))
    if draw(st.booleans()):
        event.egress_info.CopyFrom(draw(egresses))
    return event


def _numbers_for_int64(value: Any) -> Any:
    """protobuf JSON writes 64-bit integers as strings; parsers take plain numbers too."""
    if isinstance(value, dict):
        return {
            key: int(item)
            if key in ("createdAt", "created_at", "joinedAt", "joined_at")
            else _numbers_for_int64(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_numbers_for_int64(item) for item in value]
    return value


def reference(body: str) -> LiveKitEvent:
    return parse_event(json_format.Parse(body, api.WebhookEvent(), ignore_unknown_fields=True))


@settings(max_examples=400, deadline=None)
@given(
    event=webhook_events(),
    proto_names=st.booleans(),
    enum_numbers=st.booleans(),
    int64_numbers=st.booleans(),
)
def test_decodes_what_protobuf_and_parse_event_give(
    event: api.WebhookEvent, proto_names: bool, enum_numbers: bool, int64_numbers: bool
) -> None:
    as_dict = json_format.MessageToDict(
        event, preserving_proto_field_name=proto_names, use_integers_for_enums=enum_numbers
    )
    body = json.dumps(_numbers_for_int64(as_dict) if int64_numbers else as_dict, ensure_ascii=False)
    assert decode_event(body.encode()) == reference(body)


ACCEPTED_ODDITIES = [
    '{"createdAt":"1e3"}',
    '{"createdAt":12.0}',
    '{"room":null,"id":null,"participant":{"kind":null}}',
    '{"participant":{"kind":"WEIRD"}}',
    '{"participant":{"kind":"SIP","joinedAt":"12","joined_at":3}}',
    '{"participant":{"joined_at":3,"joinedAt":"12"}}',
    '{"participant":{"state":1.0,"kind":99}}',
    '{"room":{"numParticipants":"7"},"unknownField":{"x":[1,2]}}',
    '{"egressInfo":{"status":"EGRESS_LIMIT_REACHED","file_results":[{"filename":"a.ogg"}]}}',
]


@pytest.mark.parametrize("body", ACCEPTED_ODDITIES)
def test_spellings_protobuf_accepts_decode_the_same(body: str) -> None:
    assert decode_event(body) == reference(body)


REJECTED = [
    ("not json", "not JSON"),
    ('"a string"', "JSON object"),
    ('{"id":5}', "id must be a string"),
    ('{"createdAt":true}', "createdAt must be an integer, not a boolean"),
    ('{"createdAt":" 12"}', "without spaces"),
    ('{"createdAt":"12.5"}', "createdAt must be an integer"),
    ('{"createdAt":"9223372036854775808"}', "out of range"),
    ('{"room":{"numParticipants":-1}}', "out of range"),
    ('{"room":5}', "room must be a JSON object"),
    ('{"participant":{"attributes":{"a":1}}}', "attributes['a'] must be a string"),
    ('{"participant":{"attributes":[]}}', "attributes must be a JSON object"),
    ('{"egressInfo":{"fileResults":[null]}}', "fileResults[0] must not be null"),
    ('{"egressInfo":{"fileResults":{}}}', "fileResults must be a JSON array"),
]


@pytest.mark.parametrize(("body", "says"), REJECTED)
def test_malformed_bodies_are_refused_saying_which_field(body: str, says: str) -> None:
    with pytest.raises(MalformedEvent, match=None) as refused:
        decode_event(body)
    assert says in str(refused.value)
    if body.startswith("{"):  # protobuf refuses these too
        with pytest.raises(json_format.ParseError):
            reference(body)
