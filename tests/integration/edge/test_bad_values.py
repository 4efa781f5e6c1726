"""Values no database can store are refused at the edge, on SQLite and PostgreSQL alike: a NUL byte in a URL's
path or query (400), a signed Twilio webhook whose CallSid is not a SID or holds a NUL (422, before any write), so
one bad webhook never fails the good ones group-committed with it."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.integration.twilio.harness import ACCOUNT_SID, AUTH_TOKEN, CALLER, NUMBER, Gateway, running_gateway
from tests.support.twilio import new_call_sid, sign
from tests.support.twilio.callbacks import CallParty

pytestmark = pytest.mark.db


@pytest.fixture
def gw(database_url: str, tmp_path: Path) -> Iterator[Gateway]:
    with running_gateway(database_url, tmp_path, livekit=False) as gateway:
        gateway.route("main line", {"type": "flow", "flow": "main_menu"})
        yield gateway


def _voice(
    gw: Gateway, client: httpx.Client, call_sid: str, path: str = "/carriers/twilio/voice"
) -> httpx.Response:
    params = dict(CallParty(ACCOUNT_SID, new_call_sid(), CALLER, NUMBER).request_params("ringing"))
    params["CallSid"] = call_sid
    url = gw.url + path
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": sign(url, tuple(params.items()), AUTH_TOKEN),
    }
    return client.post(url, content=urlencode(params), headers=headers)


NUL_URLS = ("/v1/trunks/a%00b", "/v1/calls?after=%00", "/v1/numbers/num%00", "/v1/calls?limit=5&status=a%00")
UNSTORABLE = (
    ("CallSid", "CA" + "0" * 31 + "\x00"),
    ("CallSid", "CA" + "ab" * 200),
    ("CallSid", "not-a-sid"),
    ("ParentCallSid", "CA\x00"),
    ("CallerName", "Mallory\x00"),
    ("RecordingSid", "RE" + "0" * 33),
)


def test_a_nul_byte_in_a_path_or_query_is_a_400_problem(gw: Gateway) -> None:
    for path in NUL_URLS:
        answer = gw.http.get(path)
        assert answer.status_code == 400, (path, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "NUL byte" in answer.json()["detail"]
    assert gw.http.get("/v1/calls?after=%2500").status_code != 500  # an escaped percent sign is no NUL


def test_signed_webhooks_with_unstorable_values_are_422_naming_the_field(gw: Gateway) -> None:
    for field, value in UNSTORABLE:
        params = dict(CallParty(ACCOUNT_SID, new_call_sid(), CALLER, NUMBER).request_params("ringing"))
        params[field] = value
        url = gw.url + "/carriers/twilio/voice"
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign(url, tuple(params.items()), AUTH_TOKEN),
        }
        answer = httpx.post(url, content=urlencode(params), headers=headers)
        assert answer.status_code == 422, (field, answer.text)
        assert answer.json()["field"] == field
    assert gw.calls() == []


def test_one_bad_call_among_sixty_concurrent_good_ones_fails_alone(gw: Gateway) -> None:
    good = [new_call_sid() for _ in range(60)]
    bad = ["CA" + "0" * 31 + "\x00", "CA" + "f" * 200]
    sids = good[:30] + bad[:1] + good[30:] + bad[1:]
    limits = httpx.Limits(max_connections=70)
    with httpx.Client(limits=limits, timeout=30) as client, ThreadPoolExecutor(max_workers=len(sids)) as pool:
        answers = dict(zip(sids, pool.map(lambda sid: _voice(gw, client, sid), sids), strict=True))
    assert {sid: answers[sid].status_code for sid in good} == dict.fromkeys(good, 200)
    assert all("<Response>" in answers[sid].text for sid in good)
    assert [answers[sid].status_code for sid in bad] == [422, 422]
    assert sorted(c["carrier_call_id"] for c in gw.calls()) == sorted(good)
