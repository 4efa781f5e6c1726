"""Fixtures: a LiveKit stand-in on the test's loop, a webhook sink it posts to, the real livekit-api client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from livekit import api

from tests.support.livekit_standin import LiveKitStandIn, WebhookSink

TIME_SCALE = 0.01


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sink() -> AsyncIterator[WebhookSink]:
    async with WebhookSink() as receiver:
        yield receiver


@pytest.fixture
async def livekit(sink: WebhookSink) -> AsyncIterator[LiveKitStandIn]:
    async with LiveKitStandIn(webhook_url=sink.url, time_scale=TIME_SCALE) as standin:
        yield standin


@pytest.fixture
async def client(livekit: LiveKitStandIn) -> AsyncIterator[api.LiveKitAPI]:
    async with api.LiveKitAPI(livekit.url, livekit.api_key, livekit.api_secret) as lkapi:
        yield lkapi


@pytest.fixture
def receiver(livekit: LiveKitStandIn) -> api.WebhookReceiver:
    return api.WebhookReceiver(api.TokenVerifier(livekit.api_key, livekit.api_secret))
