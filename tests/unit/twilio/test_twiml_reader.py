"""The call simulator's reading of TwiML and of what the caller types."""

from __future__ import annotations

import pytest

from gateway.carriers.twilio.call_simulator import Endpoint, _gather_reply, split_inputs
from gateway.carriers.twilio.twiml_reader import TwimlUnreadable, describe, read_twiml
from gateway.ivr import Gather, Say, render_twiml


def test_a_gateway_answer_reads_as_what_is_said_and_gathered() -> None:
    document = render_twiml(
        [
            Say(text="Welcome."),
            Gather(
                prompts=[Say(text="Press 1.")], input=["dtmf"], timeout=4, inter_digit_timeout=3, num_digits=1
            ),
        ],
        action_url="https://gw.example.com/carriers/twilio/ivr?turn=1",
    )
    lines = [line for verb in read_twiml(document) for line in describe(verb)]
    assert lines[:3] == ['Say: "Welcome."', "Gather: keys, 1 digit (timeout 4s)", '  "Press 1."']
    assert lines[-1].startswith("Redirect: https://gw.example.com/carriers/twilio/ivr?turn=1")


def test_dial_targets_are_shown_without_their_sip_headers() -> None:
    (dial,) = read_twiml(
        "<Response><Dial timeout='20'><Sip>sip:room@lk.example.com?X-Secret=1</Sip></Dial></Response>"
    )
    assert describe(dial) == ["Dial: sip sip:room@lk.example.com (ring 20s)"]


@pytest.mark.parametrize(
    "document", ["not xml", "<Html/>", "<Response>" + "<Pause/>" * 60000 + "</Response>"]
)
def test_what_is_not_twiml_is_refused(document: str) -> None:
    with pytest.raises(TwimlUnreadable):
        read_twiml(document)


def test_typed_answers_become_digits_speech_or_silence() -> None:
    assert split_inputs("1,,1234#, sales ") == ["1", "", "1234#", "sales"]
    assert _gather_reply("1234#", "#") == {"Digits": "1234"}
    assert _gather_reply("*9", "#") == {"Digits": "*9"}
    assert _gather_reply("#", "#") is None
    assert _gather_reply("", "#") is None
    assert _gather_reply("talk to sales", "#") == {"SpeechResult": "talk to sales", "Confidence": "0.92"}


def test_requests_go_to_the_gateway_signed_for_its_public_url() -> None:
    endpoint = Endpoint(base_url="http://127.0.0.1:8000", signed_url="https://gw.example.com")
    assert endpoint.transport("https://gw.example.com/carriers/twilio/ivr?turn=2") == (
        "http://127.0.0.1:8000/carriers/twilio/ivr?turn=2"
    )
