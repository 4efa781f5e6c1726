"""Run a turn to the point where the caller is involved, performing the engine's HTTP requests on the way.

The engine never does I/O: an `http` step ends a turn with an `HttpRequest`. Adapters (the Twilio webhook,
the LiveKit worker, the simulator, flow tests) hand each request to a `fetch` function and feed the result
back, collecting the actions of every turn into one. `fetch_with_httpx` is the real HTTP client.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import httpx
import msgspec

from gateway.ivr.actions import HttpRequest
from gateway.ivr.engine import advance
from gateway.ivr.events import HttpResult
from gateway.ivr.run import FlowLookup
from gateway.ivr.secrets import shown
from gateway.ivr.state import Turn
from gateway.net.outbound import OutboundRefused

__all__ = [
    "MAX_REQUESTS_PER_TURN",
    "drive",
    "drive_sync",
    "fetch_with_httpx",
    "fetch_with_httpx_sync",
    "pending_request",
]

MAX_REQUESTS_PER_TURN = 10
_log = logging.getLogger("gateway.ivr.driver")


def pending_request(turn: Turn) -> HttpRequest | None:
    """The HTTP request the turn waits for, if it ends with one."""
    last = turn.actions[-1] if turn.actions else None
    return last if isinstance(last, HttpRequest) and turn.state.wait == "http" else None


def _merge(before: Turn, after: Turn) -> Turn:
    return Turn(after.state, [*before.actions[:-1], *after.actions], [*before.steps, *after.steps])


def drive_sync(
    turn: Turn, flows: FlowLookup, fetch: Callable[[HttpRequest], HttpResult], *, now: datetime | None = None
) -> Turn:
    """Resolve the turn's HTTP requests with `fetch` (blocking) until it waits for the caller or ends."""
    for _ in range(MAX_REQUESTS_PER_TURN):
        request = pending_request(turn)
        if request is None:
            return turn
        turn = _merge(turn, advance(turn.state, fetch(request), flows, now=now))
    return turn


async def drive(
    turn: Turn,
    flows: FlowLookup,
    fetch: Callable[[HttpRequest], Awaitable[HttpResult]],
    *,
    now: datetime | None = None,
) -> Turn:
    """Like `drive_sync`, with an async `fetch` (e.g. `fetch_with_httpx` bound to a client)."""
    for _ in range(MAX_REQUESTS_PER_TURN):
        request = pending_request(turn)
        if request is None:
            return turn
        turn = _merge(turn, advance(turn.state, await fetch(request), flows, now=now))
    return turn


def _decode(response: httpx.Response) -> HttpResult:
    try:
        body: Any = msgspec.json.decode(response.content) if response.content else None
    except msgspec.DecodeError:
        return HttpResult(status=response.status_code, error="the reply is not JSON")
    return HttpResult(status=response.status_code, body=body)


async def fetch_with_httpx(client: httpx.AsyncClient, request: HttpRequest) -> HttpResult:
    """Perform a flow's HTTP lookup; every failure becomes an `HttpResult` with `error` (never raises)."""
    try:
        response = await client.request(
            request.method, request.url, headers=request.headers, json=request.body, timeout=request.timeout
        )
    except httpx.TimeoutException:
        return HttpResult(error="timeout")
    except OutboundRefused as refused:
        _log.warning("ivr http lookup refused", extra={"reason": refused.reason})
        return HttpResult(error=f"refused: {refused.reason}")
    except httpx.HTTPError as error:
        _log.warning("ivr http lookup failed", extra={"error": type(error).__name__})
        return HttpResult(error=type(error).__name__)
    return _decode(response)


def fetch_with_httpx_sync(client: httpx.Client, request: HttpRequest) -> HttpResult:
    """Blocking twin of `fetch_with_httpx` (for the simulator)."""
    try:
        response = client.request(
            request.method, request.url, headers=request.headers, json=request.body, timeout=request.timeout
        )
    except httpx.TimeoutException:
        return HttpResult(error="timeout")
    except httpx.HTTPError as error:
        return HttpResult(error=type(error).__name__)
    return _decode(response)


_DIGIT_RUN = re.compile(r"\d{4,}")


def describe_lookup(request: HttpRequest, result: HttpResult, seconds: float) -> dict[str, object]:
    """An HTTP lookup as a call event: where it went (no credentials, query values and digit runs in the path
    hidden: they may carry the caller's input or tokens), how it ended and how long it took."""
    parts = urlsplit(shown(request.url))
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    query = "&".join(f"{name}=*" for name, _ in parse_qsl(parts.query, keep_blank_values=True))
    path = _DIGIT_RUN.sub(lambda run: "*" * len(run.group()), parts.path)
    url = urlunsplit((parts.scheme, host, path, query, ""))
    outcome = "ok" if result.ok else ("error" if result.error is not None else "http_error")
    return {
        "method": request.method,
        "url": url,
        "status": result.status,
        "outcome": outcome,
        "error": result.error,
        "latency_ms": round(seconds * 1000, 1),
    }
