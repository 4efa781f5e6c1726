"""What the Twilio carrier adds to the service: HTTP handlers, /v1 controllers, and its runtime (placer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar

from gateway.carriers.twilio.controller import TwilioWebhookController
from gateway.carriers.twilio.placer import TwilioCallControl, TwilioPlacer
from gateway.carriers.twilio.runtime import TwilioRuntime
from gateway.settings import Settings

HANDLERS: list[Any] = [TwilioWebhookController]
"""Handlers mounted at the root (e.g. /carriers/twilio/...)."""
V1_CONTROLLERS: list[Any] = []
"""Controllers mounted under /v1 (authenticated)."""


@asynccontextmanager
async def runtime(app: Litestar, settings: Settings) -> AsyncIterator[None]:
    """Start what the carrier needs while the service runs; register its `CallPlacer` in app.state.placers."""
    twilio = TwilioRuntime.start(settings, app.state, app.state.database, app.state.call_store)
    app.state.twilio = twilio
    app.state.placers["twilio"] = TwilioPlacer(twilio)
    app.state.call_controls["twilio"] = TwilioCallControl(twilio)
    try:
        yield
    finally:
        app.state.placers.pop("twilio", None)
        app.state.call_controls.pop("twilio", None)
        await twilio.aclose()
