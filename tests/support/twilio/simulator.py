"""Twilio's side of phone calls, played against a gateway over real HTTP, following Twilio's documented protocol.

    async with TwilioSimulator("http://127.0.0.1:8000", auth_token=token) as twilio:
        conv = await twilio.call("+442071838750", "+14155550100")
        assert conv.prompts[-1].startswith("Welcome")
        await conv.press("1")

Every request is a form post signed with twilio's `RequestValidator.compute_signature`, retried per the URL's
connection overrides (see `webhooks`). Calls are `Conversation`s (see `conversation`).
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from tests.support.twilio.call_leg import SimulatorError
from tests.support.twilio.callbacks import SimulatedClock
from tests.support.twilio.conversation import Conversation, DialOutcome
from tests.support.twilio.sids import new_account_sid
from tests.support.twilio.webhooks import WebhookSender

__all__ = ["Conversation", "DialOutcome", "SimulatorError", "TwilioSimulator"]


class TwilioSimulator:
    """Twilio, pointed at one gateway: its number's voice URL and status callback URL live under `base_url`."""

    def __init__(
        self,
        base_url: str,
        *,
        auth_token: str,
        account_sid: str | None = None,
        client: httpx.AsyncClient | None = None,
        voice_path: str = "/carriers/twilio/voice",
        status_path: str | None = "/carriers/twilio/status",
        status_callback_events: Sequence[str] = ("completed",),
        fallback_url: str | None = None,
        overrides: str = "",
        clock: SimulatedClock | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.account_sid = account_sid or new_account_sid()
        self._own_client = client is None
        self.client = client or httpx.AsyncClient()
        self.sender = WebhookSender(auth_token, self.client, overrides=overrides)
        self.voice_url = self.url(voice_path)
        self.status_callback_url = self.url(status_path) if status_path else None
        self.status_callback_events = tuple(status_callback_events)
        self.fallback_url = fallback_url
        self.clock = clock or SimulatedClock()

    def url(self, path: str) -> str:
        return self.base_url + path

    def conversation(self, **options: object) -> Conversation:
        """A call on this account; unless told otherwise it reports to the number's status callback URL."""
        options.setdefault("status_callback", self.status_callback_url)
        options.setdefault("status_callback_events", self.status_callback_events)
        return Conversation(self, **options)  # type: ignore[arg-type]

    async def call(self, from_: str, to: str, **options: object) -> Conversation:
        """An inbound call to the number: posts the voice URL and plays the answer up to the first input."""
        conversation = self.conversation(**options)
        await conversation.start(from_, to)
        return conversation

    async def aclose(self) -> None:
        if self._own_client:
            await self.client.aclose()

    async def __aenter__(self) -> TwilioSimulator:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
