"""Bad input on the Twilio webhooks: the right status, a log line for refusals, and no state change.

Also the good variants Twilio uses besides a signed form: JSON bodies covered by `bodySHA256`, HMAC-SHA256
signatures, and the URL rebuilt from a trusted proxy's headers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec
import pytest

from tests.integration.twilio.harness import ACCOUNT_SID, AUTH_TOKEN, CALLER, NUMBER, Gateway, running_gateway
from tests.support.twilio import new_account_sid, new_call_sid, sign
from tests.support.twilio.callbacks import CallParty

pytestmark = pytest.mark.db

Pairs = tuple[tuple[str, str], ...]


def voice_params(**changes: str | None) -> Pairs:
    params = dict(CallParty(ACCOUNT_SID, new_call_sid(), CALLER, NUMBER).request_params("ringing"))
    for name, value in changes.items():
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
    return tuple(params.items())


def post(
    gw: Gateway,
    params: Pairs,
    *,
    path: str = "/carriers/twilio/voice",
    signed_url: str | None = None,
    token: str = AUTH_TOKEN,
    signature: str | None = None,
    body: Pairs | None = None,
) -> httpx.Response:
    url = gw.url + path
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is None:
        signature = sign(signed_url or url, params, token)
    if signature:
        headers["X-Twilio-Signature"] = signature
    return httpx.post(url, content=urlencode(body if body is not None else params), headers=headers)


def state(gw: Gateway) -> list[Any]:
    return [gw.get(f"/v1/calls/{c['id']}") for c in gw.calls()]


@pytest.fixture
def gw(database_url: str, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(database_url, tmp_path, livekit=False) as gateway:
        gateway.route("main line", {"type": "flow", "flow": "main_menu"})
        yield gateway


def test_refused_requests_get_403_a_log_line_and_change_nothing(
    gw: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="trunkline.twilio")
    params = voice_params()
    other_account = voice_params(AccountSid=new_account_sid())
    cases = {
        "unsigned": post(gw, params, signature=""),
        "wrong token": post(gw, params, token="c3" * 16),
        "tampered body": post(gw, params, body=voice_params(From="+447700900999")),
        "wrong URL": post(gw, params, signed_url="https://elsewhere.example.com/carriers/twilio/voice"),
        "unknown AccountSid": post(gw, other_account),
        "no AccountSid": post(gw, voice_params(AccountSid=None)),
        "NUL AccountSid": post(gw, voice_params(AccountSid="\x00")),
        "malformed AccountSid": post(gw, voice_params(AccountSid="AC" + "zz" * 16)),
        "garbage signature": post(gw, params, signature="bm90IGEgc2lnbmF0dXJl"),
        "status unsigned": post(gw, params, path="/carriers/twilio/status", signature=""),
        "recording unsigned": post(gw, params, path="/carriers/twilio/recording", signature=""),
        "action unsigned": post(gw, params, path="/carriers/twilio/ivr?turn=1", signature=""),
    }
    assert {name: r.status_code for name, r in cases.items()} == dict.fromkeys(cases, 403)
    for response in cases.values():
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "<Response>" not in response.text
    reasons = [r.getMessage() for r in caplog.records if r.name == "trunkline.twilio"]
    assert len(reasons) == len(cases)
    assert any("missing X-Twilio-Signature" in reason for reason in reasons)
    assert any("signature mismatch for URL" in reason for reason in reasons)
    assert any("no project uses this AccountSid" in reason for reason in reasons)
    assert any("no AccountSid" in reason for reason in reasons)
    assert sum("not a Twilio account SID" in reason for reason in reasons) == 2
    assert state(gw) == []


@pytest.mark.parametrize(
    ("changes", "path", "field"),
    [
        ({"From": "not a number"}, "/carriers/twilio/voice", "From"),
        ({"To": "+44"}, "/carriers/twilio/voice", "To"),
        ({"To": "12"}, "/carriers/twilio/voice", "To"),
        ({"CallSid": None}, "/carriers/twilio/voice", "CallSid"),
        ({"CallStatus": "exploded"}, "/carriers/twilio/voice", "CallStatus"),
        ({"To": None, "From": None}, "/carriers/twilio/voice", "From"),
        ({"CallStatus": "teleported"}, "/carriers/twilio/status", "CallStatus"),
        ({"Timestamp": "yesterday"}, "/carriers/twilio/status", "Timestamp"),
        ({"CallSid": None}, "/carriers/twilio/ivr?turn=1", "CallSid"),
        ({}, "/carriers/twilio/recording", "RecordingSid"),
    ],
)
def test_signed_but_malformed_requests_get_422_naming_the_field(
    gw: Gateway, changes: dict[str, str | None], path: str, field: str
) -> None:
    response = post(gw, voice_params(**changes), path=path)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert state(gw) == []


def test_a_call_to_a_number_without_a_route_is_answered_and_recorded(gw: Gateway) -> None:
    params = voice_params(To="+442079460999")
    response = post(gw, params)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/xml")
    assert "<Say>Sorry, this number cannot take your call right now." in response.text
    assert response.text.endswith("<Hangup /></Response>")
    (call,) = state(gw)
    assert call["end_reason"] == "not routed: no route matched"
    assert call["to_number"] == "+442079460999"
    assert call["routing"]["route_id"] is None
    assert call["routing"]["target"] == {"type": "reject", "reason": "unavailable"}
    decided = [e["data"] for e in call["events"] if e["kind"] == "routing.decided"]
    assert decided == [
        {
            "route_id": None,
            "route_name": None,
            "target": "reject:unavailable",
            "reason": "no route matched",
            "used_fallback": False,
        }
    ]


def test_json_bodies_are_checked_against_body_sha256(gw: Gateway) -> None:
    body = msgspec.json.encode(dict(voice_params()))
    digest = hashlib.sha256(body).hexdigest()
    url = f"{gw.url}/carriers/twilio/voice?bodySHA256={digest}"
    headers = {"Content-Type": "application/json", "X-Twilio-Signature": sign(url, (), AUTH_TOKEN)}
    assert httpx.post(url, content=body, headers=headers).status_code == 200
    tampered = body.replace(CALLER.encode(), b"+447700900999")
    refused = httpx.post(url, content=tampered, headers=headers)
    assert refused.status_code == 403
    assert len(state(gw)) == 1


def test_hmac_sha256_signatures_are_accepted(gw: Gateway) -> None:
    params = voice_params()
    url = gw.url + "/carriers/twilio/voice"
    payload = url + "".join(name + value for name, value in sorted(params))
    signature = base64.b64encode(hmac.new(AUTH_TOKEN.encode(), payload.encode(), hashlib.sha256).digest())
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature.decode(),
        "X-Twilio-Webhooks-Signature-Settings": "algorithm=HMAC_SHA256",
    }
    assert httpx.post(url, content=urlencode(params), headers=headers).status_code == 200
    headers["X-Twilio-Webhooks-Signature-Settings"] = "algorithm=HMAC_SHA1"
    assert httpx.post(url, content=urlencode(voice_params()), headers=headers).status_code == 403


def test_behind_a_trusted_proxy_the_forwarded_url_is_the_signed_one(
    database_url: str, tmp_path: Path
) -> None:
    with running_gateway(database_url, tmp_path, livekit=False, env={"TRUNKLINE_PUBLIC_URL": ""}) as gw:
        gw.route("main line", {"type": "flow", "flow": "main_menu"})
        params = voice_params()
        public = "https://gw.example.com/carriers/twilio/voice"
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(public, params, AUTH_TOKEN),
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "gw.example.com",
        }
        answer = httpx.post(gw.url + "/carriers/twilio/voice", content=urlencode(params), headers=headers)
        assert answer.status_code == 200
        assert 'action="https://gw.example.com/carriers/twilio/ivr?turn=1"' in answer.text
        direct = httpx.post(
            gw.url + "/carriers/twilio/voice",
            content=urlencode(voice_params()),
            headers={k: v for k, v in headers.items() if not k.startswith("X-Forwarded")},
        )
        assert direct.status_code == 403
