"""What LiveKit adds to the service: HTTP handlers and its runtime (placer, reconciler).

Its /v1 controllers (sync, call control, web sessions) live in `gateway.admin`.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Router

from gateway.services import services
from gateway.settings import Settings
from gateway.web.limits import LIVEKIT_WEBHOOK_MAX_BODY
from gateway.web.rate_limit import webhook_failed_auth_limit

from .ingest import livekit_webhook
from .runtime import LiveKitRuntime
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


@asynccontextmanager
async def runtime(app: Litestar, settings: Settings) -> AsyncIterator[None]:
    """Start what LiveKit needs while the service runs; register its placer and call control."""
    running = services(app.state)
    livekit = LiveKitRuntime(running.database, running.calls, settings)
    running.add(livekit)
    running.placers["livekit"] = livekit.placer
    running.call_controls["livekit"] = livekit.control
    running.readiness_checks.append(livekit.livekit_check)
    with ChangeWatch(running.database.engine, livekit.on_change):
        syncing = asyncio.get_running_loop().create_task(livekit.sync_loop.run(), name="livekit sync loop")
        try:
            yield
        finally:
            syncing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await syncing
            await livekit.aclose()
            running.remove(LiveKitRuntime)
