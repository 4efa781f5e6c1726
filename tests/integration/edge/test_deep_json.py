"""JSON nested deeper than the decoders recurse is bad input: a 400/403 problem and one log line, no traceback."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.conftest import Api

DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 5_000 + b"1" + b"}" * 5_000


def _assert_quiet(caplog: pytest.LogCaptureFixture, requests: int) -> None:
    """At most one line per request from the gateway (the test client's own lines aside), none a traceback."""
    ours = [r for r in caplog.records if not r.name.startswith("httpx")]
    assert not [r for r in ours if r.exc_info], "a traceback was logged"
    assert not [r for r in ours if r.levelno >= logging.ERROR]
    assert len(ours) <= requests


def test_deep_json_on_v1_is_a_400_problem_without_a_traceback(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for body in (DEEP, DEEP_OBJECT):
        answer = api.post("/v1/agents", content=body, headers={"content-type": "application/json"})
        assert answer.status_code == 400, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "nested too deeply" in answer.json()["detail"]
    _assert_quiet(caplog, 2)


def test_deep_json_on_unauthenticated_carrier_endpoints_is_refused_without_a_traceback(
    client: TestClient[Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    nested = b"[" * 30_000 + b"]" * 30_000  # under the 64 KiB cap
    for body in (nested, b'{"AccountSid":' + b"[" * 20_000 + b"]" * 20_000 + b"}"):
        answer = client.post(
            "/carriers/twilio/voice", content=body, headers={"content-type": "application/json"}
        )
        assert answer.status_code == 403, answer.text
        assert "neither a form nor a JSON object" in answer.json()["detail"]
    claims = base64.urlsafe_b64encode(b'{"iss":' + b"[" * 50_000 + b"]" * 50_000 + b"}").rstrip(b"=")
    livekit = client.post(
        "/webhooks/livekit", content=b"{}", headers={"authorization": f"Bearer e30.{claims.decode()}.c2ln"}
    )
    assert livekit.status_code in (400, 403), livekit.text
    assert livekit.headers["content-type"].startswith("application/problem+json")
    _assert_quiet(caplog, 4)
