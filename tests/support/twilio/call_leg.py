"""A call as Twilio's network sees it: its status events, status callbacks, and the webhooks it makes."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from tests.support.twilio.callbacks import TERMINAL, CallEvent, CallParty, status_callback_params, subscribed
from tests.support.twilio.sids import new_call_sid
from tests.support.twilio.twiml import TwimlError, Verb, parse_twiml
from tests.support.twilio.webhooks import Delivery

if TYPE_CHECKING:
    from tests.support.twilio.simulator import TwilioSimulator

TWIML_TYPES = ("text/xml", "application/xml", "text/html")
Document = tuple[tuple[Verb, ...], str | None]


class SimulatorError(Exception):
    """The test asked the simulated call for something it cannot do right now."""


class CallLeg:
    """Status and HTTP of one call: events with their callbacks (sent as they happen, or on demand)."""

    def __init__(
        self,
        twilio: TwilioSimulator,
        *,
        call_sid: str | None = None,
        status_callback: str | None = None,
        status_callback_method: str = "POST",
        status_callback_events: Sequence[str] | None = None,
        auto_status_callbacks: bool = True,
        on_event: Callable[[CallEvent], Awaitable[None] | None] | None = None,
    ) -> None:
        self.twilio = twilio
        self.call_sid = call_sid or new_call_sid()
        self.status_callback = status_callback
        self.status_callback_method = status_callback_method
        self.status_callback_events = tuple(status_callback_events or ("completed",))
        self.auto_status_callbacks = auto_status_callbacks
        self.on_event = on_event
        self.party: CallParty | None = None
        self.events: list[CallEvent] = []
        self.deliveries: list[Delivery] = []
        self.hung_up = False
        self.error_code: int | None = None
        self.answered_by: str | None = None
        self._callbacks_sent = 0

    async def send_status_callbacks(
        self, *, shuffle: bool = False, duplicates: int = 0, rng: random.Random | None = None
    ) -> list[Delivery]:
        """Send the subscribed status callbacks of everything that happened (optionally shuffled and repeated)."""
        if not self.status_callback:
            raise SimulatorError("no status callback URL is configured for this call")
        rng = rng or random.Random()
        callbacks = self._status_callbacks()
        batch = callbacks + [rng.choice(callbacks) for _ in range(duplicates if callbacks else 0)]
        if shuffle:
            rng.shuffle(batch)
        sent = [
            await self.twilio.sender.send(self.status_callback, p, method=self.status_callback_method)
            for p in batch
        ]
        self.deliveries.extend(sent)
        return sent

    async def remote_hangup(self, status: str = "completed") -> None:
        """The call is ended from the REST API (Status=completed or canceled)."""
        await self._end(status)

    async def _deliver(self, url: str, method: str, extra: Sequence[tuple[str, str]] = ()) -> Delivery:
        params = [*self._party().request_params(self._call_status()), *extra]
        delivery = await self.twilio.sender.send(url, params, method=method)
        self.deliveries.append(delivery)
        self.twilio.clock.advance(1)
        return delivery

    def _document(self, delivery: Delivery) -> Document | None:
        if not delivery.ok or delivery.response is None:
            self.error_code = delivery.error_code
            return None
        content_type = delivery.response.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in TWIML_TYPES:
            self.error_code = 12300
            return None
        try:
            return parse_twiml(delivery.response.content), delivery.url
        except TwimlError as exc:
            self.error_code = exc.code
            return None

    def _party(self) -> CallParty:
        if self.party is None:
            raise SimulatorError("the call has not started")
        return self.party

    def _call_status(self) -> str:
        if self.hung_up:
            return self.events[-1].status
        return "in-progress" if any(e.status == "in-progress" for e in self.events) else "ringing"

    async def _answer(self) -> None:
        if not any(event.status == "in-progress" for event in self.events):
            await self._event("in-progress")

    async def _end(self, status: str, sip_code: int | None = None) -> None:
        if self.hung_up:
            return
        if status not in TERMINAL:
            raise SimulatorError(f"{status!r} is not a final call status; use one of {', '.join(TERMINAL)}")
        self.hung_up = True
        await self._event(status, sip_code)

    async def _event(self, status: str, sip_code: int | None = None) -> None:
        event = CallEvent(status, self.twilio.clock.now(), sip_code)
        self.events.append(event)
        if self.on_event is not None:
            result = self.on_event(event)
            if result is not None:
                await result
        if self.auto_status_callbacks and self.status_callback:
            for params in self._status_callbacks()[self._callbacks_sent :]:
                self._callbacks_sent += 1
                delivery = await self.twilio.sender.send(
                    self.status_callback, params, method=self.status_callback_method
                )
                self.deliveries.append(delivery)

    def _status_callbacks(self) -> list[list[tuple[str, str]]]:
        answered_at = next((e.at for e in self.events if e.status == "in-progress"), None)
        party = self._party()
        return [
            status_callback_params(
                party, event, sequence=sequence, answered_at=answered_at, answered_by=self.answered_by
            )
            for sequence, event in enumerate(subscribed(self.events, self.status_callback_events))
        ]
