"""TwiML for the engine's actions (checked as XML), and Twilio callback parameters read as events."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.ivr import (
    ConnectAgent,
    DialNumber,
    DialSip,
    Digits,
    Gather,
    Hangup,
    HttpRequest,
    Play,
    Record,
    RecordResult,
    Say,
    Silence,
    Speech,
    TransferResult,
    UnrenderableAction,
    render_twiml,
    twilio_event,
)
from gateway.ivr.twiml import render_twiml_uncached

ACTION = "https://gw.example.com/carriers/twilio/ivr?call=CA1&x=1"


def parse(actions: list) -> ET.Element:
    return ET.fromstring(  # noqa: S314 - our own output, not untrusted input
        render_twiml(actions, action_url=ACTION, media_base_url="https://media.example.com/flows")
    )


def test_gather_wraps_its_prompts_and_reports_silence_to_the_action_url() -> None:
    gather = Gather(
        prompts=[Say(text="Press 1 & go", voice="Polly.Amy", language="en-GB"), Play(url="audio/menu.wav")],
        input=["dtmf", "speech"],
        timeout=5.0,
        inter_digit_timeout=2.0,
        num_digits=1,
        finish_on_key="",
        hints=["sales", "support"],
        language="en-GB",
    )
    root = parse([Say(text="Welcome."), gather])
    say, element, redirect = list(root)
    assert (say.tag, say.text) == ("Say", "Welcome.")
    assert element.tag == "Gather"
    assert element.attrib == {
        "action": ACTION,
        "method": "POST",
        "input": "dtmf speech",
        "timeout": "5",
        "numDigits": "1",
        "finishOnKey": "",
        "hints": "sales, support",
        "language": "en-GB",
        "actionOnEmptyResult": "true",
    }
    spoken, played = list(element)
    assert (spoken.text, spoken.attrib) == ("Press 1 & go", {"voice": "Polly.Amy", "language": "en-GB"})
    assert played.text == "https://media.example.com/flows/audio/menu.wav"
    assert (redirect.tag, redirect.text, redirect.attrib) == ("Redirect", ACTION, {"method": "POST"})


def test_dtmf_only_gather_leaves_out_speech_settings() -> None:
    gather = Gather(prompts=[], input=["dtmf"], timeout=6.4, inter_digit_timeout=3.0)
    element = parse([gather])[0]
    assert "hints" not in element.attrib
    assert "language" not in element.attrib
    assert "numDigits" not in element.attrib
    assert (element.attrib["input"], element.attrib["timeout"], element.attrib["finishOnKey"]) == (
        "dtmf",
        "6",
        "#",
    )


def test_record() -> None:
    root = parse(
        [Say(text="After the tone."), Record(max_length=120, beep=True, finish_on_key="#", transcribe=True)]
    )
    record, redirect = root[1], root[2]
    assert (redirect.tag, redirect.text) == ("Redirect", ACTION)
    assert record.tag == "Record"
    assert record.attrib == {
        "action": ACTION,
        "method": "POST",
        "maxLength": "120",
        "playBeep": "true",
        "finishOnKey": "#",
        "timeout": "5",
        "transcribe": "true",
    }


def test_transfers_dial_numbers_and_sip_with_headers() -> None:
    root = parse([DialNumber(number="+442079460123", caller_id="+442079460000", timeout=20)])
    dial = root[0]
    assert dial.attrib == {"action": ACTION, "method": "POST", "timeout": "20", "callerId": "+442079460000"}
    assert (dial[0].tag, dial[0].text) == ("Number", "+442079460123")
    sip = parse([DialSip(uri="sip:q@pbx.example.com", headers={"X-Account": "12 34", "X-Call": "CA1"})])[0][0]
    assert (sip.tag, sip.text) == ("Sip", "sip:q@pbx.example.com?X-Account=12%2034&X-Call=CA1")
    assert sip.attrib == {}, "no credentials unless given"
    authed = parse([DialSip(uri="sip:call_1@x.sip.livekit.cloud", username="trunkline-ab", password="p&ss")])[
        0
    ][0]
    assert authed.attrib == {"username": "trunkline-ab", "password": "p&ss"}


def test_hangup_and_reject() -> None:
    assert [e.tag for e in parse([Say(text="Bye."), Hangup(reason="done")])] == ["Say", "Hangup"]
    [reject] = parse([Hangup(reason="blocked", reject="busy")])
    assert (reject.tag, reject.attrib) == ("Reject", {"reason": "busy"})


@pytest.mark.parametrize(
    "action", [HttpRequest(method="GET", url="https://x.example"), ConnectAgent(agent="sales")]
)
def test_actions_the_adapter_must_resolve_are_refused(action: HttpRequest | ConnectAgent) -> None:
    with pytest.raises(UnrenderableAction):
        render_twiml([action], action_url=ACTION)


def test_absolute_audio_urls_are_kept() -> None:
    assert parse([Play(url="https://cdn.example.com/a.mp3", loop=2), Hangup()])[0].attrib == {"loop": "2"}


@pytest.mark.parametrize(
    ("params", "event"),
    [
        ({"Digits": "12#"}, Digits(digits="12#")),
        (
            {"SpeechResult": " sales please ", "Confidence": "0.91"},
            Speech(text="sales please", confidence=0.91),
        ),
        ({"Digits": "", "SpeechResult": ""}, Silence()),
        ({"CallSid": "CA1"}, Silence()),
        ({"DialCallStatus": "busy", "Digits": "1"}, TransferResult(status="busy")),
        ({"DialCallStatus": "answered"}, TransferResult(status="completed")),
        ({"DialCallStatus": "something-new"}, TransferResult(status="failed")),
        (
            {"RecordingUrl": "https://api.twilio.com/r/RE1", "RecordingDuration": "14"},
            RecordResult(url="https://api.twilio.com/r/RE1", duration=14.0),
        ),
        ({"RecordingUrl": "https://api.twilio.com/r/RE1", "RecordingDuration": "0"}, Silence()),
        ({"Digits": "hangup", "RecordingUrl": ""}, Silence()),
    ],
)
def test_twilio_callback_parameters_become_events(params: dict[str, str], event: object) -> None:
    assert twilio_event(params) == event


def _tree(xml: str) -> list[tuple[str, dict[str, str], str | None]]:
    return [(e.tag, dict(e.attrib), e.text) for e in ET.fromstring(xml).iter()]  # noqa: S314 - our own output


@given(
    action_url=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)
    | st.sampled_from(['https://gw.example.com/a?x=1&y="2"<3>', "https://gw.example.com/a\tb"]),
    text=st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30),
)
def test_memoised_rendering_matches_a_fresh_one(action_url: str, text: str) -> None:
    actions = [
        Say(text=text),
        Gather(prompts=[Say(text=text)], input=["dtmf"], timeout=5.0, inter_digit_timeout=2.0),
    ]
    for _ in range(2):
        assert _tree(render_twiml(actions, action_url=action_url)) == _tree(
            render_twiml_uncached(actions, action_url=action_url)
        )


def test_a_lookup_is_recorded_without_credentials_or_query_values() -> None:
    from gateway.ivr import HttpRequest, HttpResult
    from gateway.ivr.driver import describe_lookup

    request = HttpRequest(
        method="GET", url="https://user:pw@crm.example.com:8443/accounts/12345678/v2?id=12345678&k=secret"
    )
    described = describe_lookup(request, HttpResult(status=404), 0.0123)
    assert described == {
        "method": "GET",
        "url": "https://crm.example.com:8443/accounts/********/v2?id=*&k=*",
        "status": 404,
        "outcome": "http_error",
        "error": None,
        "latency_ms": 12.3,
    }
    failed = describe_lookup(request, HttpResult(error="timed out"), 3.0)
    assert (failed["outcome"], failed["error"]) == ("error", "timed out")
