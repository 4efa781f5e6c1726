"""Call and IVR metrics for Prometheus (served at /metrics with the request metrics of `gateway.web.metrics`).

Names are part of the public contract (README, "Metrics"); label values come from short fixed lists, never from
numbers, ids or free text:

- `trunkline_calls_total{carrier,direction,status}`: calls that ended, by their first final status;
- `trunkline_call_duration_seconds{carrier,direction}`: how long answered calls were connected;
- `trunkline_ivr_steps_total{step_type}`: IVR steps run on live calls (`say`, `menu`, `transfer`...);
- `trunkline_ivr_lookups_total{outcome}`: a flow's HTTP lookups (`ok`, `http_error`, `error`).

Webhooks received (`trunkline_webhooks_total{carrier,outcome}`) are counted with the requests.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Histogram

from gateway.calls.lifecycle import TERMINAL_STATES
from gateway.db.models import Call

CARRIERS = frozenset({"twilio", "livekit"})
DIRECTIONS = frozenset({"inbound", "outbound"})
_FINAL = frozenset(state.value for state in TERMINAL_STATES)
LOOKUP_OUTCOMES = frozenset({"ok", "http_error", "error"})

CALLS = Counter(
    "trunkline_calls_total",
    "Calls that ended, by carrier, direction and final status",
    ("carrier", "direction", "status"),
)
CALL_DURATION = Histogram(
    "trunkline_call_duration_seconds",
    "Seconds answered calls were connected",
    ("carrier", "direction"),
    buckets=(5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200),
)
IVR_STEPS = Counter("trunkline_ivr_steps_total", "IVR steps run on live calls, by step type", ("step_type",))
IVR_LOOKUPS = Counter(
    "trunkline_ivr_lookups_total", "HTTP lookups made by IVR flows, by outcome", ("outcome",)
)


def _bounded(value: str, allowed: frozenset[str]) -> str:
    return value if value in allowed else "other"


def is_final(status: str | None) -> bool:
    return status in _FINAL


def call_ended(call: Call) -> None:
    """Count a call that just reached its first final status."""
    carrier = _bounded(call.carrier, CARRIERS)
    direction = _bounded(call.direction, DIRECTIONS)
    CALLS.labels(carrier, direction, _bounded(call.status, _FINAL)).inc()
    if call.answered_at is not None and call.duration_s is not None:
        CALL_DURATION.labels(carrier, direction).observe(call.duration_s)


def ivr_steps(step_types: Iterable[str]) -> None:
    for step_type in step_types:
        IVR_STEPS.labels(step_type).inc()


def ivr_lookup(outcome: str) -> None:
    IVR_LOOKUPS.labels(_bounded(outcome, LOOKUP_OUTCOMES)).inc()
