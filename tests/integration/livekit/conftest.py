"""The real gateway over loopback HTTP, wired to a LiveKit stand-in that posts its signed webhooks back to it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from livekit import api

from gateway.app import create_app
from gateway.livekit.runtime import LiveKitRuntime
from gateway.services import services
from gateway.settings import Settings, load_settings
from tests.conftest import key_env
from tests.support.live_server import free_port, serve_in_thread
from tests.support.livekit_standin import LiveKitStandIn, StandInThread

T = TypeVar("T")

TIME_SCALE = 0.01
"""Stand-in seconds per simulated second: rooms close 0.2 s after the last participant leaves."""
CALLER = "+14155550123"
DID = "+14155550100"
CALLEE = "+14155550177"


@dataclass
class Gateway:
    url: str
    app: Any
    livekit: LiveKitStandIn
    thread: StandInThread
    http: httpx.Client

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.post(path, **kwargs)

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    def as_(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)

    def sync(self) -> dict[str, Any]:
        response = self.http.post("/v1/sync")
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report

    def lk(self, work: Callable[[api.LiveKitAPI], Coroutine[Any, Any, T]]) -> T:
        """Run `work` with a livekit-api client of the stand-in (LiveKit as an operator's console sees it)."""

        async def run() -> T:
            async with api.LiveKitAPI(
                self.livekit.url, self.livekit.api_key, self.livekit.api_secret
            ) as client:
                return await work(client)

        return asyncio.run(run())

    def call(self, call_id: str) -> dict[str, Any]:
        response = self.http.get(f"/v1/calls/{call_id}")
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def _on_server(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.app.state.livekit_loop).result(30)

    def drain(self) -> None:
        """Wait for the gateway's background LiveKit work (dials, answer watches) to finish."""
        self._on_server(services(self.app).get(LiveKitRuntime).tasks.drain())

    def settle(self) -> None:
        """Wait until the background sync has caught up with every change made so far."""
        self._on_server(services(self.app).get(LiveKitRuntime).sync_loop.settled())


def eventually(check: Callable[[], T], *, timeout: float = 10.0, every: float = 0.05) -> T:
    """`check()` once it stops raising AssertionError (and returns a truthy value)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
            if result:
                return result
            raise AssertionError("check returned a falsy value")
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        time.sleep(every)


def gateway_settings(database_url: str, tmp_path: Path, livekit: LiveKitStandIn) -> Settings:
    flows = tmp_path / "flows"
    flows.mkdir(exist_ok=True)
    return load_settings(
        env={
            "DATABASE_URL": database_url,
            "TRUNKLINE_FLOWS_DIR": str(flows),
            "LIVEKIT_URL": livekit.url,
            "LIVEKIT_API_KEY": livekit.api_key,
            "LIVEKIT_API_SECRET": livekit.api_secret,
            **key_env(tmp_path),
        },
        dotenv=None,
    )


@pytest.fixture
def standin_port() -> int:
    return free_port()


@pytest.fixture
def standin(standin_port: int) -> Iterator[StandInThread]:
    hook = f"http://127.0.0.1:{standin_port}/webhooks/livekit"
    with StandInThread(webhook_url=hook, time_scale=TIME_SCALE) as running:
        yield running


@contextmanager
def serve(database_url: str, tmp_path: Path, standin: StandInThread, port: int) -> Iterator[Gateway]:
    app = create_app(gateway_settings(database_url, tmp_path, standin.standin), configure_logs=False)

    @app.on_startup.append
    def remember_loop() -> None:
        app.state.livekit_loop = asyncio.get_running_loop()

    with serve_in_thread(app, port) as server:
        token = app.state.first_run_key.token
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            yield Gateway(server.url, app, standin.standin, standin, http)


@pytest.fixture
def gateway(
    database_url: str, tmp_path: Path, standin: StandInThread, standin_port: int
) -> Iterator[Gateway]:
    with serve(database_url, tmp_path, standin, standin_port) as running:
        yield running


def inbound_setup(gw: Gateway, *, agent: str = "receptionist") -> dict[str, Any]:
    """An inbound trunk for DID, an agent and a route to it, synced into LiveKit."""
    trunk = gw.create("/v1/trunks", {"direction": "inbound", "name": "carrier-in", "numbers": [DID]})
    gw.create("/v1/agents", {"name": agent, "instructions": "Greet the caller."})
    gw.create(
        "/v1/routes",
        {"name": "main", "match": {"numbers": [DID]}, "target": {"type": "agent", "agent": agent}},
    )
    report = gw.sync()
    assert report["status"] == "ok", report
    return trunk


def outbound_setup(gw: Gateway, *, agent: str = "caller") -> dict[str, Any]:
    """An outbound trunk presenting DID, the number itself, an agent; synced into LiveKit."""
    trunk = gw.create(
        "/v1/trunks",
        {
            "direction": "outbound",
            "name": "carrier-out",
            "address": "sip.carrier.example",
            "numbers": [DID],
            "auth_username": "trunkline",
            "auth_password": "out-secret-1",
        },
    )
    gw.create("/v1/numbers", {"number": DID})
    gw.create(
        "/v1/agents", {"name": agent, "instructions": "Sell.", "config": {"lang": "en", "tone": "calm"}}
    )
    report = gw.sync()
    assert report["status"] == "ok", report
    return trunk
