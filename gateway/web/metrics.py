"""Request metrics for Prometheus (served by Litestar's `PrometheusController` at /metrics).

The same series Litestar's `PrometheusMiddleware` records (`trunkline_requests_total`,
`trunkline_request_duration_seconds`, `trunkline_requests_in_progress`, `trunkline_requests_error_total`, by
method, route template and status), recorded more cheaply: that middleware builds a `Request`, label dicts and a
wrapped `send` per request and looks every series up by its labels (~35 us per request, as much as a bare
Litestar endpoint's whole handling); here the labelled series are looked up once and kept.
"""

from __future__ import annotations

import time
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import Counter, Gauge, Histogram

PREFIX = "trunkline"
APP_NAME = "trunkline"
LABELS = ("method", "path", "status_code", "app_name")
EXCLUDED = frozenset({"/metrics"})

REQUESTS = Counter(f"{PREFIX}_requests_total", "Total requests", LABELS)
DURATION = Histogram(f"{PREFIX}_request_duration_seconds", "Request duration, in seconds", LABELS)
IN_PROGRESS = Gauge(
    f"{PREFIX}_requests_in_progress",
    "Requests currently in progress",
    ("method", "path", "app_name"),
    multiprocess_mode="livesum",
)
ERRORS = Counter(f"{PREFIX}_requests_error_total", "Total requests answered with a 5xx status", LABELS)

_in_progress: dict[tuple[str, str], Any] = {}
_finished: dict[tuple[str, str, int], tuple[Any, Any, Any | None]] = {}


def _gauge(method: str, path: str) -> Any:
    gauge = _in_progress.get((method, path))
    if gauge is None:
        gauge = _in_progress[(method, path)] = IN_PROGRESS.labels(method, path, APP_NAME)
    return gauge


def _record(method: str, path: str, status: int, seconds: float) -> None:
    series = _finished.get((method, path, status))
    if series is None:
        labels = (method, path, str(status), APP_NAME)
        error = ERRORS.labels(*labels) if status >= 500 else None
        series = _finished[(method, path, status)] = (
            REQUESTS.labels(*labels),
            DURATION.labels(*labels),
            error,
        )
    count, duration, error = series
    count.inc()
    duration.observe(seconds)
    if error is not None:
        error.inc()


def metrics_middleware(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        path = scope.get("path_template") or "unmatched"
        if path in EXCLUDED:
            await app(scope, receive, send)
            return
        method: str = scope["method"]
        started = time.perf_counter()
        status = 500

        async def send_recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        gauge = _gauge(method, path)
        gauge.inc()
        try:
            await app(scope, receive, send_recording)
        finally:
            gauge.dec()
            _record(method, path, status, time.perf_counter() - started)

    return middleware
