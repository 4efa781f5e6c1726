"""The one middleware every HTTP request passes: its request id (`request_id`) and its metrics (`metrics`).

One layer with one wrapped `send` instead of one per concern: on the busiest webhooks every layer's closure, frame
and wrapped `send` is paid twice per response.
"""

from __future__ import annotations

import time

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from gateway.logs import request_id_var
from gateway.web import metrics
from gateway.web.problems import status_of
from gateway.web.request_id import HEADER, request_id_of


def observe_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        id_header = (HEADER, request_id.encode())
        path = scope.get("path_template") or "unmatched"
        measured = path not in metrics.EXCLUDED
        method: str = scope["method"]
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        token = request_id_var.set(request_id)
        started = time.perf_counter()
        if measured:
            metrics.started(method, path)
        try:
            await app(scope, receive, send_observed)
        except Exception as exc:
            # Raised by a middleware (say, authentication's 401): the app's exception handler answers it after
            # this layer has returned, so the status it will send is taken from the exception.
            status = status_of(exc)
            raise
        finally:
            if measured:
                metrics.finished(method, path, status, time.perf_counter() - started)
            request_id_var.reset(token)

    return middleware
