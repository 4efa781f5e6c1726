"""Every request gets an id (taken from X-Request-Id when sane), echoed back and put on every log line."""

from __future__ import annotations

import os
import re

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from gateway.logs import request_id_var

_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        given = next((v.decode() for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = given if given and _SAFE.match(given) else os.urandom(16).hex()
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)

    return middleware
