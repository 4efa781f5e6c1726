"""What LiveKit adds to the service: HTTP handlers, /v1 controllers, and its runtime (placer, reconciler)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Router

from gateway.sessions.api import SessionController
from gateway.settings import Settings
from gateway.web.limits import LIVEKIT_WEBHOOK_MAX_BODY
from gateway.web.rate_limit import webhook_failed_auth_limit

from .control_api import CallControlController
from .ingest import livekit_webhook
from .runtime import LiveKitRuntime
from .sync_api import SyncController
from .sync_loop import ChangeWatch

HANDLERS: list[Any] = [
    Router(
        path="/",
        route_handlers=[livekit_webhook],
        request_max_body_size=LIVEKIT_WEBHOOK_MAX_BODY,
        middleware=[webhook_failed_auth_limit],
    )
]
"""Handlers mounted at the root (e.g. /webhooks/livekit)."""
V1_CONTROLLERS: list[Any] = [SyncController, CallControlController, SessionController]
"""Controllers mounted under /v1 (authenticated)."""


@asynccontextmanager
async def runtime(app: Litestar, settings: Settings) -> AsyncIterator[None]:
    """Start what LiveKit needs while the service runs; register its `CallPlacer` in app.state.placers."""
    livekit = LiveKitRuntime(app.state.sessions, settings)
    app.state.livekit = livekit
    app.state.placers["livekit"] = livekit.placer
    app.state.call_controls["livekit"] = livekit.control
    app.state.readiness_checks.append(livekit.livekit_check)
    livekit.start()
    with ChangeWatch(app.state.engine, livekit.on_change):
        syncing = asyncio.get_running_loop().create_task(livekit.sync_loop.run(), name="livekit sync loop")
        try:
            yield
        finally:
            syncing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await syncing
            await livekit.aclose()
