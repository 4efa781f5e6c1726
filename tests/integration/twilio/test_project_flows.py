"""Calls run their own project's flows, and a flow's secret reaches only the HTTP request that names it.

The CRM is a real HTTP server on loopback (the outbound guard allows it through TRUNKLINE_OUTBOUND_ALLOW, as the
harness sets up for its CRM stand-in); the secret's value must show up there and nowhere else: not in the API's
answers, the call's events or the logs.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from gateway.logs import DRIVER_LOGGERS
from tests.integration.twilio.harness import CALLER, NUMBER, run, running_gateway
from tests.support.twilio import Conversation, TwilioSimulator, new_account_sid

pytestmark = pytest.mark.db

SECRET = "tok/3f9a+7c1e=5b2d"
"""Characters that must be percent-encoded in a URL: the query carries it encoded, the header as it is."""

LOOKUP = """\
start: lookup
steps:
  lookup:
    type: http
    url: "{crm}/api/customer?caller={{{{ caller }}}}&key={{{{ secret.crm_token }}}}"
    headers:
      Authorization: "Bearer {{{{ secret.crm_token }}}}"
    results:
      customer: name
    next: hello
    on_error: sorry
  hello:
    type: say
    text: "Hello {{{{ customer }}}}."
    next: bye
  sorry:
    type: say
    text: Sorry, we could not find you.
    next: bye
  bye:
    type: hangup
"""


class RecordingCrm:
    """Answers every GET with {"name": "Ada"} and keeps what it was sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        crm = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                crm.requests.append((self.path, dict(self.headers.items())))
                body = json.dumps({"name": "Ada"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> RecordingCrm:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_secret_reaches_the_lookup_and_nothing_else(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for driver in DRIVER_LOGGERS:  # as `trunkline serve` configures them
        caplog.set_level(logging.WARNING, logger=driver)
    caplog.set_level(logging.DEBUG)  # last: it sets the capturing handler's level too
    with RecordingCrm() as crm, running_gateway(database_url, tmp_path, crm_url=crm.url) as gw:
        put = gw.http.put("/v1/flow-secrets/crm_token", json={"value": SECRET})
        assert put.status_code == 200, put.text
        saved = gw.http.put("/v1/flows/lookup", content=LOOKUP.format(crm=crm.url).encode())
        assert saved.status_code == 200, saved.text
        gw.route("main line", {"type": "flow", "flow": "lookup"})

        async def call() -> Conversation:
            async with gw.simulator() as twilio:
                return await twilio.call(CALLER, NUMBER)

        conversation = run(call())
        assert conversation.prompts == ["Hello Ada."]
        record = gw.call_by_sid(conversation.call_sid)
        answers = [
            json.dumps(record),
            gw.http.get("/v1/flows/lookup").text,
            gw.http.get("/v1/flow-secrets").text,
            gw.http.get("/v1/audit-logs?limit=200").text,
        ]

    ((path, headers),) = crm.requests
    assert headers["Authorization"] == f"Bearer {SECRET}"
    assert parse_qs(urlsplit(path).query)["key"] == [SECRET]
    (lookup,) = [e["data"] for e in record["events"] if e["kind"] == "ivr.lookup"]
    assert lookup["outcome"] == "ok"
    for answer in answers:
        assert SECRET not in answer
        assert "3f9a" not in answer
    logged = "\n".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records)
    assert caplog.records, "the gateway logged while it worked"
    assert "3f9a" not in logged


def test_a_call_runs_the_flow_of_its_routes_project(database_url: str, tmp_path: Path) -> None:
    other_sid, other_token = new_account_sid(), "d4" * 16
    hello = "start: hi\nsteps:\n  hi:\n    type: say\n    text: Welcome to Acme UK.\n    next: bye\n"
    hello += "  bye:\n    type: hangup\n"
    with running_gateway(database_url, tmp_path, livekit=False) as gw:
        gw.route("main line", {"type": "flow", "flow": "main_menu"})
        created = gw.create(
            "/v1/projects",
            {
                "slug": "acme-uk",
                "name": "Acme UK",
                "default_region": "GB",
                "twilio_account_sid": other_sid,
                "twilio_auth_token": other_token,
            },
        )
        with httpx.Client(
            base_url=gw.url, headers={"Authorization": f"Bearer {created['admin_key']}"}
        ) as other:
            # Its own flow of the same name as the default project's sample.
            assert other.put("/v1/flows/main_menu", content=hello.encode()).status_code == 200
            response = other.post(
                "/v1/routes",
                json={"name": "uk", "target": {"type": "flow", "flow": "main_menu"}, "match": {}},
            )
            assert response.status_code == 201, response.text

            async def calls() -> tuple[Conversation, Conversation]:
                async with (
                    TwilioSimulator(gw.url, auth_token=other_token, account_sid=other_sid) as acme_uk,
                    gw.simulator() as default,
                ):
                    return await acme_uk.call(CALLER, "+442079460042"), await default.call(CALLER, NUMBER)

            theirs, ours = run(calls())
        assert theirs.prompts == ["Welcome to Acme UK."]
        assert ours.prompts[0] == "Thank you for calling Acme."
