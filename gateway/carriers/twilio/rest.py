"""Twilio's REST API for calls, through twilio's own client: create (outbound) and update (hang up, redirect).

The client is synchronous, so each request runs in a worker thread. One client per project credentials is kept.
`TWILIO_API_BASE_URL` points it elsewhere (a regional edge, or a stand-in in tests). Twilio's refusals become
gateway errors: its 4xx as 422 with Twilio's code and message, bad credentials as 502, and an unreachable or
failing Twilio as 503 (`UpstreamUnavailable`).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from gateway.errors import AppError, InvalidInput, UpstreamUnavailable

REST_TIMEOUT = 10.0
_quiet = logging.getLogger("trunkline.twilio.rest.http")
_quiet.setLevel(logging.WARNING)


class TwilioRefused(AppError):
    status_code = 502
    title = "Twilio refused the request"


@dataclass(frozen=True)
class Credentials:
    account_sid: str
    auth_token: str


def _error(exc: TwilioRestException, operation: str) -> AppError:
    detail = f"Twilio refused to {operation}: {exc.code} {exc.msg}".rstrip()
    if exc.status in (401, 403):
        return TwilioRefused(
            f"Twilio rejected the project's credentials while trying to {operation} ({exc.code}). "
            "Check the project's twilio_account_sid and twilio_auth_token.",
            extra={"twilio_code": exc.code},
        )
    if exc.status >= 500:
        return UpstreamUnavailable(f"Twilio failed to {operation} (HTTP {exc.status}); retry later.")
    return InvalidInput(detail, extra={"twilio_code": exc.code})


class TwilioRest:
    def __init__(self, base_url: str = "", *, timeout: float = REST_TIMEOUT) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._clients: dict[Credentials, Client] = {}
        self._lock = threading.Lock()

    def client(self, credentials: Credentials) -> Client:
        with self._lock:
            client = self._clients.get(credentials)
            if client is None:
                http = TwilioHttpClient(timeout=self.timeout, logger=_quiet)
                client = Client(credentials.account_sid, credentials.auth_token, http_client=http)
                if self.base_url:
                    client.edge = client.region = None
                    client.api.base_url = self.base_url
                self._clients[credentials] = client
            return client

    async def _run(self, operation: str, work: Any) -> Any:
        try:
            return await asyncio.to_thread(work)
        except TwilioRestException as exc:
            raise _error(exc, operation) from None
        except requests.RequestException as exc:
            raise UpstreamUnavailable(
                f"Twilio could not be reached to {operation} ({type(exc).__name__}); retry later."
            ) from None

    async def create_call(self, credentials: Credentials, **params: Any) -> str:
        """Place a call; its CallSid."""
        client = self.client(credentials)
        created = await self._run("place the call", lambda: client.calls.create(**params))
        return str(created.sid)

    async def update_call(self, credentials: Credentials, call_sid: str, **params: Any) -> str:
        """Change a live call (Status, Url or Twiml); its status afterwards."""
        client = self.client(credentials)
        updated = await self._run("update the call", lambda: client.calls(call_sid).update(**params))
        return str(updated.status)

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            session = getattr(client.http_client, "session", None)
            if session is not None:
                session.close()
