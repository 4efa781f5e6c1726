"""`LiveKitStandIn`: a loopback LiveKit server for tests, and its control API.

Use it as an async context manager on the test's own loop, or through `StandInThread` on a loop of its own:

    async with LiveKitStandIn(webhook_url=sink.url) as livekit:
        async with api.LiveKitAPI(livekit.url, livekit.api_key, livekit.api_secret) as lk:
            ...

Control methods are plain, thread-safe Python methods (except `set_down`, a coroutine on the server's loop).
"""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import Callable, Mapping

from aiohttp import web
from livekit.protocol import models as proto_models
from livekit.protocol import webhook as proto_webhook

from .faults import DialOutcome, DownMode, FaultBook, TransferOutcome
from .inbound import InboundCallResult, simulate_inbound_call
from .service_egress import EgressHandlers
from .service_room import RoomHandlers
from .sip_admin import SipAdminHandlers
from .sip_calls import SipCall, SipCallHandlers
from .twirp import TwirpApp
from .webhooks import WebhookDelivery, WebhookSender
from .world import Departure, World

DEFAULT_API_SECRET = "standin-secret-long-enough-for-hs256-signatures"

_KINDS = {
    "standard": proto_models.ParticipantInfo.Kind.STANDARD,
    "agent": proto_models.ParticipantInfo.Kind.AGENT,
    "sip": proto_models.ParticipantInfo.Kind.SIP,
    "egress": proto_models.ParticipantInfo.Kind.EGRESS,
}


class LiveKitStandIn:
    """LiveKit's Twirp API, auth and webhooks over loopback, with state and faults on demand."""

    def __init__(
        self,
        *,
        api_key: str = "devkey",
        api_secret: str | None = None,
        extra_keys: Mapping[str, str] | None = None,
        webhook_url: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        time_scale: float = 1.0,
        no_response_delay: float = 0.0,
        webhook_attempts: int = 3,
    ) -> None:
        api_secret = api_secret or DEFAULT_API_SECRET
        self.api_key = api_key
        self.api_secret = api_secret
        self.faults = FaultBook()
        self._host = host
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.SockSite | None = None
        self._socket: socket.socket | None = None
        self._sender = WebhookSender(
            url=webhook_url, api_key=api_key, api_secret=api_secret, max_attempts=webhook_attempts
        )
        self.world = World(sender=self._sender, schedule=self._schedule, time_scale=time_scale)
        self._calls = SipCallHandlers(self.world, self.faults)
        self._sip_admin = SipAdminHandlers(self.world)
        handlers = {
            **RoomHandlers(self.world, no_response_delay=no_response_delay).table(),
            **EgressHandlers(self.world).table(),
            **self._sip_admin.table(),
            **self._calls.table(),
        }
        self._twirp = TwirpApp(
            keys={api_key: api_secret, **(extra_keys or {})}, handlers=handlers, faults=self.faults
        )

    # --- lifecycle --------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`, what `LiveKitAPI(url=...)` takes."""
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._sender.start()
        self._runner = web.AppRunner(self._twirp.app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        await self._listen()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        await self._sender.stop()
        self._runner = self._site = self._socket = None
        self._loop = None

    async def __aenter__(self) -> LiveKitStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def _listen(self) -> None:
        assert self._runner is not None
        self._socket = socket.create_server((self._host, self._port))
        self._site = web.SockSite(self._runner, self._socket)
        await self._site.start()
        self._port = self._socket.getsockname()[1]

    async def _stop_listening(self) -> None:
        """Stop accepting, let the connections accepted this loop turn settle, then close the listener.

        Closed at once, a connection accepted in the same turn fails to attach to the closed server (an
        AssertionError asyncio swallows) and its transport is left open, for the garbage collector to find."""
        assert self._site is not None
        assert self._socket is not None
        asyncio.get_running_loop().remove_reader(self._socket.fileno())
        for _ in range(2):
            await asyncio.sleep(0)
        await self._site.stop()
        self._site = self._socket = None

    def _schedule(self, delay: float, callback: Callable[[], None]) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(loop.call_later, max(delay, 0.0), callback)

    # --- faults -----------------------------------------------------------------------------------

    def script_call(self, number: str, outcome: DialOutcome) -> None:
        """The next `CreateSIPParticipant` to `number` ends as `outcome` (queued per number)."""
        self.faults.queue_dial(number, outcome)

    def fail_next_call(
        self, number: str, sip_status: int, reason: str | None = None, ring_seconds: float = 0.0
    ) -> None:
        """The next call to `number` is refused with `sip_status` (486 busy, 603 declined, 480/408, 404...)."""
        self.faults.queue_dial(number, DialOutcome.failure(sip_status, reason, ring_seconds))

    def set_default_dial(self, outcome: DialOutcome) -> None:
        """How calls without a scripted outcome end (default: answered at once)."""
        self.faults.default_dial = outcome

    def script_transfer(self, target: str, outcome: TransferOutcome) -> None:
        """The next transfer to `target` (a `tel:`/`sip:` URI or number) ends as `outcome`."""
        self.faults.queue_transfer(target, outcome)

    def set_latency(self, seconds: float, method: str | None = None) -> None:
        """Delay every request, or one method such as `livekit.SIP/CreateSIPParticipant`."""
        self.faults.set_latency(seconds, method)

    async def set_down(self, mode: DownMode | None) -> None:
        """`"refused"`: stop listening and drop open connections; `"503"`: answer 503; None: serve again."""
        was_refusing = self._twirp.down == "refused"
        self._twirp.down = mode
        if mode == "refused" and self._site is not None:
            await self._stop_listening()
        elif mode != "refused" and was_refusing:
            await self._listen()

    # --- simulated world --------------------------------------------------------------------------

    def simulate_inbound_call(
        self,
        from_number: str,
        to_number: str,
        source_ip: str = "192.0.2.10",
        headers: Mapping[str, str] | None = None,
        *,
        from_host: str = "",
        username: str = "",
        password: str = "",
        pin: str = "",
        answer_after: float = 0.0,
    ) -> InboundCallResult:
        """An INVITE reaching LiveKit SIP, routed by the stored trunks and dispatch rules."""
        return simulate_inbound_call(
            self.world,
            self._calls,
            from_number=from_number,
            to_number=to_number,
            source_ip=source_ip,
            headers=headers or {},
            from_host=from_host,
            username=username,
            password=password,
            pin=pin,
            answer_after=answer_after,
        )

    def hang_up(self, room: str, identity: str) -> bool:
        """The far end of a SIP participant hangs up (or any participant disconnects)."""
        left = self.world.leave(room, identity, proto_models.DisconnectReason.CLIENT_INITIATED)
        return left is not None

    def join_participant(
        self,
        room: str,
        identity: str,
        *,
        kind: str = "standard",
        name: str = "",
        metadata: str = "",
        attributes: Mapping[str, str] | None = None,
    ) -> proto_models.ParticipantInfo:
        """Someone (an agent worker, a browser) joins `room` over WebRTC."""
        participant = proto_models.ParticipantInfo(
            identity=identity,
            name=name,
            metadata=metadata,
            kind=_KINDS[kind],
            attributes=dict(attributes or {}),
        )
        with self.world.lock:
            joined = self.world.join(room, participant)
            clone = proto_models.ParticipantInfo()
            clone.CopyFrom(joined)
            return clone

    def finish_egress(self, egress_id: str, error: str = "") -> None:
        """An egress ends by itself: completed, or failed with `error`."""
        self.world.finish_egress(egress_id, error=error)

    # --- inspection -------------------------------------------------------------------------------

    @property
    def webhook_events(self) -> list[proto_webhook.WebhookEvent]:
        """Every webhook event published so far, in order (delivered or not)."""
        return self._sender.events

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        return self._sender.deliveries

    def wait_for_webhook(self, event: str, timeout: float = 5.0) -> proto_webhook.WebhookEvent:
        """Block (from another thread than the server's) until an event of that name is published."""
        return self._sender.wait_for(lambda e: e.event == event, timeout)

    async def webhooks_delivered(self, count: int, within: float = 5.0) -> list[WebhookDelivery]:
        """Wait until `count` webhook deliveries were attempted (on the server's loop)."""
        return await self._sender.delivered(count, within)

    @property
    def calls(self) -> list[SipCall]:
        return self._calls.calls

    @property
    def requests(self) -> list[str]:
        """Methods called so far, such as `livekit.RoomService/CreateRoom`."""
        return list(self._twirp.requests)

    def request_counts(self, since: int = 0) -> Counter[str]:
        """API calls per method (`livekit.SIP/ListSIPDispatchRule`: 2, ...), from the `since`-th request on
        (`len(standin.requests)` taken before)."""
        return Counter(self._twirp.requests[since:])

    @property
    def listed_items(self) -> Counter[str]:
        """Items returned so far by each SIP listing method (after its filters and pagination)."""
        return Counter(self._sip_admin.listed)

    @property
    def departures(self) -> list[Departure]:
        with self.world.lock:
            return list(self.world.departures)

    def data_packets(self, room: str) -> list[proto_models.DataPacket]:
        with self.world.lock:
            record = self.world.room(room)
            return list(record.data_packets) if record else []
