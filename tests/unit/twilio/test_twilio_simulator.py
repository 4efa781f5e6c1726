"""The Twilio simulator against a scripted receiver: signed, documented requests and Twilio's TwiML semantics."""

from __future__ import annotations

import asyncio
import random
import re
import socket
from datetime import UTC, datetime

import pytest
from aiohttp import web

from gateway.calls.lifecycle import CallSnapshot, CallState, transition
from gateway.carriers.twilio.params import (
    DialResult,
    GatherResult,
    RecordingCallback,
    RecordResult,
    StatusCallback,
    VoiceRequest,
    parse_form,
)
from tests.support.twilio import SimulatedClock, SimulatorError, TwilioSimulator, parse_twiml
from tests.support.twilio.twiml import Dial, Gather, Record, Redirect, Say
from tests.unit.twilio.gateway_double import GatewayDouble, Received, run_async, twiml

TOKEN = "f" * 32
VOICE = "/carriers/twilio/voice"
STATUS = "/carriers/twilio/status"
CALLER, NUMBER = "+442071838750", "+14155550100"
MENU = twiml(
    '<Gather action="gather?step=menu" numDigits="1" input="dtmf speech" hints="billing, sales">'
    "<Say>Welcome to Acme. Press 1 or say billing.</Say></Gather>"
    "<Say>We did not hear you.</Say><Hangup/>"
)


def all_signed(gateway: GatewayDouble) -> bool:
    return all(r.valid_for_twilio and r.valid_for_gateway for r in gateway.received)


@run_async
async def test_an_inbound_call_posts_documented_signed_parameters() -> None:
    async with GatewayDouble(TOKEN) as gateway, TwilioSimulator(gateway.base_url, auth_token=TOKEN) as twilio:
        gateway.answer(VOICE, MENU)
        conv = await twilio.call(CALLER, NUMBER)

    first = gateway.to(VOICE)[0]
    assert first.method == "POST"
    assert first.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert first.valid_for_twilio
    assert first.valid_for_gateway
    request = parse_form(VoiceRequest, first.params)
    assert re.fullmatch(r"CA[0-9a-f]{32}", request.call_sid)
    assert re.fullmatch(r"AC[0-9a-f]{32}", request.account_sid)
    assert (request.from_, request.to, request.call_status, request.direction) == (
        CALLER,
        NUMBER,
        "ringing",
        "inbound",
    )
    assert (request.api_version, request.from_country, request.to_country) == ("2010-04-01", "GB", "US")
    assert first.params["Caller"] == CALLER
    assert first.params["Called"] == NUMBER
    assert conv.call_sid == request.call_sid
    assert conv.prompts == ["Welcome to Acme. Press 1 or say billing."]
    assert isinstance(conv.awaiting, Gather)
    assert not conv.hung_up


@run_async
async def test_pressing_a_key_posts_digits_to_the_relative_action() -> None:
    async with GatewayDouble(TOKEN) as gateway, TwilioSimulator(gateway.base_url, auth_token=TOKEN) as twilio:
        gateway.answer(VOICE, MENU)
        gateway.answer("/carriers/twilio/gather", twiml("<Say>Billing. Goodbye.</Say><Hangup/>"))
        conv = await twilio.call(CALLER, NUMBER)
        await conv.press("12")

    action = gateway.to("/carriers/twilio/gather")[0]
    assert action.query == "step=menu"
    result = parse_form(GatherResult, action.params)
    assert (result.digits, result.call_status, result.call_sid) == ("1", "in-progress", conv.call_sid)
    assert conv.prompts[-1] == "Billing. Goodbye."
    assert conv.hung_up
    assert all_signed(gateway)


@run_async
async def test_finish_on_key_ends_input_and_is_reported() -> None:
    gather = twiml('<Gather action="/account" finishOnKey="#"><Say>Account number?</Say></Gather>')
    async with GatewayDouble(TOKEN) as gateway, TwilioSimulator(gateway.base_url, auth_token=TOKEN) as twilio:
        gateway.answer(VOICE, gather)
        gateway.answer("/account", twiml("<Hangup/>"))
        conv = await twilio.call(CALLER, NUMBER)
        await conv.press("4711#99")

    params = gateway.to("/account")[0].params
    assert (params["Digits"], params["FinishedOnKey"]) == ("4711", "#")
    assert conv.hung_up


@run_async
async def test_speech_posts_speech_result_and_confidence() -> None:
    async with GatewayDouble(TOKEN) as gateway, TwilioSimulator(gateway.base_url, auth_token=TOKEN) as twilio:
        gateway.answer(VOICE, MENU)
        gateway.answer("/carriers/twilio/gather", twiml("<Hangup/>"))
        conv = await twilio.call(CALLER, NUMBER)
        await conv.say("billing", confidence=0.87)

    result = parse_form(GatherResult, gateway.to("/carriers/twilio/gather")[0].params)
    assert result.speech_result == "billing"
    assert result.confidence == pytest.approx(0.87)
    assert result.digits is None


@run_async
async def test_silence_runs_the_next_verb_without_calling_the_action() -> None:
    async with GatewayDouble(TOKEN) as gateway, TwilioSimulator(gateway.base_url, auth_token=TOKEN) as twilio:
        gateway.answer(VOICE, MENU)
        conv = await twilio.call(CALLER, NUMBER)
        await conv.silence()

    assert gateway.to("/carriers/twilio/gather") == []
    assert conv.prompts[-1] == "We did not hear you."
    assert conv.hung_up


@run_async
async def test_action_on_empty_result_posts_without_digits() -> None:
    gather = twiml('<Gather action="/empty" actionOnEmptyResult="true"><Say>Anything?</Say></Gather>')
    async with GatewayDouble(TOKEN) as gateway, TwilioSimulator(gateway.base_url, auth_token=TOKEN) as twilio:
        gateway.answer(VOICE, gather)
        gateway.answer("/empty", twiml("<Hangup/>"))
        conv = await twilio.call(CALLER, NUMBER)
        await conv.silence()

    (empty,) = gateway.to("/empty")
    assert "Digits" not in empty.params
    assert conv.hung_up


@run_async
async def test_keys_at_a_speech_only_gather_are_not_heard() -> None:
    gather = twiml(
        '<Gather input="speech" action="/speech"><Say>Say something.</Say></Gather><Say>Bye.</Say>'
    )
    async with GatewayDouble(TOKEN) as gateway, TwilioSimulator(gateway.base_url, auth_token=TOKEN) as twilio:
        gateway.answer(VOICE, gather)
        conv = await twilio.call(CALLER, NUMBER)
        await conv.press("1")

    assert gateway.to("/speech") == []
    assert conv.prompts[-1] == "Bye."


@run_async
async def test_redirect_with_get_signs_the_query() -> None:
    async with GatewayDouble(TOKEN) as gateway, TwilioSimulator(gateway.base_url, auth_token=TOKEN) as twilio:
        gateway.answer(VOICE, twiml('<Redirect method="GET">/next?from=voice</Redirect>'))
        gateway.answer("/next", twiml("<Say>Redirected.</Say>"))
        conv = await twilio.call(CALLER, NUMBER)

    (following,) = gateway.to("/next")
    assert following.method == "GET"
    assert following.query.startswith("from=voice&AccountSid=AC")
    assert following.valid_for_twilio
    assert conv.prompts == ["Redirected."]
    assert conv.hung_up


@run_async
async def test_record_posts_the_recording_and_its_status_callback() -> None:
    document = twiml(
        '<Say>Leave a message.</Say><Record action="/voicemail" maxLength="60" '
        'recordingStatusCallback="/carriers/twilio/recording"/>'
    )
    async with GatewayDouble(TOKEN) as gateway, TwilioSimulator(gateway.base_url, auth_token=TOKEN) as twilio:
        gateway.answer(VOICE, document)
        gateway.answer("/voicemail", twiml("<Say>Thanks.</Say><Hangup/>"))
        gateway.answer("/carriers/twilio/recording", 204)
        conv = await twilio.call(CALLER, NUMBER)
        assert isinstance(conv.awaiting, Record)
        recording_sid = await conv.record(75, finish_key="#")

    result = parse_form(RecordResult, gateway.to("/voicemail")[0].params)
    assert (result.recording_sid, result.recording_duration, result.digits) == (recording_sid, 60, "#")
    callback = parse_form(RecordingCallback, gateway.to("/carriers/twilio/recording")[0].params)
    assert (callback.recording_sid, callback.recording_status, callback.call_sid) == (
        recording_sid,
        "completed",
        conv.call_sid,
    )
    assert callback.recording_url == result.recording_url
    assert conv.prompts == ["Leave a message.", "Thanks."]
    assert all_signed(gateway)


@run_async
async def test_dial_records_targets_and_reports_the_leg() -> None:
    document = twiml(
        '<Dial action="/dialed" timeout="20"><Sip>sip:call-1@lk.example?X-Trunkline-Call=c1</Sip></Dial>'
    )
    async with GatewayDouble(TOKEN) as gateway, TwilioSimulator(gateway.base_url, auth_token=TOKEN) as twilio:
        gateway.answer(VOICE, document)
        gateway.answer("/dialed", twiml("<Hangup/>"))
        conv = await twilio.call(CALLER, NUMBER)

    assert [(t.kind, t.address) for t in conv.dialed] == [
        ("sip", "sip:call-1@lk.example?X-Trunkline-Call=c1")
    ]
    result = parse_form(DialResult, gateway.to("/dialed")[0].params)
    assert (result.dial_call_status, result.dial_call_duration, result.dial_sip_response_code) == (
        "completed",
        30,
        200,
    )
    assert result.dial_bridged is True


@run_async
async def test_a_5xx_is_retried_with_the_same_request_when_the_url_asks_for_it() -> None:
    calls = 0

    def flaky(_request: Received) -> web.Response | str:
        nonlocal calls
        calls += 1
        return web.Response(status=503) if calls == 1 else MENU

    async with GatewayDouble(TOKEN) as gateway:
        gateway.answer(VOICE, flaky)
        async with TwilioSimulator(
            gateway.base_url, auth_token=TOKEN, voice_path=VOICE + "#rc=2&rp=5xx"
        ) as twilio:
            conv = await twilio.call(CALLER, NUMBER)

    first, second = gateway.to(VOICE)
    assert first.form == second.form
    assert first.headers["X-Twilio-Signature"] == second.headers["X-Twilio-Signature"]
    assert first.headers["I-Twilio-Idempotency-Token"] == second.headers["I-Twilio-Idempotency-Token"]
    assert "#" not in first.url
    assert first.valid_for_twilio
    assert conv.prompts == ["Welcome to Acme. Press 1 or say billing."]


@run_async
async def test_by_default_a_5xx_is_an_application_error() -> None:
    async with GatewayDouble(TOKEN) as gateway, TwilioSimulator(gateway.base_url, auth_token=TOKEN) as twilio:
        gateway.answer(VOICE, lambda _request: web.Response(status=500))
        conv = await twilio.call(CALLER, NUMBER)

    assert len(gateway.to(VOICE)) == 1
    assert conv.error_code == 11200
    assert conv.hung_up
    assert conv.prompts == ["We are sorry, an application error has occurred. Goodbye."]


@run_async
async def test_a_slow_answer_is_retried_after_the_read_timeout() -> None:
    calls = 0

    async def slow_once(_request: Received) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(0.6)
        return MENU

    async with GatewayDouble(TOKEN) as gateway:
        gateway.answer(VOICE, slow_once)
        twilio = TwilioSimulator(gateway.base_url, auth_token=TOKEN, overrides="rt=200&rp=rt,ct&rc=1")
        conv = await twilio.call(CALLER, NUMBER)
        await twilio.aclose()

    attempts = conv.deliveries[0].attempts
    assert [a.failure for a in attempts] == ["rt", None]
    assert attempts[0].params == attempts[1].params
    assert isinstance(conv.awaiting, Gather)


@run_async
async def test_a_refused_connection_is_retried_once_then_fails() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with TwilioSimulator(f"http://127.0.0.1:{port}", auth_token=TOKEN) as twilio:
        conv = await twilio.call(CALLER, NUMBER)

    assert [a.failure for a in conv.deliveries[0].attempts] == ["ct", "ct"]
    assert conv.error_code == 11205


@run_async
async def test_the_fallback_url_gets_the_error() -> None:
    async with GatewayDouble(TOKEN) as gateway:
        gateway.answer(VOICE, twiml("<Say>unclosed"))
        gateway.answer("/fallback", twiml("<Say>Sorry, try later.</Say>"))
        twilio = TwilioSimulator(
            gateway.base_url, auth_token=TOKEN, fallback_url=gateway.base_url + "/fallback"
        )
        conv = await twilio.call(CALLER, NUMBER)
        await twilio.aclose()

    (fallback,) = gateway.to("/fallback")
    assert fallback.params["ErrorCode"] == "12100"
    assert fallback.params["ErrorUrl"] == gateway.base_url + VOICE
    assert conv.prompts == ["Sorry, try later."]


@run_async
async def test_json_is_not_twiml() -> None:
    async with GatewayDouble(TOKEN) as gateway, TwilioSimulator(gateway.base_url, auth_token=TOKEN) as twilio:
        gateway.answer(VOICE, lambda _request: web.json_response({"say": "hi"}))
        conv = await twilio.call(CALLER, NUMBER)
    assert conv.error_code == 12300


@run_async
async def test_shuffled_repeated_status_callbacks_fold_to_the_call_that_happened() -> None:
    clock = SimulatedClock(datetime(2025, 3, 4, 10, 0, tzinfo=UTC))
    events = ("initiated", "ringing", "answered", "completed")
    async with GatewayDouble(TOKEN) as gateway:
        gateway.answer(
            VOICE, twiml("<Say>Hello there, thanks for calling us today.</Say><Pause length='20'/>")
        )
        gateway.answer(STATUS, 204)
        twilio = TwilioSimulator(
            gateway.base_url, auth_token=TOKEN, status_callback_events=events, clock=clock
        )
        conv = twilio.conversation(auto_status_callbacks=False)
        await conv.start(CALLER, NUMBER)
        await conv.send_status_callbacks(shuffle=True, duplicates=4, rng=random.Random(7))
        await twilio.aclose()

    received = gateway.to(STATUS)
    assert (
        len(received) == 3 + 4
    )  # ringing, in-progress, completed (no "initiated" on inbound calls), 4 repeats
    assert all_signed(gateway)
    snapshot = CallSnapshot()
    for request in received:
        snapshot = transition(
            snapshot, parse_form(StatusCallback, request.params).to_status_update()
        ).snapshot
    ringing, answered, ended = conv.events
    assert snapshot.state is CallState.COMPLETED
    assert (snapshot.ringing_at, snapshot.answered_at, snapshot.ended_at) == (
        ringing.at,
        answered.at,
        ended.at,
    )
    assert snapshot.duration == round((ended.at - answered.at).total_seconds()) > 20
    assert snapshot.sip_code == 200
    assert {r.params["SequenceNumber"] for r in received} == {"0", "1", "2"}


@run_async
async def test_the_completed_callback_is_sent_when_the_call_ends() -> None:
    async with GatewayDouble(TOKEN) as gateway, TwilioSimulator(gateway.base_url, auth_token=TOKEN) as twilio:
        gateway.answer(VOICE, MENU)
        gateway.answer(STATUS, 204)
        conv = await twilio.call(CALLER, NUMBER)
        assert gateway.to(STATUS) == []
        await conv.hangup()

    (callback,) = gateway.to(STATUS)
    parsed = parse_form(StatusCallback, callback.params)
    assert (parsed.call_status, parsed.sequence_number, parsed.callback_source) == (
        "completed",
        0,
        "call-progress-events",
    )
    assert parsed.call_duration is not None
    assert parsed.call_duration > 0
    assert parsed.occurred_at() == conv.events[-1].at


@run_async
async def test_reject_first_leaves_the_call_unanswered() -> None:
    async with GatewayDouble(TOKEN) as gateway, TwilioSimulator(gateway.base_url, auth_token=TOKEN) as twilio:
        gateway.answer(VOICE, twiml('<Reject reason="busy"/><Say>never heard</Say>'))
        gateway.answer(STATUS, 204)
        conv = await twilio.call(CALLER, NUMBER)

    assert [event.status for event in conv.events] == ["ringing", "busy"]
    assert (conv.rejected, conv.prompts) == ("busy", [])
    assert parse_form(StatusCallback, gateway.to(STATUS)[0].params).call_duration == 0


@run_async
async def test_the_caller_cannot_act_after_hanging_up() -> None:
    async with GatewayDouble(TOKEN) as gateway, TwilioSimulator(gateway.base_url, auth_token=TOKEN) as twilio:
        gateway.answer(VOICE, twiml("<Say>Bye.</Say>"))
        conv = await twilio.call(CALLER, NUMBER, auto_status_callbacks=False)
        with pytest.raises(SimulatorError, match="the call has ended"):
            await conv.press("1")


@run_async
async def test_unsimulated_verbs_are_named() -> None:
    async with GatewayDouble(TOKEN) as gateway, TwilioSimulator(gateway.base_url, auth_token=TOKEN) as twilio:
        gateway.answer(VOICE, twiml('<Connect><Stream url="wss://x.example/s"/></Connect>'))
        with pytest.raises(SimulatorError, match="<Connect> is valid TwiML"):
            await twilio.call(CALLER, NUMBER, auto_status_callbacks=False)


def test_twiml_defaults_follow_twilio_docs() -> None:
    gather, record, dial, redirect, say = parse_twiml(
        twiml(
            "<Gather/><Record/><Dial>+14155550100</Dial><Redirect>/x</Redirect><Say>Hi <break/> there</Say>"
        )
    )
    assert gather == Gather()
    assert (gather.method, gather.input, gather.finish_on_key, gather.timeout) == (
        "POST",
        frozenset({"dtmf"}),
        "#",
        5,
    )
    assert record == Record()
    assert (record.finish_on_key, record.max_length, record.play_beep) == ("1234567890*#", 3600, True)
    assert isinstance(dial, Dial)
    assert dial.targets[0].kind == "number"
    assert dial.timeout == 30
    assert redirect == Redirect(url="/x")
    assert say == Say(text="Hi there")
