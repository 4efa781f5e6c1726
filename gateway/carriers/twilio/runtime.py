"""What the Twilio adapter holds while the service runs: the account cache, LiveKit clients, an HTTP client for
IVR lookups, the REST client factory, the group-commit writer of new calls, and the clock. One per app, in
`app.state.twilio`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import httpx
from litestar.datastructures import State

from gateway.carriers.twilio.bridge import LiveKitPool
from gateway.carriers.twilio.directory import AccountDirectory, TwilioAccount
from gateway.carriers.twilio.rest import TwilioRest
from gateway.carriers.twilio.signature import Network, parse_trusted_proxies
from gateway.carriers.twilio.writer import CallWriter
from gateway.db.types import utcnow
from gateway.ivr import FlowRegistry
from gateway.net.outbound import AllowList, outbound_client
from gateway.settings import Settings


@dataclass
class TwilioRuntime:
    settings: Settings
    state: State
    directory: AccountDirectory
    livekit: LiveKitPool
    http: httpx.AsyncClient
    rest: TwilioRest
    writer: CallWriter
    trusted_proxies: tuple[Network, ...]

    @classmethod
    def start(cls, settings: Settings, state: State) -> TwilioRuntime:
        runtime = cls(
            settings=settings,
            state=state,
            directory=AccountDirectory(state.sessions),
            livekit=LiveKitPool(),
            http=outbound_client(AllowList.parse(settings.outbound_allow)),
            rest=TwilioRest(settings.twilio_api_base_url),
            writer=CallWriter(state.engine),
            trusted_proxies=parse_trusted_proxies(settings.trusted_proxies),
        )
        runtime.writer.start()
        return runtime

    async def aclose(self) -> None:
        await self.directory.aclose()
        await self.writer.stop()
        await self.livekit.aclose()
        await self.http.aclose()
        self.rest.close()

    def now(self) -> datetime:
        """The time calls run at: `app.state.clock()` when set (tests pin business hours), else now (UTC)."""
        clock: Callable[[], datetime] | None = self.state.get("clock")
        return clock() if clock is not None else utcnow()

    @property
    def flows(self) -> FlowRegistry:
        registry: FlowRegistry = self.state.flows
        return registry

    def livekit_ready(self, account: TwilioAccount) -> bool:
        """Agents can be bridged: the project has LiveKit credentials and LIVEKIT_SIP_URI is set."""
        return account.livekit is not None and bool(self.settings.livekit_sip_uri)

    def public_base(self) -> str:
        """Where Twilio reaches this gateway, for URLs given to Twilio outside a webhook (outbound calls)."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return f"http://{self.settings.host}:{self.settings.port}"
