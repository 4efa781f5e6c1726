"""Request metrics for Prometheus (served by Litestar's `PrometheusController` at /metrics), recorded by
`gateway.web.observe`.

The same series Litestar's `PrometheusMiddleware` records (`trunkline_requests_total`,
`trunkline_request_duration_seconds`, `trunkline_requests_in_progress`, `trunkline_requests_error_total`, by
method, route template and status), recorded more cheaply: that middleware builds a `Request`, label dicts and a
wrapped `send` per request and looks every series up by its labels (~35 us per request, as much as a bare
Litestar endpoint's whole handling); here the labelled series are looked up once and kept.

Carrier webhooks are also counted by carrier and outcome (`trunkline_webhooks_total`): `accepted` (2xx),
`refused` (401/403: signature or account), `invalid` (other 4xx), `error` (5xx). Call and IVR metrics are in
`gateway.calls.metrics`.
"""

from __future__ import annotations

from typing import Any

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
WEBHOOKS = Counter(
    f"{PREFIX}_webhooks_total", "Carrier and LiveKit webhooks received, by outcome", ("carrier", "outcome")
)
WEBHOOK_PATHS = {"/webhooks/livekit": "livekit"}
"""Webhook route templates -> carrier (every path under `/carriers/<carrier>/` is that carrier's too)."""

_in_progress: dict[tuple[str, str], Any] = {}
_finished: dict[tuple[str, str, int], tuple[Any, Any, Any | None, Any | None]] = {}


def started(method: str, path: str) -> None:
    gauge = _in_progress.get((method, path))
    if gauge is None:
        gauge = _in_progress[(method, path)] = IN_PROGRESS.labels(method, path, APP_NAME)
    gauge.inc()


def finished(method: str, path: str, status: int, seconds: float) -> None:
    _in_progress[(method, path)].dec()
    series = _finished.get((method, path, status))
    if series is None:
        labels = (method, path, str(status), APP_NAME)
        error = ERRORS.labels(*labels) if status >= 500 else None
        series = _finished[(method, path, status)] = (
            REQUESTS.labels(*labels),
            DURATION.labels(*labels),
            error,
            _webhook_series(path, status),
        )
    count, duration, error, webhook = series
    count.inc()
    duration.observe(seconds)
    if error is not None:
        error.inc()
    if webhook is not None:
        webhook.inc()


def webhook_carrier(path: str) -> str | None:
    if path.startswith("/carriers/"):
        return path.split("/")[2] or None
    return WEBHOOK_PATHS.get(path)


def webhook_outcome(status: int) -> str:
    if status < 400:
        return "accepted"
    if status in (401, 403):
        return "refused"
    return "invalid" if status < 500 else "error"


def _webhook_series(path: str, status: int) -> Any | None:
    carrier = webhook_carrier(path)
    return None if carrier is None else WEBHOOKS.labels(carrier, webhook_outcome(status))
