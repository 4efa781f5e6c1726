"""The Twilio adapter's small pure parts on their own: form parsing, numbers, TwiML answers, SIP URIs, the stored
conversation, masked input events (new calls' group commit is the call store's, see tests/integration/calls)."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from gateway.carriers.twilio import answers
from gateway.carriers.twilio.bridge import BridgeRequest, dial_livekit, sip_uri
from gateway.carriers.twilio.conversation import MAX_REPLIES, VOICE, Conversation
from gateway.carriers.twilio.voice import called_number, caller_number, describe_input
from gateway.carriers.twilio.webhook import _form_pairs, parse_body
from gateway.errors import InvalidInput
from gateway.ivr import Digits, Silence, Speech, TransferResult
from gateway.livekit.bridging import bridge_credentials
from routing.model import ForwardTarget, RejectTarget
from tests.support.twilio import parse_twiml
from tests.support.twilio.twiml import Dial, Record, Reject

NOW = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)


@given(st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=6))
def test_form_bodies_read_as_parse_qsl_reads_them(pairs: list[tuple[str, str]]) -> None:
    body = urlencode(pairs)
    assert _form_pairs(body) == parse_qsl(body, keep_blank_values=True)


def test_bodies_that_are_neither_forms_nor_json_objects_are_refused() -> None:
    assert parse_body(b"\xff\xfe", None) is None
    assert parse_body(b"[1, 2]", "application/json") is None
    assert parse_body(b"{", "application/json") is None
    assert parse_body(b'{"CallSid": "CA1", "Digits": 12}', "application/json; charset=utf-8") == {
        "CallSid": "CA1",
        "Digits": "12",
    }
    assert parse_body(b"A=1&A=2&B=", "application/x-www-form-urlencoded") == {"A": ["1", "2"], "B": ""}


def test_numbers_from_twilio() -> None:
    assert caller_number("+447700900123", "GB") == "+447700900123"
    assert caller_number("07911 123456", "GB") == "+447911123456"
    assert caller_number("anonymous", "GB") == ""
    assert caller_number("+266696687", "GB") == ""
    assert caller_number("sip:+14155550100@pbx.example.com", "US") == "+14155550100"
    assert caller_number("client:alice", "US") == ""
    assert called_number("sip:support@acme.sip.twilio.com", "US") == ""
    for bad in ("+1", "not a number", "12"):
        with pytest.raises(InvalidInput):
            called_number(bad, "GB")


def test_answers_are_twiml_twilio_runs() -> None:
    assert parse_twiml(answers.reject(RejectTarget(reason="busy"))) == (Reject("busy"),)
    assert parse_twiml(answers.reject(RejectTarget(reason="declined"))) == (Reject("rejected"),)
    (dial,) = parse_twiml(
        answers.forward(ForwardTarget(sip_uri="sip:desk@pbx.example.com"), action_url="https://a/b")
    )
    assert isinstance(dial, Dial)
    assert (dial.action, dial.targets[0].kind, dial.targets[0].address) == (
        "https://a/b",
        "sip",
        "sip:desk@pbx.example.com",
    )
    verbs = parse_twiml(answers.voicemail(action_url="https://a/ivr", recording_callback_url="https://a/rec"))
    (record,) = [v for v in verbs if isinstance(v, Record)]
    assert (record.action, record.recording_status_callback) == ("https://a/ivr", "https://a/rec")
    assert answers.play_digits("12w#", resume_url="https://a/resume").count('digits="12w#"') == 1


def test_the_sip_uri_names_the_room_and_carries_the_call() -> None:
    assert sip_uri("sip:x.sip.livekit.cloud", "call_1") == "sip:call_1@x.sip.livekit.cloud"
    assert (
        sip_uri("x.sip.livekit.cloud;transport=tcp", "call_1")
        == "sip:call_1@x.sip.livekit.cloud;transport=tcp"
    )
    assert sip_uri("sips:bridge@x.example.com", "call_1") == "sips:call_1@x.example.com"
    request = BridgeRequest(
        call_id="call_1",
        call_sid="CA1",
        agent="sales",
        config={},
        number="+442079460000",
        caller="+447700900123",
        called="+442079460000",
        first_in_room=True,
    )
    credentials = bridge_credentials("prj_1", "secret")
    dial = dial_livekit("sip:x.sip.livekit.cloud", request, credentials)
    assert dial.uri == "sip:call_1@x.sip.livekit.cloud"
    assert (dial.username, dial.password) == (credentials.username, credentials.password)
    assert dial.headers == {
        "X-Trunkline-Call-Id": "call_1",
        "X-Trunkline-Room": "call_1",
        "X-Trunkline-Agent": "sales",
    }


def test_the_conversation_keeps_the_last_answers_and_knows_claims() -> None:
    conversation = Conversation()
    conversation.claim(VOICE)
    assert conversation.claimed(VOICE)
    assert not conversation.claimed(VOICE, now=conversation.pending[VOICE] + 60)
    conversation.remember(VOICE, "<Response/>")
    assert not conversation.claimed(VOICE)
    for turn in range(10):
        conversation.remember(str(turn), f"<Response>{turn}</Response>")
    assert len(conversation.replies) == MAX_REPLIES
    assert conversation.reply_for(VOICE) == "<Response/>"
    assert conversation.latest_reply() == "<Response>9</Response>"


def test_input_events_never_hold_what_the_caller_keyed_or_said() -> None:
    assert describe_input(Digits(digits="4929"), {}) == {"input": "digits", "digits": "****"}
    assert describe_input(Digits(digits="2"), {}, sensitive=False) == {"input": "digits", "digits": "2"}
    assert describe_input(Speech(text="my card is 4929", confidence=0.9), {}) == {
        "input": "speech",
        "confidence": 0.9,
    }
    assert describe_input(Silence(), {}) == {"input": "silence"}
    assert describe_input(TransferResult(status="busy"), {"DialSipResponseCode": "486"}) == {
        "input": "dial",
        "status": "busy",
        "sip_code": 486,
    }


@given(st.text(alphabet="%2Bb+&=aF0 é", max_size=30))
@example("From=%2B447700900123&To=%2B44+20+7946&Caller=%2B1%2&Called=%2b1&%2B=%2B")
def test_any_form_body_reads_as_parse_qsl_reads_it(body: str) -> None:
    assert _form_pairs(body) == parse_qsl(body, keep_blank_values=True)
