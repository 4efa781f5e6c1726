"""What runs while the gateway serves, typed: one `Services` per app, built by `gateway.app` at start-up.

Handlers and adapters reach it through `services(state)` instead of untyped `app.state` attributes. Carriers and
LiveKit add their runtimes with `add` and others find them with `get(TheRuntime)`, so this module knows nothing
of the adapters (it sits below them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from gateway.calls.control import CallControl
from gateway.calls.guard import CallRateLimit
from gateway.calls.outbound import CallPlacer
from gateway.calls.store import CallStore
from gateway.db.database import Database
from gateway.db.types import utcnow
from gateway.errors import UpstreamUnavailable
from gateway.ivr import FlowLibrary, FlowRegistry
from gateway.settings import Settings

T = TypeVar("T")

ReadinessCheck = Callable[["Services"], Awaitable[tuple[bool, str]]]
"""A part the gateway reports on in /health/ready: (ok, what to tell an operator)."""


@dataclass(eq=False)
class Services:
    settings: Settings
    database: Database
    calls: CallStore
    call_rate: CallRateLimit
    """Calls per second per project, shared by replicas on PostgreSQL."""
    placers: dict[str, CallPlacer] = field(default_factory=dict)
    """Outbound calls by carrier name (registered by each carrier's runtime)."""
    call_controls: dict[str, CallControl] = field(default_factory=dict)
    """Live call control by carrier name."""
    readiness_checks: list[ReadinessCheck] = field(default_factory=list)
    flows: FlowLibrary | None = None
    """Every project's IVR flows."""
    clock: Callable[[], datetime] | None = None
    """The time calls run at; tests pin it (business hours). None: now, UTC."""
    _adapters: dict[type[Any], object] = field(default_factory=dict, repr=False)

    def now(self) -> datetime:
        return self.clock() if self.clock is not None else utcnow()

    def add(self, adapter: object) -> None:
        """Make a running adapter (e.g. the LiveKit runtime) findable by its type."""
        self._adapters[type(adapter)] = adapter

    def remove(self, kind: type[Any]) -> None:
        self._adapters.pop(kind, None)

    def get(self, kind: type[T]) -> T:
        found = self._adapters.get(kind)
        if not isinstance(found, kind):
            raise UpstreamUnavailable(f"{kind.__name__} is not running in this gateway; check its settings.")
        return found

    def flow_library(self) -> FlowLibrary:
        if self.flows is None:
            raise UpstreamUnavailable("IVR flows are not loaded yet; retry in a moment.")
        return self.flows

    def flow_registry(self, project_id: str) -> FlowRegistry:
        """The flows of one project (no other project's flow is ever reachable through it)."""
        return self.flow_library().registry(project_id)


def services(state: Any) -> Services:
    """The app's services, from its `state` (a Litestar `State`) or the app itself."""
    found = getattr(state, "services", None) or getattr(getattr(state, "state", None), "services", None)
    if not isinstance(found, Services):
        raise RuntimeError("the gateway's services are not set up (gateway.app.create_app builds them)")
    return found
