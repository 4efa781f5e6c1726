"""The REST stand-in answers the real twilio client, and drives the calls it creates through the simulator."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import datetime

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from gateway.carriers.twilio.params import StatusCallback, VoiceRequest, parse_form
from tests.support.twilio import TwilioSimulator
from tests.support.twilio.rest_standin import TwilioRestStandIn
from tests.unit.twilio.gateway_double import GatewayDouble, run_async, twiml

ACCOUNT = "AC" + "1" * 32
TOKEN = "2" * 32
OWNED, CALLEE = "+14155550199", "+14155550100"
ALL_EVENTS = ["initiated", "ringing", "answered", "completed"]


@pytest.fixture
def api() -> Iterator[TwilioRestStandIn]:
    with TwilioRestStandIn(account_sid=ACCOUNT, auth_token=TOKEN, numbers=[OWNED]) as standin:
        yield standin


def client_for(api: TwilioRestStandIn, token: str = TOKEN) -> Client:
    client = Client(ACCOUNT, token)
    client.edge = client.region = None  # set from TWILIO_EDGE/TWILIO_REGION, they would rewrite the host
    client.api.base_url = api.base_url
    return client


def test_the_real_client_creates_and_fetches_a_call(api: TwilioRestStandIn) -> None:
    client = client_for(api)
    call = client.calls.create(
        to=CALLEE,
        from_=OWNED,
        url="https://gw.example.com/carriers/twilio/outbound",
        status_callback="https://gw.example.com/carriers/twilio/status",
        status_callback_event=ALL_EVENTS,
        timeout=25,
        machine_detection="Enable",
        record=True,
    )
    assert re.fullmatch(r"CA[0-9a-f]{32}", call.sid)
    assert (call.status, call.to, call._from, call.direction) == ("queued", CALLEE, OWNED, "outbound-api")
    assert (call.account_sid, call.api_version, call.to_formatted) == (
        ACCOUNT,
        "2010-04-01",
        "(415) 555-0100",
    )
    assert isinstance(call.date_created, datetime)
    assert call.uri == f"/2010-04-01/Accounts/{ACCOUNT}/Calls/{call.sid}.json"

    (request,) = api.requests
    assert (request.method, request.path, request.user, request.status) == (
        "POST",
        f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json",
        ACCOUNT,
        201,
    )
    assert [value for name, value in request.form if name == "StatusCallbackEvent"] == ALL_EVENTS
    assert (request.params["Timeout"], request.params["Record"], request.params["MachineDetection"]) == (
        "25",
        "true",
        "Enable",
    )
    fetched = client.calls(call.sid).fetch()
    assert (fetched.sid, fetched.status) == (call.sid, "queued")


@pytest.mark.parametrize(
    ("to", "from_", "code", "message"),
    [
        ("5551234", OWNED, 21211, "The 'To' number 5551234 is not a valid phone number."),
        (CALLEE, "Acme!", 21212, "The 'From' number Acme! is not a valid phone number"),
        (CALLEE, "+14155550123", 21210, "is not yet verified for your account"),
    ],
)
def test_bad_numbers_get_twilio_errors(
    api: TwilioRestStandIn, to: str, from_: str, code: int, message: str
) -> None:
    with pytest.raises(TwilioRestException) as caught:
        client_for(api).calls.create(to=to, from_=from_, url="https://gw.example.com/answer")
    assert (caught.value.code, caught.value.status) == (code, 400)
    assert message in caught.value.msg
    assert api.calls == {}


def test_instructions_are_required(api: TwilioRestStandIn) -> None:
    with pytest.raises(TwilioRestException) as caught:
        client_for(api).calls.create(to=CALLEE, from_=OWNED)
    assert caught.value.code == 21205


def test_a_wrong_token_is_refused(api: TwilioRestStandIn) -> None:
    with pytest.raises(TwilioRestException) as caught:
        client_for(api, token="3" * 32).calls.create(
            to=CALLEE, from_=OWNED, url="https://gw.example.com/answer"
        )
    assert (caught.value.code, caught.value.status) == (20003, 401)
    assert api.requests[0].user == ACCOUNT


def test_unknown_calls_are_not_found(api: TwilioRestStandIn) -> None:
    with pytest.raises(TwilioRestException) as caught:
        client_for(api).calls("CA" + "0" * 32).fetch()
    assert (caught.value.code, caught.value.status) == (20404, 404)


def test_only_a_live_call_can_be_redirected(api: TwilioRestStandIn) -> None:
    client = client_for(api)
    call = client.calls.create(to=CALLEE, from_=OWNED, url="https://gw.example.com/answer")
    with pytest.raises(TwilioRestException) as caught:
        client.calls(call.sid).update(twiml="<Response><Hangup/></Response>")
    assert caught.value.code == 21220


@run_async
async def test_an_answered_call_fetches_its_url_signed_and_reports_progress() -> None:
    with TwilioRestStandIn(account_sid=ACCOUNT, auth_token=TOKEN) as api:
        async with GatewayDouble(TOKEN) as gateway:
            gateway.answer(
                "/outbound", twiml('<Gather action="/menu"><Say>This is Acme calling.</Say></Gather>')
            )
            gateway.answer("/status", 204)
            client = client_for(api)
            call = await asyncio.to_thread(
                client.calls.create,
                to=CALLEE,
                from_=OWNED,
                url=gateway.base_url + "/outbound",
                status_callback=gateway.base_url + "/status",
                status_callback_event=ALL_EVENTS,
            )
            async with TwilioSimulator(gateway.base_url, auth_token=TOKEN, account_sid=ACCOUNT) as twilio:
                conv = await api.drive(call.sid, twilio)
                live = await asyncio.to_thread(client.calls(call.sid).fetch)
                ended = await asyncio.to_thread(client.calls(call.sid).update, status="completed")
                record = await api.settle(call.sid)
                final = await asyncio.to_thread(client.calls(call.sid).fetch)

    answer = parse_form(VoiceRequest, gateway.to("/outbound")[0].params)
    assert (answer.call_sid, answer.call_status, answer.direction) == (
        call.sid,
        "in-progress",
        "outbound-api",
    )
    assert (answer.from_, answer.to) == (OWNED, CALLEE)
    assert all(r.valid_for_twilio and r.valid_for_gateway for r in gateway.received)
    assert conv.prompts == ["This is Acme calling."]
    assert (live.status, ended.status) == ("in-progress", "completed")
    assert conv.hung_up
    callbacks = [parse_form(StatusCallback, r.params) for r in gateway.to("/status")]
    assert [(c.call_status, c.sequence_number) for c in callbacks] == [
        ("initiated", 0),
        ("ringing", 1),
        ("in-progress", 2),
        ("completed", 3),
    ]
    assert record.duration is not None
    assert final.duration == str(record.duration)
    assert final.end_time is not None


@run_async
async def test_a_busy_callee_ends_the_call_without_fetching_twiml() -> None:
    with TwilioRestStandIn(account_sid=ACCOUNT, auth_token=TOKEN) as api:
        async with GatewayDouble(TOKEN) as gateway:
            gateway.answer("/status", 204)
            call = await asyncio.to_thread(
                client_for(api).calls.create,
                to=CALLEE,
                from_=OWNED,
                url=gateway.base_url + "/outbound",
                status_callback=gateway.base_url + "/status",
            )
            async with TwilioSimulator(gateway.base_url, auth_token=TOKEN, account_sid=ACCOUNT) as twilio:
                await api.drive(call.sid, twilio, outcome="busy", sip_code=486)

    assert gateway.to("/outbound") == []
    (callback,) = [parse_form(StatusCallback, r.params) for r in gateway.to("/status")]
    assert (callback.call_status, callback.sip_response_code, callback.call_duration) == ("busy", 486, 0)
    assert api.call(call.sid).status == "busy"


@run_async
async def test_canceling_a_ringing_call_is_reported() -> None:
    with TwilioRestStandIn(account_sid=ACCOUNT, auth_token=TOKEN) as api:
        async with GatewayDouble(TOKEN) as gateway:
            gateway.answer("/status", 204)
            client = client_for(api)
            call = await asyncio.to_thread(
                client.calls.create,
                to=CALLEE,
                from_=OWNED,
                twiml="<Response><Say>Hi</Say></Response>",
                status_callback=gateway.base_url + "/status",
                status_callback_event=["ringing", "completed"],
            )
            async with TwilioSimulator(gateway.base_url, auth_token=TOKEN, account_sid=ACCOUNT) as twilio:
                conv = await api.drive(call.sid, twilio, outcome="ringing")
                canceled = await asyncio.to_thread(client.calls(call.sid).update, status="canceled")
                await api.settle(call.sid)

    assert canceled.status == "canceled"
    assert [r.params["CallStatus"] for r in gateway.to("/status")] == ["ringing", "canceled"]
    assert conv.hung_up
    assert conv.prompts == []


@run_async
async def test_a_live_call_can_be_given_new_twiml() -> None:
    with TwilioRestStandIn(account_sid=ACCOUNT, auth_token=TOKEN) as api:
        async with GatewayDouble(TOKEN) as gateway:
            gateway.answer("/outbound", twiml('<Gather action="/menu"><Say>Hold on.</Say></Gather>'))
            client = client_for(api)
            call = await asyncio.to_thread(
                client.calls.create, to=CALLEE, from_=OWNED, url=gateway.base_url + "/outbound"
            )
            async with TwilioSimulator(gateway.base_url, auth_token=TOKEN, account_sid=ACCOUNT) as twilio:
                conv = await api.drive(call.sid, twilio)
                await asyncio.to_thread(
                    client.calls(call.sid).update, twiml="<Response><Say>Goodbye.</Say><Hangup/></Response>"
                )
                record = await api.settle(call.sid)

    assert conv.prompts == ["Hold on.", "Goodbye."]
    assert conv.hung_up
    assert record.status == "completed"
