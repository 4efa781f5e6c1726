"""A call played from the caller's side: TwiML run verb by verb, the caller's keys, speech, silence and recordings.

TwiML answers are run verb by verb; `<Gather>` and `<Record>` wait for the test to act as the caller (`press`,
`say`, `silence`, `record`, `hangup`). Relative URLs resolve against the document's URL, as Twilio does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin

from tests.support.twilio.call_leg import CallLeg, Document, SimulatorError
from tests.support.twilio.callbacks import CallEvent, CallParty, recording_callback_params, recording_url
from tests.support.twilio.sids import new_call_sid, new_sid
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
    Unsimulated,
    Verb,
    parse_twiml,
)

if TYPE_CHECKING:
    from tests.support.twilio.simulator import TwilioSimulator


@dataclass(frozen=True)
class DialOutcome:
    """How a `<Dial>` leg ends: DialCallStatus, its duration, and the SIP code for `<Sip>` targets."""

    status: str = "completed"
    duration: int = 30
    sip_code: int | None = None


class Conversation(CallLeg):
    """One call, seen from Twilio: what the caller heard and did, and every request made for it."""

    def __init__(
        self,
        twilio: TwilioSimulator,
        *,
        call_sid: str | None = None,
        dial_outcome: DialOutcome | None = None,
        caller_name: str | None = None,
        status_callback: str | None = None,
        status_callback_method: str = "POST",
        status_callback_events: Sequence[str] | None = None,
        auto_status_callbacks: bool = True,
        on_event: Callable[[CallEvent], Awaitable[None] | None] | None = None,
    ) -> None:
        super().__init__(
            twilio,
            call_sid=call_sid,
            status_callback=status_callback,
            status_callback_method=status_callback_method,
            status_callback_events=status_callback_events,
            auto_status_callbacks=auto_status_callbacks,
            on_event=on_event,
        )
        self.dial_outcome = dial_outcome or DialOutcome()
        self.caller_name = caller_name
        self.prompts: list[str] = []
        self.played: list[str] = []
        self.dialed: list[DialTarget] = []
        self.recordings: list[str] = []
        self.rejected: str | None = None
        self.awaiting: Gather | Record | None = None
        self._resume: tuple[tuple[Verb, ...], str | None, int] = ((), None, 0)

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
        gather = self._gathering("press keys")
        self.twilio.clock.advance(len(digits))
        if "dtmf" not in gather.input:
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
        gather = self._gathering("speak")
        self.twilio.clock.advance(max(1, len(text.split()) // 2))
        if "speech" not in gather.input:
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
                answered = any(event.status == "in-progress" for event in self.events)
                await self._end("completed" if answered else "busy" if verb.reason == "busy" else "no-answer")
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

    def _listening(self, action: str) -> Gather | Record:
        if self.hung_up:
            raise SimulatorError(f"cannot {action}: the call has ended")
        if self.awaiting is None:
            raise SimulatorError(f"cannot {action}: nothing in the call is waiting for the caller")
        return self.awaiting

    def _gathering(self, action: str) -> Gather:
        verb = self._listening(action)
        if not isinstance(verb, Gather):
            raise SimulatorError(
                f"cannot {action}: the call is recording; use record(seconds, finish_key=...)"
            )
        return verb

    async def _end(self, status: str, sip_code: int | None = None) -> None:
        self.awaiting = None
        await super()._end(status, sip_code)


def _resolve(doc_url: str | None, target: str | None) -> str:
    """An action URL as Twilio resolves it: relative to the document's URL; no action means the document's URL."""
    if doc_url is None:
        if target is None or "://" not in target:
            raise SimulatorError(f"inline TwiML cannot use the relative URL {target!r}")
        return target
    return doc_url if target is None else urljoin(doc_url, target)
