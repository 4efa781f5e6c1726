"""A scripted webhook receiver on loopback, standing where the gateway would, to test the Twilio stand-ins.

It checks every request's signature twice, with twilio's RequestValidator and with the gateway's `verify`, and
records what arrived. Scripts map a path to TwiML (or to a function of the request).
"""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, ParamSpec
from urllib.parse import parse_qsl

from aiohttp import web
from twilio.request_validator import RequestValidator

from gateway.carriers.twilio.signature import verify


@dataclass(frozen=True)
class Received:
    method: str
    url: str
    path: str
    query: str
    form: tuple[tuple[str, str], ...]
    headers: dict[str, str]
    valid_for_twilio: bool
    valid_for_gateway: bool

    @property
    def params(self) -> dict[str, str]:
        return dict(self.form)


Script = Callable[[Received], web.StreamResponse | str | Awaitable[web.StreamResponse | str]]


P = ParamSpec("P")


def run_async(test: Callable[P, Coroutine[Any, Any, None]]) -> Callable[P, None]:
    """Run an async test in a fresh event loop (no pytest async plugin needed)."""

    @functools.wraps(test)
    def run(*args: P.args, **kwargs: P.kwargs) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


def twiml(body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>'


class GatewayDouble:
    def __init__(self, auth_token: str) -> None:
        self.auth_token = auth_token
        self.scripts: dict[str, Script] = {}
        self.received: list[Received] = []
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def answer(self, path: str, body: str | int | Script) -> None:
        """Answer requests to `path` with `body`: TwiML text, an empty response's status, or a script."""
        if isinstance(body, int):
            self.scripts[path] = lambda _request: web.Response(status=body)
        elif isinstance(body, str):
            self.scripts[path] = lambda _request: body
        else:
            self.scripts[path] = body

    def to(self, path: str) -> list[Received]:
        return [request for request in self.received if request.path == path]

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self.base_url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> GatewayDouble:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        form = tuple(parse_qsl(raw.decode(), keep_blank_values=True)) if request.method == "POST" else ()
        url = str(request.url)
        signature = request.headers.get("X-Twilio-Signature")
        multi = _Multi(form)
        valid_for_twilio = bool(signature) and RequestValidator(self.auth_token).validate(
            url, multi, signature
        )
        grouped: dict[str, list[str]] = {}
        for name, value in form:
            grouped.setdefault(name, []).append(value)
        check = verify(
            url_candidates=url,
            params=grouped,
            raw_body=raw,
            content_type=request.headers.get("Content-Type"),
            signature=signature,
            auth_token=self.auth_token,
        )
        received = Received(
            method=request.method,
            url=url,
            path=request.path,
            query=request.query_string,
            form=form,
            headers=dict(request.headers),
            valid_for_twilio=valid_for_twilio,
            valid_for_gateway=check.ok,
        )
        self.received.append(received)
        script = self.scripts.get(request.path)
        if script is None:
            return web.Response(status=404, text="no script for this path")
        result = script(received)
        if not isinstance(result, str | web.StreamResponse):
            result = await result
        if isinstance(result, str):
            return web.Response(text=result, content_type="text/xml")
        return result


class _Multi:
    def __init__(self, pairs: tuple[tuple[str, str], ...]) -> None:
        self._pairs = pairs

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(dict.fromkeys(name for name, _ in self._pairs))

    def getall(self, name: str) -> list[str]:
        return [value for key, value in self._pairs if key == name]
