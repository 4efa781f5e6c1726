"""Twilio's side of phone calls, played against a gateway over real HTTP, following Twilio's documented protocol.

    async with TwilioSimulator("http://127.0.0.1:8000", auth_token=token) as twilio:
        conv = await twilio.call("+442071838750", "+14155550100")
        assert conv.prompts[-1].startswith("Welcome")
        await conv.press("1")

Every request is a form post signed with twilio's `RequestValidator.compute_signature`, retried per the URL's
connection overrides. TwiML answers are run verb by verb; `<Gather>` and `<Record>` wait for the test to act as
the caller (`press`, `say`, `silence`, `record`, `hangup`). Relative URLs resolve against the document's URL, as
Twilio does.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from tests.support.twilio.callbacks import (
    TERMINAL,
    CallEvent,
    CallParty,
    SimulatedClock,
    recording_callback_params,
    recording_url,
    status_callback_params,
    subscribed,
)
from tests.support.twilio.sids import new_account_sid, new_call_sid, new_sid
from tests.support.twilio.twiml import (
    Dial,
    DialTarget,
    Gather,
    Hangup,
    Pause,
    Play,
    Record,
    Redirect,
    Reject,
    Say,
    TwimlError,
    Unsimulated,
    Verb,
    parse_twiml,
)
from tests.support.twilio.webhooks import Delivery, WebhookSender

TWIML_TYPES = ("text/xml", "application/xml", "text/html")
Document = tuple[tuple[Verb, ...], str | None]


class SimulatorError(Exception):
    """The test asked the simulated caller for something the call cannot do right now."""


@dataclass(frozen=True)
class DialOutcome:
    """How a `<Dial>` leg ends: DialCallStatus, its duration, and the SIP code for `<Sip>` targets."""

    status: str = "completed"
    duration: int = 30
    sip_code: int | None = None


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


class Conversation:
    """One call, seen from Twilio: what the caller heard and did, and every request made for it."""

    def __init__(
        self,
        twilio: TwilioSimulator,
        *,
        call_sid: str | None = None,
        dial_outcome: DialOutcome | None = None,
        status_callback: str | None = None,
        status_callback_method: str = "POST",
        status_callback_events: Sequence[str] | None = None,
        auto_status_callbacks: bool = True,
        caller_name: str | None = None,
        on_event: Callable[[CallEvent], Awaitable[None] | None] | None = None,
    ) -> None:
        self.twilio = twilio
        self.call_sid = call_sid or new_call_sid()
        self.dial_outcome = dial_outcome or DialOutcome()
        self.status_callback = status_callback
        self.status_callback_method = status_callback_method
        self.status_callback_events = tuple(status_callback_events or ("completed",))
        self.auto_status_callbacks = auto_status_callbacks
        self.caller_name = caller_name
        self.on_event = on_event
        self.party: CallParty | None = None
        self.prompts: list[str] = []
        self.played: list[str] = []
        self.dialed: list[DialTarget] = []
        self.recordings: list[str] = []
        self.events: list[CallEvent] = []
        self.deliveries: list[Delivery] = []
        self.hung_up = False
        self.rejected: str | None = None
        self.error_code: int | None = None
        self.answered_by: str | None = None
        self.awaiting: Gather | Record | None = None
        self._resume: tuple[tuple[Verb, ...], str | None, int] = ((), None, 0)
        self._callbacks_sent = 0

    # --- starting a call -------------------------------------------------------------------------------------------

    async def start(self, from_: str, to: str) -> None:
        """An inbound call: Twilio posts the number's voice URL with CallStatus=ringing."""
        self.party = CallParty(self.twilio.account_sid, self.call_sid, from_, to, "inbound", self.caller_name)
        await self._event("ringing")
        document = await self._fetch(self.twilio.voice_url, "POST")
        if document is not None:
            await self._run(*document, 0)

    async def dial_out(
        self,
        from_: str,
        to: str,
        *,
        outcome: str = "answered",
        url: str | None = None,
        twiml: str | None = None,
        method: str = "POST",
        sip_code: int | None = None,
        answered_by: str | None = None,
        ring_seconds: int = 3,
    ) -> None:
        """An outbound-api call: initiated, ringing, then answered (the Url or Twiml runs) or ended unanswered.

        `outcome`: answered, busy, no-answer, failed, canceled, or ringing (it keeps ringing until `remote_hangup`).
        """
        self.party = CallParty(self.twilio.account_sid, self.call_sid, from_, to, "outbound-api")
        self.answered_by = answered_by
        await self._event("initiated")
        if outcome == "failed":
            await self._end("failed", sip_code)
            return
        self.twilio.clock.advance(1)
        await self._event("ringing")
        if outcome == "ringing":
            return
        self.twilio.clock.advance(ring_seconds)
        if outcome != "answered":
            await self._end(outcome, sip_code)
            return
        await self._answer()
        extra = [("AnsweredBy", answered_by)] if answered_by else []
        document = parse_twiml(twiml) if twiml is not None else None
        if document is not None:
            await self._run(document, None, 0)
        elif url is not None:
            fetched = await self._fetch(url, method, extra)
            if fetched is not None:
                await self._run(*fetched, 0)
        else:
            raise SimulatorError("an outbound call needs a Url or Twiml")

    # --- the caller's actions -------------------------------------------------------------------------------------

    async def press(self, digits: str) -> None:
        """The caller presses keys at a `<Gather>` (keys after finishOnKey or beyond numDigits are not sent)."""
        gather = self._listening("press keys")
        self.twilio.clock.advance(len(digits))
        if not isinstance(gather, Gather) or "dtmf" not in gather.input:
            await self._no_input()
            return
        entered, finished_on = digits, None
        if gather.finish_on_key and gather.finish_on_key in digits:
            entered, finished_on = digits[: digits.index(gather.finish_on_key)], gather.finish_on_key
        if gather.num_digits is not None:
            entered = entered[: gather.num_digits]
        if not entered:
            await self._no_input()
            return
        params = [("Digits", entered)] + ([("FinishedOnKey", finished_on)] if finished_on else [])
        await self._submit(gather, params)

    async def say(self, text: str, *, confidence: float = 0.92) -> None:
        """The caller speaks at a `<Gather input="speech">`; Twilio posts SpeechResult and Confidence."""
        gather = self._listening("speak")
        self.twilio.clock.advance(max(1, len(text.split()) // 2))
        if not isinstance(gather, Gather) or "speech" not in gather.input:
            await self._no_input()
            return
        await self._submit(gather, [("SpeechResult", text), ("Confidence", f"{confidence:.7f}")])

    async def silence(self) -> None:
        """The caller says nothing: a `<Gather>` times out (action only with actionOnEmptyResult), a `<Record>` too."""
        self._listening("stay silent")
        await self._no_input()

    async def record(self, seconds: int = 5, *, finish_key: str | None = None, hang_up: bool = False) -> str:
        """The caller speaks for `seconds` at a `<Record>`, then presses `finish_key`, hangs up, or falls silent."""
        verb = self._listening("record")
        if not isinstance(verb, Record):
            raise SimulatorError("the call is at a <Gather>, not a <Record>")
        started_at = self.twilio.clock.now()
        duration = min(seconds, verb.max_length)
        self.twilio.clock.advance(duration)
        recording_sid = new_sid("RE")
        self.recordings.append(recording_sid)
        party = self._party()
        params = [
            ("RecordingUrl", recording_url(party.account_sid, recording_sid)),
            ("RecordingDuration", str(duration)),
            ("RecordingSid", recording_sid),
        ]
        ended_by = "hangup" if hang_up else finish_key
        if ended_by:
            params.append(("Digits", ended_by))
        _, doc_url, _ = self._resume
        if verb.recording_status_callback:
            callback = recording_callback_params(
                party,
                recording_sid=recording_sid,
                status="completed",
                duration=duration,
                started_at=started_at,
                source="RecordVerb",
            )
            target = _resolve(doc_url, verb.recording_status_callback)
            self.deliveries.append(
                await self.twilio.sender.send(target, callback, method=verb.recording_status_callback_method)
            )
        if hang_up:
            self.awaiting = None
            await self._end("completed")
            await self._deliver(_resolve(doc_url, verb.action), verb.method, params)
            return recording_sid
        await self._submit(verb, params)
        return recording_sid

    async def hangup(self) -> None:
        """The caller hangs up."""
        await self._end("completed")

    async def remote_hangup(self, status: str = "completed") -> None:
        """The call is ended from the REST API (Status=completed or canceled)."""
        await self._end(status)

    async def redirect(
        self, *, url: str | None = None, twiml: str | None = None, method: str = "POST"
    ) -> None:
        """The live call is sent new instructions from the REST API (Url or Twiml)."""
        self.awaiting = None
        if twiml is not None:
            await self._run(parse_twiml(twiml), None, 0)
        elif url is not None:
            document = await self._fetch(url, method)
            if document is not None:
                await self._run(*document, 0)

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

    # --- running TwiML -----------------------------------------------------------------------------------------------

    async def _run(self, verbs: tuple[Verb, ...], doc_url: str | None, index: int) -> None:
        while not self.hung_up and index < len(verbs):
            verb = verbs[index]
            index += 1
            if not isinstance(verb, Reject):
                await self._answer()
            if isinstance(verb, Say | Play | Pause):
                self._hear(verb)
            elif isinstance(verb, Gather | Record):
                for prompt in verb.prompts if isinstance(verb, Gather) else ():
                    self._hear(prompt)
                self.awaiting = verb
                self._resume = (verbs, doc_url, index)
                return
            elif isinstance(verb, Dial):
                document = await self._dial(verb, doc_url)
                if document is not None:
                    verbs, doc_url, index = *document, 0
            elif isinstance(verb, Redirect):
                fetched = await self._fetch(_resolve(doc_url, verb.url), verb.method)
                if fetched is None:
                    return
                verbs, doc_url, index = *fetched, 0
            elif isinstance(verb, Hangup):
                await self._end("completed")
            elif isinstance(verb, Reject):
                self.rejected = verb.reason
                await self._end("busy" if verb.reason == "busy" else "no-answer")
            elif isinstance(verb, Unsimulated):
                raise SimulatorError(f"<{verb.name}> is valid TwiML but this simulator does not play it")
        if not self.hung_up:
            await self._end("completed")

    def _hear(self, prompt: Say | Play | Pause) -> None:
        if isinstance(prompt, Say):
            self.prompts.append(prompt.text)
            self.twilio.clock.advance(max(1, len(prompt.text.split()) // 3))
        elif isinstance(prompt, Play):
            self.played.append(prompt.url)
            self.twilio.clock.advance(1)
        else:
            self.twilio.clock.advance(prompt.length)

    async def _dial(self, dial: Dial, doc_url: str | None) -> Document | None:
        self.dialed.extend(dial.targets)
        outcome = self.dial_outcome
        connected = outcome.status in ("completed", "answered")
        self.twilio.clock.advance(outcome.duration if connected else dial.timeout)
        if dial.action is None:
            return None
        params = [("DialCallStatus", outcome.status), ("DialCallSid", new_call_sid())]
        if connected:
            params.append(("DialCallDuration", str(outcome.duration)))
        params.append(("DialBridged", "true" if connected else "false"))
        if any(target.kind == "sip" for target in dial.targets):
            default_code = {"completed": 200, "answered": 200, "busy": 486, "no-answer": 487}.get(
                outcome.status, 500
            )
            params.append(("DialSipResponseCode", str(outcome.sip_code or default_code)))
        return await self._fetch(_resolve(doc_url, dial.action), dial.method, params)

    async def _submit(self, verb: Gather | Record, params: list[tuple[str, str]]) -> None:
        _, doc_url, _ = self._resume
        self.awaiting = None
        document = await self._fetch(_resolve(doc_url, verb.action), verb.method, params)
        if document is not None:
            await self._run(*document, 0)

    async def _no_input(self) -> None:
        verb = self.awaiting
        assert verb is not None
        self.twilio.clock.advance(verb.timeout)
        if isinstance(verb, Gather) and verb.action_on_empty_result:
            await self._submit(verb, [])
            return
        self.awaiting = None
        await self._run(*self._resume)

    async def _fetch(self, url: str, method: str, extra: Sequence[tuple[str, str]] = ()) -> Document | None:
        """Request TwiML; on failure use the fallback URL, else end the call as Twilio does on an application error."""
        delivery = await self._deliver(url, method, extra)
        document = self._document(delivery)
        if document is None and self.twilio.fallback_url and url != self.twilio.fallback_url:
            error = [("ErrorCode", str(self.error_code)), ("ErrorUrl", url)]
            delivery = await self._deliver(self.twilio.fallback_url, "POST", [*extra, *error])
            document = self._document(delivery)
        if document is None:
            await self._answer()
            self.prompts.append("We are sorry, an application error has occurred. Goodbye.")
            await self._end("completed")
        return document

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

    # --- status -------------------------------------------------------------------------------------------------------

    def _party(self) -> CallParty:
        if self.party is None:
            raise SimulatorError("the call has not started")
        return self.party

    def _call_status(self) -> str:
        if self.hung_up:
            return self.events[-1].status
        return "in-progress" if any(e.status == "in-progress" for e in self.events) else "ringing"

    def _listening(self, action: str) -> Gather | Record:
        if self.hung_up:
            raise SimulatorError(f"cannot {action}: the call has ended")
        if self.awaiting is None:
            raise SimulatorError(f"cannot {action}: nothing in the call is waiting for the caller")
        return self.awaiting

    async def _answer(self) -> None:
        if not any(event.status == "in-progress" for event in self.events):
            await self._event("in-progress")

    async def _end(self, status: str, sip_code: int | None = None) -> None:
        if self.hung_up:
            return
        if status not in TERMINAL:
            raise SimulatorError(f"{status!r} is not a final call status; use one of {', '.join(TERMINAL)}")
        self.hung_up = True
        self.awaiting = None
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


def _resolve(doc_url: str | None, target: str | None) -> str:
    """An action URL as Twilio resolves it: relative to the document's URL; no action means the document's URL."""
    if doc_url is None:
        if target is None or "://" not in target:
            raise SimulatorError(f"inline TwiML cannot use the relative URL {target!r}")
        return target
    return doc_url if target is None else urljoin(doc_url, target)
