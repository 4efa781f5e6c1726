"""A running gateway for Twilio tests: the real app on loopback, a LiveKit stand-in, the sample flows, an admin.

with running_gateway(database_url, tmp_path) as gw:
    gw.create("/v1/routes", {...})
    conversation = gw.run(gw.simulator().call(CALLER, NUMBER))
"""

from __future__ import annotations

import asyncio
import json
import shutil
import threading
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx

from gateway.app import create_app
from gateway.settings import load_settings
from tests.conftest import key_env
from tests.support.live_server import free_port, serve_in_thread
from tests.support.livekit_standin import StandInThread
from tests.support.twilio import TwilioSimulator

ROOT = Path(__file__).resolve().parents[3]
ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "b2" * 16
LIVEKIT_SIP_URI = "sip:trunkline-test.sip.livekit.cloud"
NUMBER = "+442079460000"
"""The project's Twilio number (London)."""
CALLER = "+447700900123"
IN_HOURS = datetime(2025, 3, 4, 10, 0, tzinfo=UTC)
"""A Tuesday, 10:00 in London: Acme's office is open."""
AFTER_HOURS = datetime(2025, 3, 4, 20, 0, tzinfo=UTC)

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


class FakeCrm:
    """Acme's CRM for the support flow's lookup: GET /api/accounts/{number} -> JSON, on a loopback port."""

    def __init__(self, accounts: dict[str, dict[str, Any]]) -> None:
        self.accounts = accounts
        self.requests: list[str] = []
        crm = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                crm.requests.append(self.path)
                found = crm.accounts.get(self.path.rsplit("/", 1)[-1])
                body = json.dumps(found or {"error": "not found"}).encode()
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeCrm:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def copy_sample_flows(target: Path, crm_url: str | None = None) -> None:
    """The operators' sample flows, the CRM lookup pointed at `crm_url` (no internet in tests)."""
    for path in (ROOT / "ivr_flows").glob("*.yaml"):
        text = path.read_text()
        if crm_url is not None:
            text = text.replace("https://crm.example.com", crm_url)
        (target / path.name).write_text(text)
    shutil.copy(ROOT / "ivr_flows" / "schema.json", target / "schema.json")


@dataclass
class Gateway:
    url: str
    app: Any
    token: str
    livekit: StandInThread | None
    http: httpx.Client

    def simulator(self, **options: Any) -> TwilioSimulator:
        options.setdefault("account_sid", ACCOUNT_SID)
        return TwilioSimulator(self.url, auth_token=AUTH_TOKEN, **options)

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    def get(self, path: str) -> Any:
        response = self.http.get(path)
        assert response.status_code == 200, response.text
        return response.json()

    def calls(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get("/v1/calls?limit=200")["items"]
        return items

    def call_by_sid(self, call_sid: str) -> dict[str, Any]:
        (found,) = [c for c in self.calls() if c["carrier_call_id"] == call_sid]
        detail: dict[str, Any] = self.get(f"/v1/calls/{found['id']}")
        return detail

    def route(self, name: str, target: dict[str, Any], **extra: Any) -> dict[str, Any]:
        match = extra.pop("match", {"numbers": [NUMBER]})
        return self.create("/v1/routes", {"name": name, "target": target, "match": match, **extra})

    def agent(self, name: str, **config: Any) -> dict[str, Any]:
        return self.create("/v1/agents", {"name": name, **config})


TEST_DESTINATIONS = {"allowed_destination_countries": ["US", "GB"], "allowed_sip_hosts": ["pbx.example.com"]}
"""Where the sample flows and tests forward and transfer calls (the toll-fraud guard refuses the rest)."""


def _allow_test_destinations(http: httpx.Client) -> None:
    projects = http.get("/v1/projects")
    if projects.status_code != 200:  # a tenant's key: its platform admin set its policy
        return
    for project in projects.json()["items"]:
        if project["slug"] == "default":
            response = http.patch(f"/v1/projects/{project['id']}", json={"outbound": TEST_DESTINATIONS})
            assert response.status_code == 200, response.text


@contextmanager
def running_gateway(
    database_url: str,
    tmp_path: Path,
    *,
    livekit: bool = True,
    clock: Callable[[], datetime] | None = None,
    crm_url: str | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
    token: str | None = None,
    livekit_webhooks: bool = False,
    allow_destinations: bool = True,
) -> Iterator[Gateway]:
    """The gateway on loopback; `port` and `token` let a second gateway take over the first one's calls;
    with `livekit_webhooks` the LiveKit stand-in posts its signed webhooks to the gateway."""
    flows = tmp_path / "flows"
    flows.mkdir(exist_ok=True)
    copy_sample_flows(flows, crm_url)
    port = port or free_port()
    hook = f"http://127.0.0.1:{port}/webhooks/livekit" if livekit_webhooks else None
    standin = StandInThread(webhook_url=hook).start() if livekit else None
    try:
        values = {
            "DATABASE_URL": database_url,
            "TRUNKLINE_FLOWS_DIR": str(flows),
            "TRUNKLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "TRUNKLINE_PORT": str(port),
            **key_env(tmp_path),
            # The CRM stand-in listens on loopback, which the outbound guard refuses unless allowed.
            **({"TRUNKLINE_OUTBOUND_ALLOW": "127.0.0.1/32"} if crm_url is not None else {}),
            **(env or {}),
        }
        if standin is not None:
            values |= {
                "LIVEKIT_URL": standin.url,
                "LIVEKIT_API_KEY": standin.api_key,
                "LIVEKIT_API_SECRET": standin.api_secret,
                "LIVEKIT_SIP_URI": LIVEKIT_SIP_URI,
            }
        app = create_app(load_settings(env=values, dotenv=None), configure_logs=False)
        app.state.clock = clock or (lambda: IN_HOURS)
        with serve_in_thread(app, port) as server:
            token = token or app.state.first_run_key.token
            with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as http:
                if allow_destinations:
                    _allow_test_destinations(http)
                yield Gateway(server.url, app, token, standin, http)
    finally:
        if standin is not None:
            standin.stop()
