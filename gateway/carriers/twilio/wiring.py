"""What the Twilio carrier adds to the service: HTTP handlers, /v1 controllers, and its runtime (placer)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar

from gateway.carriers.twilio.controller import TwilioWebhookController
from gateway.carriers.twilio.params import (
    DialResult,
    GatherResult,
    RecordingCallback,
    RecordResult,
    StatusCallback,
    TwilioForm,
    VoiceRequest,
)
from gateway.carriers.twilio.placer import TwilioCallControl, TwilioPlacer
from gateway.carriers.twilio.runtime import TwilioRuntime
from gateway.services import services
from gateway.settings import Settings

HANDLERS: list[Any] = [TwilioWebhookController]
"""Handlers mounted at the root (e.g. /carriers/twilio/...)."""
V1_CONTROLLERS: list[Any] = []
"""Controllers mounted under /v1 (authenticated)."""
FORM_BODIES: dict[str, tuple[type[TwilioForm], ...]] = {
    "twilioVoice": (VoiceRequest,),
    "twilioAction": (GatherResult, RecordResult, DialResult),
    "twilioResume": (VoiceRequest,),
    "twilioStatus": (StatusCallback,),
    "twilioRecording": (RecordingCallback,),
}
"""The forms Twilio posts to each webhook, by operation id, for the OpenAPI document (the handlers read the raw
form, so the framework sees no body). The action URL gets any of three."""
FORM_EXAMPLE: dict[str, str] = {
    "CallSid": "CA" + "0" * 32,
    "AccountSid": "AC" + "0" * 32,
    "From": "+14155550100",
    "To": "+14155550199",
    "CallStatus": "ringing",
    "ApiVersion": "2010-04-01",
    "Direction": "inbound",
    "RecordingSid": "RE" + "0" * 32,
    "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC.../Recordings/RE...",
    "RecordingStatus": "completed",
    "DialCallStatus": "completed",
}
"""Example values of the forms' required fields."""


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
