"""Webhooks signed like LiveKit's (protocol `webhook.URLNotifier`).

The body is the protobuf JSON of a `livekit.WebhookEvent` (camelCase names, defaults omitted), posted with
`Content-Type: application/webhook+json`; `Authorization` carries a bare JWT signed with the API key and
secret, valid for five minutes, whose `sha256` claim is the base64 SHA-256 of the body. Failed deliveries
(transport error or 5xx) are retried a few times, like LiveKit's retrying HTTP client.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Callable

import aiohttp
import jwt
import msgspec
from aiohttp import web
from google.protobuf import json_format
from livekit.protocol import egress as proto_egress
from livekit.protocol import models as proto_models
from livekit.protocol import webhook as proto_webhook

from . import ids

CONTENT_TYPE = "application/webhook+json"
TOKEN_VALIDITY_SECONDS = 300

ROOM_STARTED = "room_started"
ROOM_FINISHED = "room_finished"
PARTICIPANT_JOINED = "participant_joined"
PARTICIPANT_LEFT = "participant_left"
EGRESS_STARTED = "egress_started"
EGRESS_UPDATED = "egress_updated"
EGRESS_ENDED = "egress_ended"


class WebhookDelivery(msgspec.Struct, frozen=True):
    """One webhook post: the event, the HTTP status it got (None when the connection failed), attempts."""

    event: str
    event_id: str
    status: int | None
    attempts: int
    error: str = ""


def build_event(
    event: str,
    *,
    room: proto_models.Room | None = None,
    participant: proto_models.ParticipantInfo | None = None,
    egress: proto_egress.EgressInfo | None = None,
) -> proto_webhook.WebhookEvent:
    """A webhook event with LiveKit's unique `EV_` id and its creation time in unix seconds."""
    message = proto_webhook.WebhookEvent(
        event=event, id=ids.new_id(ids.WEBHOOK_EVENT), created_at=int(time.time())
    )
    if room is not None:
        message.room.CopyFrom(room)
    if participant is not None:
        message.participant.CopyFrom(participant)
    if egress is not None:
        message.egress_info.CopyFrom(egress)
    return message


def encode_event(event: proto_webhook.WebhookEvent) -> str:
    """Protobuf JSON as LiveKit's notifier marshals it."""
    return json.dumps(json_format.MessageToDict(event), separators=(",", ":"), ensure_ascii=False)


def sign_body(body: str, api_key: str, api_secret: str, *, now: float | None = None) -> str:
    """The `Authorization` value of a webhook: a JWT whose `sha256` claim is the body's digest."""
    issued = int(time.time() if now is None else now)
    digest = base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
    claims = {"iss": api_key, "nbf": issued, "exp": issued + TOKEN_VALIDITY_SECONDS, "sha256": digest}
    return jwt.encode(claims, api_secret, algorithm="HS256")


class WebhookSender:
    """Records every published event and, when a URL is configured, posts it there in order."""

    def __init__(
        self,
        *,
        url: str | None,
        api_key: str,
        api_secret: str,
        max_attempts: int = 3,
        retry_delay: float = 0.05,
    ) -> None:
        self.url = url
        self._api_key = api_key
        self._api_secret = api_secret
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._changed = threading.Condition()
        self._events: list[proto_webhook.WebhookEvent] = []
        self._deliveries: list[WebhookDelivery] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[proto_webhook.WebhookEvent] | None = None
        self._worker: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def events(self) -> list[proto_webhook.WebhookEvent]:
        with self._changed:
            return list(self._events)

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        with self._changed:
            return list(self._deliveries)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        if self.url:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))
            self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._queue is not None and self._worker is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout=5)
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        self._worker = None
        self._session = None

    def publish(self, event: proto_webhook.WebhookEvent) -> None:
        """Thread-safe: record the event and queue its delivery on the server's loop."""
        with self._changed:
            self._events.append(event)
            self._changed.notify_all()
        loop, queue = self._loop, self._queue
        if self.url and loop is not None and queue is not None and not loop.is_closed():
            loop.call_soon_threadsafe(queue.put_nowait, event)

    def wait_for(
        self, predicate: Callable[[proto_webhook.WebhookEvent], bool], timeout: float = 5.0
    ) -> proto_webhook.WebhookEvent:
        """Block (from a thread other than the server's) until a published event satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for event in self._events:
                    if predicate(event):
                        return event
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no matching webhook event was published")
                self._changed.wait(remaining)

    async def delivered(self, count: int, within: float = 5.0) -> list[WebhookDelivery]:
        """Wait on the server's loop until at least `count` deliveries were attempted."""
        deadline = time.monotonic() + within
        while len(self.deliveries) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(self.deliveries)} of {count} webhooks were delivered")
            await asyncio.sleep(0.01)
        return self.deliveries

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            event = await self._queue.get()
            try:
                await self._deliver(event)
            finally:
                self._queue.task_done()

    async def _deliver(self, event: proto_webhook.WebhookEvent) -> None:
        assert self._session is not None
        assert self.url is not None
        body = encode_event(event)
        status: int | None = None
        error = ""
        attempt = 0
        for attempt in range(1, self._max_attempts + 1):
            headers = {
                "Authorization": sign_body(body, self._api_key, self._api_secret),
                "Content-Type": CONTENT_TYPE,
                "User-Agent": "LiveKit",
            }
            try:
                async with self._session.post(self.url, data=body.encode(), headers=headers) as response:
                    status, error = response.status, ""
                    if status < 500:
                        break
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, error = None, repr(exc)
            await asyncio.sleep(self._retry_delay * attempt)
        delivery = WebhookDelivery(
            event=event.event, event_id=event.id, status=status, attempts=attempt, error=error
        )
        with self._changed:
            self._deliveries.append(delivery)
            self._changed.notify_all()


class ReceivedWebhook(msgspec.Struct, frozen=True):
    """A webhook as a receiver got it: the raw body and the headers that matter for verification."""

    body: str
    authorization: str
    content_type: str


class WebhookSink:
    """A loopback HTTP endpoint that keeps every webhook posted to it (answering `status`)."""

    def __init__(self, *, status: int = 200) -> None:
        self.status = status
        self.received: list[ReceivedWebhook] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> WebhookSink:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/webhooks/livekit"
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _receive(self, request: web.Request) -> web.Response:
        self.received.append(
            ReceivedWebhook(
                body=await request.text(),
                authorization=request.headers.get("Authorization", ""),
                content_type=request.headers.get("Content-Type", ""),
            )
        )
        return web.Response(status=self.status)
