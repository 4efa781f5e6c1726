"""What the Twilio adapter holds while the service runs: the account cache, LiveKit clients, an HTTP client for
IVR lookups, the REST client factory, the call store, and the clock. One per app, in the app's services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx

from gateway.calls.store import CallStore
from gateway.carriers.twilio.bridge import LiveKitPool
from gateway.carriers.twilio.directory import AccountDirectory, TwilioAccount
from gateway.carriers.twilio.rest import TwilioRest
from gateway.carriers.twilio.signature import Network, parse_trusted_proxies
from gateway.ivr import FlowRegistry
from gateway.net.outbound import AllowList, outbound_client
from gateway.services import Services
from gateway.settings import Settings


@dataclass
class TwilioRuntime:
    settings: Settings
    services: Services
    directory: AccountDirectory
    livekit: LiveKitPool
    http: httpx.AsyncClient
    rest: TwilioRest
    store: CallStore
    trusted_proxies: tuple[Network, ...]

    @classmethod
    def start(cls, settings: Settings, services: Services) -> TwilioRuntime:
        return cls(
            settings=settings,
            services=services,
            directory=AccountDirectory(services.database),
            livekit=LiveKitPool(),
            http=outbound_client(AllowList.parse(settings.outbound_allow)),
            rest=TwilioRest(settings.twilio_api_base_url),
            store=services.calls,
            trusted_proxies=parse_trusted_proxies(settings.trusted_proxies),
        )

    async def aclose(self) -> None:
        await self.directory.aclose()
        await self.livekit.aclose()
        await self.http.aclose()
        self.rest.close()

    def now(self) -> datetime:
        """The time calls run at (tests pin business hours)."""
        return self.services.now()

    def flows(self, project_id: str) -> FlowRegistry:
        """The project's flows: a call runs only flows of its own project."""
        return self.services.flow_registry(project_id)

    def livekit_ready(self, account: TwilioAccount) -> bool:
        """Agents can be bridged: the project has LiveKit credentials and LIVEKIT_SIP_URI is set."""
        return account.livekit is not None and bool(self.settings.livekit_sip_uri)

    def public_base(self) -> str:
        """Where Twilio reaches this gateway, for URLs given to Twilio outside a webhook (outbound calls)."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return f"http://{self.settings.host}:{self.settings.port}"
