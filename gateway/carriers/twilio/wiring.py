"""What the Twilio carrier adds to the service: HTTP handlers, /v1 controllers, and its runtime (placer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar

from gateway.carriers.twilio.controller import TwilioWebhookController
from gateway.carriers.twilio.placer import TwilioCallControl, TwilioPlacer
from gateway.carriers.twilio.runtime import TwilioRuntime
from gateway.services import services
from gateway.settings import Settings

HANDLERS: list[Any] = [TwilioWebhookController]
"""Handlers mounted at the root (e.g. /carriers/twilio/...)."""
V1_CONTROLLERS: list[Any] = []
"""Controllers mounted under /v1 (authenticated)."""


@asynccontextmanager
async def runtime(app: Litestar, settings: Settings) -> AsyncIterator[None]:
    """Start what the carrier needs while the service runs; register its placer and call control."""
    running = services(app.state)
    twilio = TwilioRuntime.start(settings, running)
    running.add(twilio)
    running.placers["twilio"] = TwilioPlacer(twilio)
    running.call_controls["twilio"] = TwilioCallControl(twilio)
    try:
        yield
    finally:
        running.placers.pop("twilio", None)
        running.call_controls.pop("twilio", None)
        running.remove(TwilioRuntime)
        await twilio.aclose()
